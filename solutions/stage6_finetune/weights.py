"""Loading OpenAI's GPT-2 weights into your GPTModel, from Hugging Face's safetensors layout.

`params` maps Hugging Face's names to tensors, as safetensors.torch.load_file("model.safetensors")
returns them for "gpt2": wte.weight (vocab, emb), wpe.weight (context, emb), and per block N
h.N.ln_1.{weight,bias}, h.N.attn.c_attn.{weight,bias} (queries, keys and values side by side:
weight (emb, 3 * emb)), h.N.attn.c_proj, h.N.ln_2, h.N.mlp.c_fc, h.N.mlp.c_proj, then
ln_f.{weight,bias}. GPT-2's layers are Conv1D: weight (in, out), the transpose of nn.Linear's
(out, in). GPT-2 has no separate output head: it reuses wte.weight (tied weights).
The model needs qkv_bias=True (GPT-2 has query, key and value biases).
"""

from __future__ import annotations

import torch


def assign(left, right):
    """right as a new nn.Parameter, after checking it has left's shape.

    Example: assign(model.pos_emb.weight, params["wpe.weight"]) with shapes (1024, 768) both.
    """
    # BEGIN SOLUTION: raise ValueError on a shape mismatch; return a Parameter holding a detached copy of right
    if left.shape != right.shape:
        raise ValueError(f"Shape mismatch. Left: {tuple(left.shape)}, Right: {tuple(right.shape)}")
    return torch.nn.Parameter(right.clone().detach().to(left.dtype))
    # END SOLUTION


def load_weights_into_gpt(gpt, params):
    """Copy GPT-2's tensors (Hugging Face names) into gpt, a GPTModel, in place.

    Example: c_attn.weight of shape (768, 2304) splits along its last dim into q, k, v of
    (768, 768) each, in that order; W_query.weight gets q.T. out_head.weight gets wte.weight.
    """
    # BEGIN SOLUTION: embeddings; per block split c_attn into q, k, v (dim -1) and transpose every Conv1D weight; norms; tied head
    gpt.pos_emb.weight = assign(gpt.pos_emb.weight, params["wpe.weight"])
    gpt.tok_emb.weight = assign(gpt.tok_emb.weight, params["wte.weight"])

    for b in range(len(gpt.trf_blocks)):
        block = gpt.trf_blocks[b]
        q_w, k_w, v_w = torch.chunk(params[f"h.{b}.attn.c_attn.weight"], 3, dim=-1)  # 3 x (emb, emb)
        block.att.W_query.weight = assign(block.att.W_query.weight, q_w.T)
        block.att.W_key.weight = assign(block.att.W_key.weight, k_w.T)
        block.att.W_value.weight = assign(block.att.W_value.weight, v_w.T)

        q_b, k_b, v_b = torch.chunk(params[f"h.{b}.attn.c_attn.bias"], 3, dim=-1)  # 3 x (emb,)
        block.att.W_query.bias = assign(block.att.W_query.bias, q_b)
        block.att.W_key.bias = assign(block.att.W_key.bias, k_b)
        block.att.W_value.bias = assign(block.att.W_value.bias, v_b)

        block.att.out_proj.weight = assign(block.att.out_proj.weight, params[f"h.{b}.attn.c_proj.weight"].T)
        block.att.out_proj.bias = assign(block.att.out_proj.bias, params[f"h.{b}.attn.c_proj.bias"])

        block.ff.layers[0].weight = assign(block.ff.layers[0].weight, params[f"h.{b}.mlp.c_fc.weight"].T)
        block.ff.layers[0].bias = assign(block.ff.layers[0].bias, params[f"h.{b}.mlp.c_fc.bias"])
        block.ff.layers[2].weight = assign(block.ff.layers[2].weight, params[f"h.{b}.mlp.c_proj.weight"].T)
        block.ff.layers[2].bias = assign(block.ff.layers[2].bias, params[f"h.{b}.mlp.c_proj.bias"])

        block.norm1.scale = assign(block.norm1.scale, params[f"h.{b}.ln_1.weight"])
        block.norm1.shift = assign(block.norm1.shift, params[f"h.{b}.ln_1.bias"])
        block.norm2.scale = assign(block.norm2.scale, params[f"h.{b}.ln_2.weight"])
        block.norm2.shift = assign(block.norm2.shift, params[f"h.{b}.ln_2.bias"])

    gpt.final_norm.scale = assign(gpt.final_norm.scale, params["ln_f.weight"])
    gpt.final_norm.shift = assign(gpt.final_norm.shift, params["ln_f.bias"])
    gpt.out_head.weight = assign(gpt.out_head.weight, params["wte.weight"])  # tied to the embedding
    # END SOLUTION
