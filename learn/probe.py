"""The learner's side of `learn show`: runs in a fresh process with the learner's tree first on
the import path (learn/cli/show.py starts it), never in the CLI's own process.

    python -m learn.probe REQUEST.json

REQUEST names the stage, the tokens, the number of heads, the seed and where to write the result:
{"weights": [head][query][key]}, or {"error": one line} for any failure of the learner's code.

How the weights are read. Through the learner's forward alone, with no hook: the module is built
with d_in = 16 + T and d_out = heads * T (so head_dim = T), the last T input features are one-hot
positions, W_value copies them into every head (token j's value is e_j) and out_proj is the
identity. Each context vector is then sum_j w_ij e_j: output[0, i, h * T + j] is exactly head h's
weight of query i on key j. The graded checks read weights the same way.

This is a module of its own, not part of learn/cli/show.py, so that the learner's process imports
neither the CLI (typer, rich) nor matplotlib.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from learn.isolation import explain

D_MODEL = 16  # the width of each token's random vector


def _attention_weights(package: str, tokens: list[str], heads: int, seed: int) -> list:
    """The learner's MultiHeadAttention weights (heads, T, T), read through forward (see the top)."""
    import importlib
    import zlib

    import torch

    mod = importlib.import_module(package)
    n, d = len(tokens), D_MODEL
    words = torch.stack([
        torch.randn(d, generator=torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(t.lower().encode())))
        for t in tokens
    ])  # (T, D_MODEL): the same word always gets the same vector  # fmt: skip
    positions = torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) * 0.5  # (T, D_MODEL)
    x = torch.cat([words + positions, torch.eye(n)], dim=-1).unsqueeze(0)  # (1, T, D_MODEL + T)

    torch.manual_seed(seed)
    mha = mod.MultiHeadAttention(d_in=d + n, d_out=heads * n, context_length=n, dropout=0.0, num_heads=heads)
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
            value[h * n:(h + 1) * n, d:] = torch.eye(n)  # token j's value is e_j in every head
        mha.W_value.weight.copy_(value)
        if mha.W_value.bias is not None:
            mha.W_value.bias.zero_()
        mha.out_proj.weight.copy_(torch.eye(heads * n))
        mha.out_proj.bias.zero_()
        out = mha(x)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, n, heads * n):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise _Wrong(f"MultiHeadAttention returned {got}, expected shape {(1, n, heads * n)} (B, T, d_out)")
    if not bool(torch.isfinite(out).all()):
        raise _Wrong("MultiHeadAttention returned NaN or inf: is a whole row of scores masked?")
    return out[0].view(n, heads, n).transpose(0, 1).tolist()  # (T, heads, T) -> (heads, T, T)


class _Wrong(Exception):
    """The learner's code ran but its result can't be drawn."""


def _explain(e: BaseException, stage: str) -> str:
    """One line about the learner's failure, with what to run next."""
    if isinstance(e, _Wrong):
        return f"{e}; `learn check {stage}` tells you more"
    if isinstance(e, NotImplementedError):
        return f"{stage} is {explain(e)}; write it, then run `learn check {stage}`"
    return f"{explain(e)}; `learn check {stage}` tells you more"


def _worker(request_path: str) -> int:
    request = json.loads(Path(request_path).read_text(encoding="utf-8"))
    try:
        result = {"weights": _attention_weights(request["package"], request["tokens"], request["heads"], request["seed"])}
    except BaseException as e:  # the learner's bugs, SystemExit and KeyboardInterrupt included
        result = {"error": " ".join(_explain(e, request["stage"]).split())}
    Path(request["result"]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":  # python -m learn.probe REQUEST, with the learner's tree first
    sys.exit(_worker(sys.argv[1]))
