"""Graded checks for stage 3, causal and multi-head attention (lessons/stage3_attention.md).

Each check's points, lesson idea and hint live in curriculum.toml. The oracle is
torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True), fed the learner's own
W_query, W_key and W_value (weights and biases, by the book's names), heads split the book's way,
then the learner's out_proj. Nothing here depends on how the learner wrote forward.

The attention weights themselves are read through forward, with no hook: a "probe" gives the
module one-hot positions as extra input features, sets W_value to copy them (token j's value is
the one-hot vector e_j in every head) and out_proj to the identity. Then each context vector is
sum_j w_ij e_j, so output[b, i, h * T + j] is exactly head h's weight of query i on key j.
"""

import math

import torch
import torch.nn.functional as F

from learn.checking import expect, expect_close, expect_equal

B, T, CONTEXT, D_IN, D_OUT, HEADS = 2, 5, 7, 6, 8, 2  # T < CONTEXT on purpose: the mask is cut
FEATURES = 4  # the probe's random input features, beside its T one-hot position features


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def part(module, name: str):
    """module.<name>, or a failure that names the book's attribute."""
    kind = type(module).__name__
    expect(hasattr(module, name), f"{kind} needs the attribute {name} (the book's name)", name, "no such attribute")
    return getattr(module, name)


def linear(module, name: str):
    lin = part(module, name)
    expect(isinstance(getattr(lin, "weight", None), torch.Tensor), f"{type(module).__name__}.{name} should be an nn.Linear",
           "nn.Linear", type(lin).__name__)  # fmt: skip
    return lin


def randomize(module, seed: int, out_proj: bool) -> None:
    """Known weights (and biases, where present) for every projection, scaled so that the
    attention scores are of order 1: the checks never depend on the learner's random draws."""
    g = gen(seed)
    names = ["W_query", "W_key", "W_value"] + (["out_proj"] if out_proj else [])
    with torch.no_grad():
        for name in names:
            lin = linear(module, name)
            d_out, d_in = lin.weight.shape
            lin.weight.copy_(torch.randn(d_out, d_in, generator=g) * math.sqrt(1.5 / d_in))
            if lin.bias is not None:
                lin.bias.copy_(torch.randn(d_out, generator=g) * 0.5)


def run(module, x: torch.Tensor, d_out: int) -> torch.Tensor:
    """module(x), checked to be a finite tensor of shape (B, T, d_out)."""
    kind = type(module).__name__
    out = module(x)
    expect(isinstance(out, torch.Tensor), f"{kind}(x) should return a tensor", "torch.Tensor", type(out).__name__)
    shape = (x.shape[0], x.shape[1], d_out)
    expect_equal(tuple(out.shape), shape, f"{kind}(x) with x of shape {tuple(x.shape)}: output shape (B, T, d_out)")
    expect(bool(torch.isfinite(out).all()), f"{kind}(x) has NaN or inf values: is a whole row of scores masked, "
           "or did -inf reach a multiplication?", "finite values", "NaN/inf")  # fmt: skip
    return out


def mha(learner, d_in=D_IN, d_out=D_OUT, context_length=CONTEXT, dropout=0.0, num_heads=HEADS, qkv_bias=False, seed=0):
    torch.manual_seed(seed)
    m = learner.MultiHeadAttention(d_in=d_in, d_out=d_out, context_length=context_length, dropout=dropout,
                                   num_heads=num_heads, qkv_bias=qkv_bias)  # fmt: skip
    m.eval()
    return m


def causal(learner, d_in=D_IN, d_out=D_OUT, context_length=CONTEXT, dropout=0.0, qkv_bias=False, seed=0):
    torch.manual_seed(seed)
    m = learner.CausalAttention(d_in=d_in, d_out=d_out, context_length=context_length, dropout=dropout, qkv_bias=qkv_bias)
    m.eval()
    return m


# ----------------------------------------------------------------------------------- oracles


def split_heads(t: torch.Tensor, num_heads: int) -> torch.Tensor:
    b, n, d = t.shape
    return t.view(b, n, num_heads, d // num_heads).transpose(1, 2)  # (B, H, T, head_dim)


def reference(x, num_heads, wq, bq, wk, bk, wv, bv, wo=None, bo=None) -> torch.Tensor:
    """Causal attention by torch's own kernel; out_proj only when wo is given (MultiHeadAttention)."""
    q, k, v = (split_heads(F.linear(x, w, b), num_heads) for w, b in ((wq, bq), (wk, bk), (wv, bv)))
    ctx = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, head_dim)
    ctx = ctx.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)  # (B, T, d_out)
    return ctx if wo is None else F.linear(ctx, wo, bo)


def reference_for(module, x, num_heads) -> torch.Tensor:
    """The oracle fed the learner's own projections (by the book's names)."""
    q, k, v = (linear(module, n) for n in ("W_query", "W_key", "W_value"))
    args = [q.weight, q.bias, k.weight, k.bias, v.weight, v.bias]
    if num_heads is not None:
        o = linear(module, "out_proj")
        args += [o.weight, o.bias]
    return reference(x, num_heads or 1, *args)


def weight_candidates(module, x, num_heads):
    """The right attention weights (B, H, T, T) and the weights of common mistakes, by name."""
    q = split_heads(F.linear(x, module.W_query.weight, module.W_query.bias), num_heads)
    k = split_heads(F.linear(x, module.W_key.weight, module.W_key.bias), num_heads)
    s = q @ k.transpose(-1, -2)  # (B, H, T, T)
    n, head_dim = s.shape[-1], q.shape[-1]
    future = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
    past = torch.tril(torch.ones(n, n, dtype=torch.bool), diagonal=-1)
    root = math.sqrt(head_dim)
    right = torch.softmax(s.masked_fill(future, -torch.inf) / root, dim=-1)
    mistakes = {
        "no 1/sqrt(head_dim) scaling": torch.softmax(s.masked_fill(future, -torch.inf), dim=-1),
        "scores divided by head_dim instead of sqrt(head_dim)": torch.softmax(s.masked_fill(future, -torch.inf) / head_dim, dim=-1),
        "softmax over the wrong axis (dim=-2, the queries)": torch.softmax(s.masked_fill(future, -torch.inf) / root, dim=-2),
        "future scores set to 0 instead of -inf": torch.softmax(s.masked_fill(future, 0.0) / root, dim=-1),
        "no causal mask at all": torch.softmax(s / root, dim=-1),
        "weights zeroed after the softmax, so rows no longer sum to 1": torch.softmax(s / root, dim=-1).masked_fill(future, 0.0),
        "the mask hides the past instead of the future (tril instead of triu)": torch.softmax(s.masked_fill(past, -torch.inf) / root, dim=-1),
    }  # fmt: skip
    if num_heads > 1:
        d_out = num_heads * head_dim
        mistakes["scores divided by sqrt(d_out) instead of sqrt(head_dim)"] = torch.softmax(s.masked_fill(future, -torch.inf) / math.sqrt(d_out), dim=-1)
    return right, mistakes


# ------------------------------------------------------------------------------------- probe


def probe(make, num_heads, multihead, n=T, seed=1):
    """A module whose output (B, n, num_heads * n) holds its own attention weights (see the top).

    `make(d_in, d_out)` builds the learner's module; context_length stays above n. Returns the
    module, its input x and a function that reads the weights (B, H, n, n) off an output."""
    d_in, d_out = FEATURES + n, num_heads * n
    m = make(d_in, d_out)
    randomize(m, seed, out_proj=multihead)
    with torch.no_grad():
        value = torch.zeros(d_out, d_in)
        for h in range(num_heads):
            value[h * n:(h + 1) * n, FEATURES:] = torch.eye(n)  # token j's value is e_j in every head
        m.W_value.weight.copy_(value)
        if m.W_value.bias is not None:
            m.W_value.bias.zero_()
        if multihead:
            m.out_proj.weight.copy_(torch.eye(d_out))
            m.out_proj.bias.zero_()
    feats = torch.randn(B, n, FEATURES, generator=gen(seed + 1)) * 1.5
    x = torch.cat([feats, torch.eye(n).expand(B, n, n)], dim=-1)  # (B, n, FEATURES + n)

    def read(out):
        return out.view(B, n, num_heads, n).transpose(1, 2)  # (B, H, query i, key j)

    return m, x, read


def probes(learner, dropout=0.0):
    """(name, module, x, read, num_heads) for a CausalAttention and a MultiHeadAttention probe."""
    ca = probe(lambda d_in, d_out: causal(learner, d_in, d_out, dropout=dropout), 1, multihead=False)
    mh = probe(lambda d_in, d_out: mha(learner, d_in, d_out, dropout=dropout, num_heads=HEADS), HEADS, multihead=True)
    return [("CausalAttention", *ca, 1), ("MultiHeadAttention", *mh, HEADS)]


# ------------------------------------------------------------------------------------ checks


def test_causal_attention_output_shape(learner):
    for d_in, d_out in ((D_IN, D_OUT), (3, 2)):
        m = causal(learner, d_in=d_in, d_out=d_out)
        for n in (CONTEXT, T, 1):
            run(m, torch.randn(B, n, d_in), d_out)


def test_causal_attention_matches_reference(learner):
    m = causal(learner)
    randomize(m, seed=2, out_proj=False)
    x = torch.randn(B, T, D_IN, generator=gen(3))
    with torch.no_grad():
        got = run(m, x, D_OUT)
        expect_close(got, reference_for(m, x, None), "CausalAttention(x) vs softmax(mask(q k^T) / sqrt(d_out)) v")


def test_multihead_output_shape(learner):
    for d_in, d_out, heads in ((D_IN, D_OUT, HEADS), (3, 12, 4), (5, 6, 1)):
        m = mha(learner, d_in=d_in, d_out=d_out, num_heads=heads)
        for n in (CONTEXT, T, 1):
            run(m, torch.randn(B, n, d_in), d_out)
    m = mha(learner, d_in=3, d_out=12, num_heads=4)
    for name, value in (("d_out", 12), ("num_heads", 4), ("head_dim", 3)):
        expect_equal(part(m, name), value, f"MultiHeadAttention(d_in=3, d_out=12, ..., num_heads=4).{name}")


def test_rejects_indivisible_heads(learner):
    mha(learner, d_out=6, num_heads=3)  # divisible: must work
    for d_out, heads in ((5, 2), (8, 3)):
        try:
            mha(learner, d_out=d_out, num_heads=heads)
        except (AssertionError, ValueError):
            continue
        expect(False, f"MultiHeadAttention(d_out={d_out}, num_heads={heads}) should refuse to build",
               "AssertionError or ValueError: d_out must be divisible by num_heads", "a module was built")  # fmt: skip


def test_future_tokens_never_change_the_past(learner):
    modules = [("CausalAttention", causal(learner)), ("MultiHeadAttention", mha(learner))]
    for kind, m in modules:
        randomize(m, seed=4, out_proj=kind == "MultiHeadAttention")
        x = torch.randn(B, CONTEXT, D_IN, generator=gen(5))
        with torch.no_grad():
            full = run(m, x, D_OUT)
            for t in (1, 3, CONTEXT - 1):
                changed = x.clone()
                changed[:, t:] = torch.randn(B, CONTEXT - t, D_IN, generator=gen(6 + t)) * 3
                expect_close(run(m, changed, D_OUT)[:, :t], full[:, :t],
                             f"{kind}: outputs at positions 0..{t - 1} after changing only tokens {t}.. "
                             "(the future must not leak into the past)", atol=1e-6)  # fmt: skip
                expect_close(run(m, x[:, :t], D_OUT), full[:, :t],
                             f"{kind}(x[:, :{t}]) vs {kind}(x)[:, :{t}] (a prefix must give the same outputs)",
                             atol=1e-6)  # fmt: skip


def test_weights_above_diagonal_are_zero(learner):
    for kind, m, x, read, heads in probes(learner):
        with torch.no_grad():
            w = read(run(m, x, heads * T))  # (B, H, T, T)
        above = w.masked_select(torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1).expand_as(w))
        expect(bool((above == 0).all()), f"{kind}: attention weights of query i on keys j > i (the future)",
               "exactly 0", f"max |weight| {above.abs().max().item():.3g}")  # fmt: skip
        sums = w.sum(dim=-1)
        expect_close(sums, torch.ones_like(sums), f"{kind}: the attention weights of each query summed over keys", atol=1e-5)


def test_attention_weights_match_reference(learner):
    for kind, m, x, read, heads in probes(learner):
        with torch.no_grad():
            got = read(run(m, x, heads * T))
            right, mistakes = weight_candidates(m, x, heads)
        if not torch.allclose(got, right, atol=1e-5, rtol=1e-4):
            seen = [why for why, w in mistakes.items() if torch.allclose(got, w, atol=1e-5, rtol=1e-4)]
            if seen:
                expect(False, f"{kind}: attention weights (probed through forward) look like a known mistake",
                       "softmax(mask(q k^T) / sqrt(head_dim), dim=-1)", seen[0])  # fmt: skip
        expect_close(got, right, f"{kind}: attention weights (B, heads, query, key), probed through forward")


def test_multihead_matches_reference(learner):
    for d_in, d_out, heads in ((D_IN, D_OUT, HEADS), (3, 12, 4)):
        m = mha(learner, d_in=d_in, d_out=d_out, num_heads=heads)
        randomize(m, seed=7, out_proj=True)
        x = torch.randn(B, T, d_in, generator=gen(8))
        with torch.no_grad():
            got = run(m, x, d_out)
            expect_close(got, reference_for(m, x, heads),
                         f"MultiHeadAttention(d_out={d_out}, num_heads={heads}) vs per-head causal attention, merged, then out_proj")  # fmt: skip


def test_dropout_on_weights_in_train_only(learner):
    """Graded against the learner's own eval() output, so that only dropout is judged here."""
    p, offset = 0.5, 1.0
    for kind, m, x, read, heads in probes(learner, dropout=p):
        shift = offset if heads > 1 else 0.0
        with torch.no_grad():
            if heads > 1:
                m.out_proj.bias.fill_(offset)  # dropout after out_proj would drop this offset too
            m.eval()
            first, second = (run(m, x, heads * T) for _ in range(2))
            expect(torch.equal(first, second), f"{kind}(dropout={p}) in eval() mode: two calls on the same input",
                   "the same output (dropout is off in eval)", "different outputs")  # fmt: skip
            m.train()
            torch.manual_seed(9)
            got = run(m, x, heads * T) - shift
        w = first - shift  # (B, T, H * T): the weights without dropout, laid out like the output
        kept = torch.isclose(got, w / (1 - p), atol=1e-5)
        dropped = torch.isclose(got, torch.zeros_like(got), atol=1e-6)
        expect(bool((kept | dropped).all()), f"{kind}(dropout={p}) in train() mode: each attention weight",
               "either 0 (dropped) or weight / (1 - p) = 2 * weight (kept): dropout acts on the weights",
               "other values: is dropout applied to the scores, the values or the output?")  # fmt: skip
        live = w > 1e-3
        expect(bool((dropped & live).any()) and bool((kept & live & ~dropped).any()),
               f"{kind}(dropout={p}) in train() mode", "some weights dropped and some kept",
               f"{int((dropped & live).sum())} of {int(live.sum())} dropped")  # fmt: skip


def book_state_dict(d_in, d_out, context_length, qkv_bias, heads, seed=10) -> dict:
    """Random tensors under exactly the keys and shapes of the book's class."""
    g = gen(seed)
    sd = {}
    for name in ("W_query", "W_key", "W_value"):
        sd[f"{name}.weight"] = torch.randn(d_out, d_in, generator=g) * math.sqrt(1.5 / d_in)
        if qkv_bias:
            sd[f"{name}.bias"] = torch.randn(d_out, generator=g) * 0.5
    if heads is not None:
        sd["out_proj.weight"] = torch.randn(d_out, d_out, generator=g) / math.sqrt(d_out)
        sd["out_proj.bias"] = torch.randn(d_out, generator=g) * 0.1
    sd["mask"] = torch.triu(torch.ones(context_length, context_length), diagonal=1)
    return sd


def test_state_dict_matches_the_book(learner):
    for qkv_bias in (False, True):
        for kind, heads in (("MultiHeadAttention", HEADS), ("CausalAttention", None)):
            m = mha(learner, qkv_bias=qkv_bias) if heads else causal(learner, qkv_bias=qkv_bias)
            book = book_state_dict(D_IN, D_OUT, CONTEXT, qkv_bias, heads)
            mine = m.state_dict()
            expect_equal(sorted(mine), sorted(book), f"{kind}(qkv_bias={qkv_bias}).state_dict() keys")
            shapes = {k: tuple(v.shape) for k, v in mine.items()}
            expect_equal(shapes, {k: tuple(v.shape) for k, v in book.items()}, f"{kind}(qkv_bias={qkv_bias}).state_dict() shapes")
            expect_equal((mine["mask"] != 0).tolist(), (book["mask"] != 0).tolist(),
                         f"{kind}: where the mask buffer is nonzero (True = hidden: strictly above the diagonal)")  # fmt: skip
            try:
                m.load_state_dict(book, strict=True)
            except RuntimeError as e:
                expect(False, f"{kind}.load_state_dict(the book's state_dict, strict=True)", "it loads", str(e))
            loaded = m.state_dict()
            for key in ("W_query.weight", "W_value.weight", "out_proj.weight", "W_key.bias"):
                if key in book:
                    expect(torch.equal(loaded[key], book[key]), f"{kind}: {key} after loading the book's state_dict",
                           "the loaded tensor", "another tensor")  # fmt: skip


def test_qkv_bias_honoured(learner):
    for kind, heads in (("MultiHeadAttention", HEADS), ("CausalAttention", None)):
        make = (lambda b: mha(learner, qkv_bias=b)) if heads else (lambda b: causal(learner, qkv_bias=b))
        plain = make(False)
        for name in ("W_query", "W_key", "W_value"):
            expect(linear(plain, name).bias is None, f"{kind}(qkv_bias=False).{name}.bias", "None", "a bias")
        m = make(True)
        for name in ("W_query", "W_key", "W_value"):
            bias = linear(m, name).bias
            expect(isinstance(bias, torch.Tensor) and tuple(bias.shape) == (D_OUT,),
                   f"{kind}(qkv_bias=True).{name}.bias", f"a tensor of shape ({D_OUT},)", bias)  # fmt: skip
        randomize(m, seed=12, out_proj=heads is not None)
        x = torch.randn(B, T, D_IN, generator=gen(13))
        with torch.no_grad():
            before = run(m, x, D_OUT)
            for name in ("W_query", "W_value"):  # a key bias adds the same score to a whole row: no effect
                bias = getattr(m, name).bias
                bias.add_(1.0)
                expect(not torch.allclose(run(m, x, D_OUT), before), f"{kind}(qkv_bias=True): output after adding 1 to {name}.bias",
                       "a different output (forward uses the bias)", "the same output")  # fmt: skip
                bias.sub_(1.0)
