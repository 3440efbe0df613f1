"""GPT-2's weights copied in place into the model's own parameters, through a table of names."""

from __future__ import annotations

import torch


def assign(left, right):
    if tuple(left.shape) != tuple(right.shape):
        raise ValueError(f"shape {tuple(right.shape)} does not fit {tuple(left.shape)}")
    return torch.nn.Parameter(right.detach().clone())


def _sources(params, n_layers):
    """{the book's parameter: GPT-2's tensor, already in nn.Linear's layout}."""
    table = {
        "tok_emb.weight": params["wte.weight"],
        "pos_emb.weight": params["wpe.weight"],
        "final_norm.scale": params["ln_f.weight"],
        "final_norm.shift": params["ln_f.bias"],
        "out_head.weight": params["wte.weight"],
    }
    for i in range(n_layers):
        h, b = f"h.{i}.", f"trf_blocks.{i}."
        emb = params[h + "attn.c_attn.weight"].shape[0]
        for k, name in enumerate(("W_query", "W_key", "W_value")):
            table[f"{b}att.{name}.weight"] = params[h + "attn.c_attn.weight"][:, k * emb : (k + 1) * emb].t()
            table[f"{b}att.{name}.bias"] = params[h + "attn.c_attn.bias"][k * emb : (k + 1) * emb]
        for ours, theirs in (("att.out_proj", "attn.c_proj"), ("ff.layers.0", "mlp.c_fc"), ("ff.layers.2", "mlp.c_proj")):
            table[f"{b}{ours}.weight"] = params[f"{h}{theirs}.weight"].t()
            table[f"{b}{ours}.bias"] = params[f"{h}{theirs}.bias"]
        for ours, theirs in (("norm1", "ln_1"), ("norm2", "ln_2")):
            table[f"{b}{ours}.scale"] = params[f"{h}{theirs}.weight"]
            table[f"{b}{ours}.shift"] = params[f"{h}{theirs}.bias"]
    return table


def load_weights_into_gpt(gpt, params):
    own = dict(gpt.named_parameters())
    with torch.no_grad():
        for name, value in _sources(params, len(gpt.trf_blocks)).items():
            if own[name].shape != value.shape:
                raise ValueError(f"{name}: shape {tuple(value.shape)} does not fit {tuple(own[name].shape)}")
            own[name].copy_(value)
