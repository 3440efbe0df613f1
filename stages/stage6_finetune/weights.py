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
    # TODO: raise ValueError on a shape mismatch; return a Parameter holding a detached copy of right
    raise NotImplementedError('raise ValueError on a shape mismatch; return a Parameter holding a detached copy of right')


def load_weights_into_gpt(gpt, params):
    """Copy GPT-2's tensors (Hugging Face names) into gpt, a GPTModel, in place.

    Example: c_attn.weight of shape (768, 2304) splits along its last dim into q, k, v of
    (768, 768) each, in that order; W_query.weight gets q.T. out_head.weight gets wte.weight.
    """
    # TODO: embeddings; per block split c_attn into q, k, v (dim -1) and transpose every Conv1D weight; norms; tied head
    raise NotImplementedError('embeddings; per block split c_attn into q, k, v (dim -1) and transpose every Conv1D weight; norms; tied head')
