"""Probes for `learn show`: they run in the worker, on the learner's code, and return plain data."""

from __future__ import annotations

import zlib

import torch

from learn.engine.calls import call
from learn.engine.loading import encode, load_model, load_tokenizer
from learn.shared.checking import expect

D_MODEL = 16  # the width of each token's random vector


def probe_attention_weights(learner, tokens: list[str], heads: int, seed: int) -> list:
    """The learner's MultiHeadAttention weights [head][query][key] as lists, read through forward
    alone (plain lists: the CLI that draws them never imports torch).

    The module is built with d_in = D_MODEL + T and d_out = heads * T (so head_dim = T); the last
    T input features are one-hot positions, W_value copies them into every head (token j's value
    is e_j) and out_proj is the identity. Each context vector is then sum_j w_ij e_j, so
    output[0, i, h * T + j] is exactly head h's weight of query i on key j. The graded checks of
    stage 3 read weights the same way.
    """
    n, d = len(tokens), D_MODEL
    words = torch.stack([
        torch.randn(d, generator=torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(t.lower().encode())))
        for t in tokens
    ])  # (T, D_MODEL): the same word always gets the same vector  # fmt: skip
    positions = torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) * 0.5  # (T, D_MODEL)
    x = torch.cat([words + positions, torch.eye(n)], dim=-1).unsqueeze(0)  # (1, T, D_MODEL + T)

    torch.manual_seed(seed)
    mha = call(learner.MultiHeadAttention, d_in=d + n, d_out=heads * n, context_length=n, dropout=0.0, num_heads=heads,
               qkv_bias=False)  # as every check passes it
    mha.eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for lin in (mha.W_query, mha.W_key):
            w = torch.zeros(heads * n, d + n)
            w[:, :d] = torch.randn(heads * n, d, generator=g) * (1.5 / d) ** 0.5  # only the token vectors
            lin.weight.copy_(w)
            if lin.bias is not None:
                lin.bias.zero_()
        value = torch.zeros(heads * n, d + n)
        for h in range(heads):
            value[h * n : (h + 1) * n, d:] = torch.eye(n)  # token j's value is e_j in every head
        mha.W_value.weight.copy_(value)
        if mha.W_value.bias is not None:
            mha.W_value.bias.zero_()
        mha.out_proj.weight.copy_(torch.eye(heads * n))
        mha.out_proj.bias.zero_()
        out = call(mha, x)
    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (1, n, heads * n),
           "MultiHeadAttention's output", f"shape {(1, n, heads * n)} (B, T, d_out)", str(got))  # fmt: skip
    expect(bool(torch.isfinite(out).all()), "MultiHeadAttention's output", "finite values",
           "NaN or inf: is a whole row of scores masked?")  # fmt: skip
    return out[0].view(n, heads, n).transpose(0, 1).tolist()  # (T, heads, T) -> (heads, T, T)


def probe_trained_attention(learner, checkpoint: str, tokenizer: bytes | None, sentence: str, layer: int) -> dict:
    """{"tokens": [str], "weights": [head][query][key]} of a pretraining run's model on a sentence,
    in its tokens: the attention of transformer block `layer` (negative counts from the end).

    The block's MultiHeadAttention is run by the learner's GPTModel; a hook takes the input it gets
    (the layer-normed hidden states) and the weights follow from its own W_query and W_key, as the
    book computes them: softmax((q k^T masked above the diagonal) / sqrt(head_dim)), per head.
    """
    model, config = load_model(checkpoint)
    tok = load_tokenizer(tokenizer)
    ids = encode(tok, sentence)
    expect(0 < len(ids) <= config["context_length"], "the sentence", "between 1 token and the context length", f"{len(ids)} tokens")
    blocks = list(model.trf_blocks)
    expect(-len(blocks) <= layer < len(blocks), "--layer", f"between {-len(blocks)} and {len(blocks) - 1}", str(layer))
    att = blocks[layer].att
    seen = []

    def take_input(module, args, kwargs):  # the block may call self.att(x) or self.att(x=x)
        seen.append((args[0] if args else next(iter(kwargs.values()))).detach())

    hook = att.register_forward_pre_hook(take_input, with_kwargs=True)
    with torch.no_grad():
        call(model, torch.tensor([ids]))  # (1, T)
        hook.remove()
        x = seen[0].float()  # (1, T, emb_dim)
        n, heads = len(ids), att.num_heads
        q = att.W_query(x).view(1, n, heads, -1).transpose(1, 2)  # (1, heads, T, head_dim)
        k = att.W_key(x).view(1, n, heads, -1).transpose(1, 2)  # (1, heads, T, head_dim)
        scores = q @ k.transpose(2, 3) / k.shape[-1] ** 0.5  # (1, heads, T, T)
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)[0]  # (heads, T, T)
    return {"tokens": [call(tok.decode, [i]) for i in ids], "weights": weights.tolist()}
