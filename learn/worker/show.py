"""Probes for `learn show`: they run in the worker, on the learner's code, and return plain data."""

from __future__ import annotations

import zlib

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
    import torch

    from learn.judge.checking import expect

    n, d = len(tokens), D_MODEL
    words = torch.stack([
        torch.randn(d, generator=torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(t.lower().encode())))
        for t in tokens
    ])  # (T, D_MODEL): the same word always gets the same vector  # fmt: skip
    positions = torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) * 0.5  # (T, D_MODEL)
    x = torch.cat([words + positions, torch.eye(n)], dim=-1).unsqueeze(0)  # (1, T, D_MODEL + T)

    torch.manual_seed(seed)
    mha = learner.MultiHeadAttention(d_in=d + n, d_out=heads * n, context_length=n, dropout=0.0, num_heads=heads)
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
        out = mha(x)
    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (1, n, heads * n),
           "MultiHeadAttention's output", f"shape {(1, n, heads * n)} (B, T, d_out)", str(got))  # fmt: skip
    expect(bool(torch.isfinite(out).all()), "MultiHeadAttention's output", "finite values",
           "NaN or inf: is a whole row of scores masked?")  # fmt: skip
    return out[0].view(n, heads, n).transpose(0, 1).tolist()  # (T, heads, T) -> (heads, T, T)
