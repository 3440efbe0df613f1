"""Loading GPT-2's weights as the book's repository does from Hugging Face's safetensors files
(ch05/02_alternative_weight_loading): assign and load_weights_into_gpt."""

import torch


def assign(left, right):
    """right as a Parameter of left's shape: (1024, 768) and (1024, 768) -> Parameter; else ValueError"""
    if left.shape != right.shape:
        raise ValueError(f"Shape mismatch. Left: {left.shape}, Right: {right.shape}")
    return torch.nn.Parameter(right.clone().detach())


def load_weights_into_gpt(gpt, params):
    """params by Hugging Face name into gpt: c_attn.weight (768, 2304) -> q, k, v (768, 768) each, transposed"""
    gpt.pos_emb.weight = assign(gpt.pos_emb.weight, params["wpe.weight"])
    gpt.tok_emb.weight = assign(gpt.tok_emb.weight, params["wte.weight"])

    for b in range(len(gpt.trf_blocks)):
        block = gpt.trf_blocks[b]  # the book writes gpt.trf_blocks[b] in full each time
        q_w, k_w, v_w = torch.chunk(params[f"h.{b}.attn.c_attn.weight"], 3, axis=-1)  # 3 x (emb, emb)
        block.att.W_query.weight = assign(block.att.W_query.weight, q_w.T)
        block.att.W_key.weight = assign(block.att.W_key.weight, k_w.T)
        block.att.W_value.weight = assign(block.att.W_value.weight, v_w.T)

        q_b, k_b, v_b = torch.chunk(params[f"h.{b}.attn.c_attn.bias"], 3, axis=-1)  # 3 x (emb,)
        block.att.W_query.bias = assign(block.att.W_query.bias, q_b)
        block.att.W_key.bias = assign(block.att.W_key.bias, k_b)
        block.att.W_value.bias = assign(block.att.W_value.bias, v_b)

        block.att.out_proj.weight = assign(
            block.att.out_proj.weight, params[f"h.{b}.attn.c_proj.weight"].T
        )
        block.att.out_proj.bias = assign(block.att.out_proj.bias, params[f"h.{b}.attn.c_proj.bias"])

        block.ff.layers[0].weight = assign(block.ff.layers[0].weight, params[f"h.{b}.mlp.c_fc.weight"].T)
        block.ff.layers[0].bias = assign(block.ff.layers[0].bias, params[f"h.{b}.mlp.c_fc.bias"])
        block.ff.layers[2].weight = assign(
            block.ff.layers[2].weight, params[f"h.{b}.mlp.c_proj.weight"].T
        )
        block.ff.layers[2].bias = assign(block.ff.layers[2].bias, params[f"h.{b}.mlp.c_proj.bias"])

        block.norm1.scale = assign(block.norm1.scale, params[f"h.{b}.ln_1.weight"])
        block.norm1.shift = assign(block.norm1.shift, params[f"h.{b}.ln_1.bias"])
        block.norm2.scale = assign(block.norm2.scale, params[f"h.{b}.ln_2.weight"])
        block.norm2.shift = assign(block.norm2.shift, params[f"h.{b}.ln_2.bias"])

    gpt.final_norm.scale = assign(gpt.final_norm.scale, params["ln_f.weight"])
    gpt.final_norm.shift = assign(gpt.final_norm.shift, params["ln_f.bias"])
    gpt.out_head.weight = assign(gpt.out_head.weight, params["wte.weight"])  # weight tying
