"""Graded checks for stage 3, causal and multi-head attention (lessons/stage3_attention.md).

Each check's points, lesson idea and hint live in curriculum.toml. Probes (`probe_*`) run in the
worker on the learner's code and send back plain data; the checks (`test_*`) run in the judge,
which never imports the learner's code, and compute every expected value themselves:
  * the judge draws every weight the learner's module uses (W_query, W_key, W_value and out_proj,
    weights and biases) and every input from the run's seed; the probe copies the weights into
    the learner's module by the book's attribute names and sends back the module's outputs;
  * the oracle is torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True), run
    here on the judge's own weights, heads split the book's way, then out_proj.
Nothing here depends on how the learner wrote forward, nor on the learner's random initialization.

The attention weights themselves are read through forward, with no hook: the judge gives the
module one-hot positions as extra input features (and one constant feature 1), sets W_value to
copy them (token j's value is the one-hot vector e_j, plus a 1 in a last slot, in every head) and
out_proj to the identity. Then each head's context vector is sum_j w_ij (e_j, 1), so
output[b, i, h * (T + 1) + j] is exactly head h's weight of query i on key j, and the last slot
of each head is the sum of the weights that reached the values (1 without dropout).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from learn.shared.checking import expect, expect_close, expect_equal, expect_type, forward_calls, rng, run, short, torch_gen

B, T, CONTEXT, D_IN, D_OUT, HEADS = 2, 5, 7, 6, 8, 2  # T < CONTEXT on purpose: the mask is cut
FEATURES = 4  # the one-hot layout's random input features, beside its T one-hot positions and a constant 1
CA, MHA = "CausalAttention", "MultiHeadAttention"
QKV = ("W_query", "W_key", "W_value")

# The book's six tokens, "Your journey starts with one step", as 3-d embeddings (chapter 3).
BOOK_INPUTS = [
    [0.43, 0.15, 0.89],
    [0.55, 0.87, 0.66],
    [0.57, 0.85, 0.64],
    [0.22, 0.58, 0.33],
    [0.77, 0.25, 0.10],
    [0.05, 0.80, 0.55],
]


# ------------------------------------------------------------------------------------- probes
# These run in the worker, on the learner's code: they build modules, load the judge's weights
# by the book's names, call forward and send back plain data. The judge trusts none of it.


def need(ok: bool, what: str, expected: str, got) -> None:
    """expect(), with `got` a function that says what came: called only on a failure, since the
    repr of a whole answer (tensors included) costs more than the check itself."""
    if not ok:
        expect(False, what, expected, got())


def _part(module, kind: str, name: str):
    """module.<name>, or a failure that names the book's attribute."""
    expect(hasattr(module, name), f"{kind} needs the attribute {name} (the book's name)", name, "no such attribute")
    return getattr(module, name)


def _linear(module, kind: str, name: str):
    lin = _part(module, kind, name)
    expect(isinstance(getattr(lin, "weight", None), torch.Tensor), f"{kind}.{name} should be an nn.Linear",
           "nn.Linear", type(lin).__name__)  # fmt: skip
    return lin


def _build(learner, kind: str, args: dict):
    cls = getattr(learner, kind, None)
    expect(cls is not None, f"stage3_attention should define the class {kind}", kind, "no such name")
    torch.manual_seed(0)
    return cls(**args)


def _load(module, kind: str, args: dict, weights: dict) -> None:
    """Copy the judge's weights into the learner's projections, by the book's names.

    A bias the judge sends must have a place to go; a bias the judge leaves out (None) is set
    to zero where the learner's layer has one (a zero bias is no bias)."""
    call = f"{kind}(..., qkv_bias={args['qkv_bias']})"
    with torch.no_grad():
        for name, w in weights.items():
            lin = _linear(module, kind, name)
            expect(tuple(lin.weight.shape) == tuple(w["weight"].shape), f"{call}.{name}.weight: shape (nn.Linear stores (out, in))",
                   str(tuple(w["weight"].shape)), str(tuple(lin.weight.shape)))  # fmt: skip
            lin.weight.copy_(w["weight"])
            bias = getattr(lin, "bias", None)
            if w["bias"] is None:
                if isinstance(bias, torch.Tensor):
                    bias.zero_()
                continue
            need(isinstance(bias, torch.Tensor) and tuple(bias.shape) == tuple(w["bias"].shape),
                 f"{call}.{name}.bias, where the grader loads its own bias",
                 f"a tensor of shape {tuple(w['bias'].shape)}", lambda: "None" if bias is None else short(bias, 60))  # fmt: skip
            bias.copy_(w["bias"])


def _number(value):
    return value if type(value) in (int, float) else f"a {type(value).__name__}: {short(value, 60)}"


def probe_modules(learner, specs):
    """For each spec: build the learner's module, load the judge's weights, read the attributes
    asked for, and call forward on each input (in eval or train mode, seeding torch first)."""
    results = []
    for s in specs:
        kind, args = s["kind"], s["args"]
        m = _build(learner, kind, args)
        m.eval()
        if s["weights"] is not None:
            _load(m, kind, args, s["weights"])
        attrs = {name: _number(_part(m, kind, name)) for name in s["attrs"]}
        biases = {}
        for name in s["biases"]:
            bias = getattr(_linear(m, kind, name), "bias", None)
            biases[name] = [int(n) for n in bias.shape] if isinstance(bias, torch.Tensor) else None
        results.append({"attrs": attrs, "biases": biases, "outputs": forward_calls(m, s["calls"], f"{kind}(x)")})
    return results


def probe_autocast(learner, args, x):
    """MultiHeadAttention(**args)(x) in eval mode under bf16 autocast, as learn pretrain runs the model on a CPU
    or GPU with bfloat16: the scores are bfloat16 there. The output as float32."""
    m = _build(learner, MHA, args).eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = m(x)
    expect(isinstance(out, torch.Tensor), f"{MHA}(x) under autocast should return a tensor", "torch.Tensor",
           type(out).__name__)  # fmt: skip
    return out.float()


def probe_build(learner, cases):
    """For each (kind, args): did the constructor build a module, or what did it raise?"""
    results = []
    for kind, args in cases:
        try:
            _build(learner, kind, args)
        except NotImplementedError:
            raise
        except Exception as e:  # noqa: BLE001 (the judge decides which exceptions are right)
            results.append(f"{type(e).__name__}: {short(str(e), 120)}")
            continue
        results.append(None)
    return results


def probe_state_dict(learner, cases):
    """For each module: its state_dict's keys and shapes and its mask; then load the judge's
    state_dict (strict) and read each tensor back by the book's attribute names."""
    results = []
    for kind, args, book in cases:
        m = _build(learner, kind, args)
        mine = m.state_dict()
        mask = mine.get("mask")  # a copy: loading below writes into the buffer that state_dict() shares
        mask = mask.detach().clone() if isinstance(mask, torch.Tensor) else mask
        result = {"shapes": {str(k): [int(n) for n in v.shape] for k, v in mine.items()}, "mask": mask, "error": None}
        try:
            m.load_state_dict(book, strict=True)
        except RuntimeError as e:
            result["error"] = short(str(e), 400)
        else:
            loaded = {}
            for key in book:
                value = m
                for name in key.split("."):
                    value = _part(value, kind, name)
                loaded[key] = value.detach() if isinstance(value, torch.Tensor) else f"a {type(value).__name__}"
            result["loaded"] = loaded
        results.append(result)
    return results


# ----------------------------------------------------------------------------- inputs, weights


def describe(kind: str, args: dict) -> str:
    """MultiHeadAttention(d_in=3, d_out=12, context_length=7, dropout=0.0, num_heads=4)."""
    shown = ", ".join(f"{k}={v}" for k, v in args.items() if k != "qkv_bias" or v)
    return f"{kind}({shown})"


def arguments(kind, d_in, d_out, context_length, num_heads=None, dropout=0.0, qkv_bias=False) -> dict:
    args = {"d_in": d_in, "d_out": d_out, "context_length": context_length, "dropout": dropout}
    if kind == MHA:
        args["num_heads"] = num_heads
    args["qkv_bias"] = qkv_bias
    return args


def spec(kind, args, weights=None, calls=(), attrs=(), biases=()) -> dict:
    """What probe_modules does with one module. calls: [x, train, seed] each."""
    return {"kind": kind, "args": args, "weights": weights, "calls": [list(c) for c in calls],
            "attrs": list(attrs), "biases": list(biases)}  # fmt: skip


def draw_linear(g, d_out, d_in, bias: bool, scale: float | None = None) -> dict:
    """Weights scaled so that attention scores are of order 1 (the softmax neither flat nor saturated)."""
    scale = math.sqrt(1.5 / d_in) if scale is None else scale
    return {"weight": torch.randn(d_out, d_in, generator=g) * scale, "bias": torch.randn(d_out, generator=g) * 0.5 if bias else None}


def draw_weights(g, kind, d_in, d_out, qkv_bias=False, out_bias=True) -> dict:
    """Weights for every projection; out_bias=False leaves out_proj's bias at zero (where a check
    is about something else, so that a missing out_proj.bias is told by the checks about it)."""
    weights = {name: draw_linear(g, d_out, d_in, qkv_bias) for name in QKV}
    if kind == MHA:
        weights["out_proj"] = draw_linear(g, d_out, d_out, out_bias, scale=1 / math.sqrt(d_out))
    return weights


def one_hot_layout(g, kind, n, heads, context_length, dropout=0.0):
    """The module and input that make forward show its attention weights (see the top).

    Returns (spec without calls, x of shape (B, n, d_in), the judge's weights)."""
    d_in, head_dim = FEATURES + n + 1, n + 1
    d_out = heads * head_dim
    weights = {name: draw_linear(g, d_out, d_in, False) for name in ("W_query", "W_key")}
    value = torch.zeros(d_out, d_in)
    for h in range(heads):
        value[h * head_dim : h * head_dim + n, FEATURES : FEATURES + n] = torch.eye(n)  # token j's value is e_j
        value[h * head_dim + n, -1] = 1.0  # and a 1 in the last slot, from the constant feature
    weights["W_value"] = {"weight": value, "bias": None}
    if kind == MHA:
        weights["out_proj"] = {"weight": torch.eye(d_out), "bias": None}  # None: zero
    feats = torch.randn(B, n, FEATURES, generator=g) * 1.5
    x = torch.cat([feats, torch.eye(n).expand(B, n, n), torch.ones(B, n, 1)], dim=-1)  # (B, n, d_in)
    args = arguments(kind, d_in, d_out, context_length, heads if kind == MHA else None, dropout)
    return spec(kind, args, weights), x, weights


def read_weights(out: torch.Tensor, heads: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(attention weights (B, H, query i, key j), the last slot of each head (B, H, n))."""
    per_head = out.reshape(out.shape[0], n, heads, n + 1).transpose(1, 2)  # (B, H, n, n + 1)
    return per_head[..., :n], per_head[..., n]


def one_hot_cases(r) -> list[tuple[str, int, int, int]]:
    """(kind, n tokens, heads, context_length): the book-sized ones, and ones drawn for this run."""
    cases = [(CA, T, 1, CONTEXT), (MHA, T, HEADS, CONTEXT)]
    for kind in (CA, MHA):
        n = r.randrange(4, 8)
        cases.append((kind, n, 1 if kind == CA else r.randrange(2, 4), n + r.randrange(1, 4)))
    return cases


# ------------------------------------------------------------------------------------ oracles


def split_heads(t: torch.Tensor, num_heads: int) -> torch.Tensor:
    b, n, d = t.shape
    return t.view(b, n, num_heads, d // num_heads).transpose(1, 2)  # (B, H, T, head_dim)


def project(x, w: dict) -> torch.Tensor:
    bias = None if w["bias"] is None else w["bias"].double()
    return F.linear(x.double(), w["weight"].double(), bias)


def reference(x: torch.Tensor, weights: dict, num_heads: int = 1) -> torch.Tensor:
    """Causal attention by torch's own kernel, in float64; out_proj where the weights have one."""
    q, k, v = (split_heads(project(x, weights[name]), num_heads) for name in QKV)
    ctx = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, head_dim)
    ctx = ctx.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)  # (B, T, d_out)
    return project(ctx, weights["out_proj"]) if "out_proj" in weights else ctx


def reference_weights(x, weights, num_heads) -> torch.Tensor:
    """The attention weights (B, H, T, T): torch's kernel with the identity as the values."""
    q, k = (split_heads(project(x, weights[name]), num_heads) for name in ("W_query", "W_key"))
    eye = torch.eye(x.shape[1], dtype=torch.float64).expand(x.shape[0], num_heads, -1, -1)
    return F.scaled_dot_product_attention(q, k, eye, is_causal=True)


def mistaken_weights(x, weights, num_heads) -> dict[str, torch.Tensor]:
    """The weights (B, H, T, T) of common mistakes, by name, written out by hand."""
    q, k = (split_heads(project(x, weights[name]), num_heads) for name in ("W_query", "W_key"))
    s = q @ k.transpose(-1, -2)  # (B, H, T, T)
    n, head_dim = s.shape[-1], q.shape[-1]
    future = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
    past = torch.tril(torch.ones(n, n, dtype=torch.bool), diagonal=-1)
    root = math.sqrt(head_dim)
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
    return mistakes


# ------------------------------------------------------------------- reading what came back


def results_of(got, specs: list[dict]) -> list[dict]:
    """probe_modules' answer, checked to be one well-formed result per spec."""
    need(type(got) is list and len(got) == len(specs), "the probe's results", f"a list of {len(specs)} results", lambda: short(got, 80))
    for s, res in zip(specs, got):
        need(type(res) is dict and type(res.get("outputs")) is list and len(res["outputs"]) == len(s["calls"]),
             f"the results for {describe(s['kind'], s['args'])}", f"{len(s['calls'])} outputs", lambda: short(res, 80))  # fmt: skip
        expect_type(res.get("attrs"), dict, "the attributes read")
        expect_type(res.get("biases"), dict, "the biases read")
    return got


def output(out, x: torch.Tensor, d_out: int, what: str) -> torch.Tensor:
    """A forward output, checked to be a finite tensor of shape (B, T, d_out); as float64."""
    shape = (x.shape[0], x.shape[1], d_out)
    expect(type(out) is torch.Tensor, f"{what} should return a tensor", f"a torch.Tensor of shape {shape}", type(out).__name__)
    expect_equal(tuple(out.shape), shape, f"{what} with x of shape {tuple(x.shape)}: output shape (B, T, d_out)")
    expect(out.dtype.is_floating_point, f"{what}: output dtype", "a floating-point tensor", str(out.dtype))
    expect(bool(torch.isfinite(out).all()), f"{what} has NaN or inf values: is a whole row of scores masked, "
           "or did -inf reach a multiplication?", "finite values", "NaN/inf")  # fmt: skip
    return out.double()


def outputs(s: dict, res: dict) -> list[torch.Tensor]:
    """Every output of one spec, checked (see `output`)."""
    what = describe(s["kind"], s["args"]) + "(x)"
    return [output(out, x, s["args"]["d_out"], what) for (x, _, _), out in zip(s["calls"], res["outputs"])]


# ------------------------------------------------------------------------------------ checks


def test_causal_attention_output_shape():
    r, g = rng(), torch_gen()
    book = torch.tensor(BOOK_INPUTS).expand(2, 6, 3)  # the book's batch: the six tokens twice
    configs = [(D_IN, D_OUT, CONTEXT, B), (3, 2, 6, 2)]
    configs += [(r.randrange(2, 10), r.randrange(1, 10), r.randrange(2, 12), r.randrange(1, 4)) for _ in range(2)]
    specs = []
    for d_in, d_out, ctx, b in configs:
        lengths = sorted({ctx, r.randrange(1, ctx + 1), 1}, reverse=True)
        calls = [(torch.randn(b, n, d_in, generator=g), False, None) for n in lengths]
        if (d_in, d_out, ctx) == (3, 2, 6):
            calls.append((book, False, None))
        specs.append(spec(CA, arguments(CA, d_in, d_out, ctx), calls=calls))
    got = results_of(run(probe_modules, specs=specs), specs)
    for s, res in zip(specs, got):
        outputs(s, res)


def test_causal_attention_matches_reference():
    r, g = rng(), torch_gen()
    eye = {name: {"weight": torch.eye(2), "bias": None} for name in QKV}
    cases = [
        ("the lesson's worked example (identity projections: queries = keys = values = x)",
         arguments(CA, 2, 2, 4), eye, torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])),
        ("the book's six tokens, the grader's weights",
         arguments(CA, 3, 2, 6), draw_weights(g, CA, 3, 2), torch.tensor(BOOK_INPUTS).expand(2, 6, 3)),
    ]  # fmt: skip
    for k, (d_in, d_out, ctx) in enumerate(((D_IN, D_OUT, CONTEXT), (r.randrange(2, 10), r.randrange(2, 10), r.randrange(4, 12)))):
        n = T if k == 0 else r.randrange(2, ctx + 1)  # a drawn config may share D_IN: its length is drawn all the same
        x = torch.randn(B, n, d_in, generator=g)
        cases.append(("x and the weights drawn by the grader", arguments(CA, d_in, d_out, ctx), draw_weights(g, CA, d_in, d_out), x))
    specs = [spec(CA, args, weights, calls=[(x, False, None)]) for _, args, weights, x in cases]
    got = results_of(run(probe_modules, specs=specs), specs)
    for s, res, (label, args, weights, x) in zip(specs, got, cases):
        (out,) = outputs(s, res)
        expect_close(out, reference(x, weights), f"{describe(CA, args)}(x) vs softmax(mask(q k^T) / sqrt(d_out)) v, "
                     f"on {label}, x of shape {tuple(x.shape)}")  # fmt: skip


def test_multihead_output_shape():
    r, g = rng(), torch_gen()
    configs = [(D_IN, D_OUT, HEADS, CONTEXT, B), (3, 12, 4, CONTEXT, B), (5, 6, 1, CONTEXT, B), (3, 2, 2, 6, 2)]
    for _ in range(2):
        heads = r.randrange(1, 5)
        configs.append((r.randrange(2, 10), heads * r.randrange(1, 5), heads, r.randrange(2, 12), r.randrange(1, 4)))
    specs = []
    for d_in, d_out, heads, ctx, b in configs:
        lengths = sorted({ctx, r.randrange(1, ctx + 1), 1}, reverse=True)
        calls = [(torch.randn(b, n, d_in, generator=g), False, None) for n in lengths]
        specs.append(spec(MHA, arguments(MHA, d_in, d_out, ctx, heads), calls=calls, attrs=("d_out", "num_heads", "head_dim")))
    got = results_of(run(probe_modules, specs=specs), specs)
    for s, res in zip(specs, got):
        outputs(s, res)
        args = s["args"]
        expected = {"d_out": args["d_out"], "num_heads": args["num_heads"], "head_dim": args["d_out"] // args["num_heads"]}
        for name, value in expected.items():
            have = res["attrs"].get(name)
            need(type(have) in (int, float) and have == value, f"{describe(MHA, args)}.{name}", str(value), lambda: short(have))
    # learn pretrain runs the model in bf16 autocast: the scores are bfloat16, and the mask's fill must fit them
    args, (x, _, _) = specs[-1]["args"], specs[-1]["calls"][0]
    what = f"{describe(MHA, args)}(x) under torch.autocast('cpu', torch.bfloat16)"
    output(run(probe_autocast, args=args, x=x), x, args["d_out"], what)


def test_rejects_indivisible_heads():
    r = rng()
    good = [(6, 3), (4 * r.randrange(1, 5), 4)]
    bad = [(5, 2), (8, 3)]
    while len(bad) < 4:
        d_out, heads = r.randrange(3, 30), r.randrange(2, 7)
        if d_out % heads:
            bad.append((d_out, heads))
    cases = [(MHA, arguments(MHA, D_IN, d_out, CONTEXT, heads)) for d_out, heads in good + bad]
    got = run(probe_build, cases=cases)
    need(type(got) is list and len(got) == len(cases), "the probe's results", f"a list of {len(cases)}", lambda: short(got, 80))
    for (kind, args), raised in zip(cases[: len(good)], got):
        need(raised is None, f"{describe(kind, args)}: d_out divisible by num_heads, so it must build", "a module", lambda: short(raised))
    for (kind, args), raised in zip(cases[len(good) :], got[len(good) :]):
        ok = type(raised) is str and raised.startswith(("AssertionError", "ValueError"))
        need(ok, f"{describe(kind, args)} should refuse to build", "AssertionError or ValueError: d_out must be divisible by num_heads",
             lambda: "a module was built" if raised is None else short(raised))  # fmt: skip


def test_future_tokens_never_change_the_past():
    r, g = rng(), torch_gen()
    configs = [(CA, D_IN, D_OUT, 1, CONTEXT), (MHA, D_IN, D_OUT, HEADS, CONTEXT)]
    heads = r.randrange(1, 4)
    configs += [(CA, r.randrange(2, 9), r.randrange(2, 9), 1, r.randrange(4, 11)),
                (MHA, r.randrange(2, 9), heads * r.randrange(1, 4), heads, r.randrange(4, 11))]  # fmt: skip
    specs, plans = [], []
    for kind, d_in, d_out, heads, ctx in configs:
        x = torch.randn(B, ctx, d_in, generator=g)
        cuts = sorted({1, min(3, ctx - 1), ctx - 1, r.randrange(1, ctx)})
        calls = [(x, False, None)]
        for t in cuts:
            changed = x.clone()
            changed[:, t:] = torch.randn(B, ctx - t, d_in, generator=g) * 3
            calls += [(changed, False, None), (x[:, :t].clone(), False, None)]
        args = arguments(kind, d_in, d_out, ctx, heads if kind == MHA else None)
        specs.append(spec(kind, args, draw_weights(g, kind, d_in, d_out, out_bias=False), calls=calls))
        plans.append(cuts)
    got = results_of(run(probe_modules, specs=specs), specs)
    for s, res, cuts in zip(specs, got, plans):
        kind = describe(s["kind"], s["args"])
        full, *rest = outputs(s, res)
        for t, changed, prefix in zip(cuts, rest[0::2], rest[1::2]):
            expect_close(changed[:, :t], full[:, :t], f"{kind}: outputs at positions 0..{t - 1} after changing only "
                         f"tokens {t}.. (the future must not leak into the past)", atol=1e-6)  # fmt: skip
            expect_close(prefix, full[:, :t], f"{kind}(x[:, :{t}]) vs {kind}(x)[:, :{t}] (a prefix must give the same outputs)", atol=1e-6)
            moved = (changed[:, t] - full[:, t]).abs().max().item()
            expect(moved > 1e-4, f"{kind}: output at position {t} after changing token {t} (each token's output uses the token itself)",
                   "a different output", f"the same output (largest change {moved:.3g})")  # fmt: skip


def _weights_seen(r, g, dropout=0.0):
    """Run the one-hot layout (see the top) for each case: [(describe, heads, n, x, weights, outputs)]."""
    cases, specs = [], []
    for kind, n, heads, ctx in one_hot_cases(r):
        s, x, weights = one_hot_layout(g, kind, n, heads, ctx, dropout)
        if dropout and kind == MHA:
            weights["out_proj"]["bias"] = torch.ones(s["args"]["d_out"])  # dropout after out_proj would drop it
        seed = r.randrange(2**31)
        s["calls"] = [[x, False, None], [x, False, None], [x, True, seed]] if dropout else [[x, False, None]]
        specs.append(s)
        cases.append((describe(kind, s["args"]), heads, n, x, weights))
    got = results_of(run(probe_modules, specs=specs), specs)
    return [(*case, outputs(s, res)) for case, s, res in zip(cases, specs, got)]


def test_weights_above_diagonal_are_zero():
    for kind, heads, n, x, weights, (out,) in _weights_seen(rng(), torch_gen()):
        w, _ = read_weights(out, heads, n)  # (B, H, n, n)
        above = w.masked_select(torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1).expand_as(w))
        expect(bool((above == 0).all()), f"{kind}: attention weights of query i on keys j > i (the future)",
               "exactly 0", f"max |weight| {above.abs().max().item():.3g}")  # fmt: skip
        sums = w.sum(dim=-1)
        expect_close(sums, torch.ones_like(sums), f"{kind}: the attention weights of each query summed over keys", atol=1e-5)


def test_attention_weights_match_reference():
    for kind, heads, n, x, weights, (out,) in _weights_seen(rng(), torch_gen()):
        got, _ = read_weights(out, heads, n)  # (B, H, n, n)
        right = reference_weights(x, weights, heads)
        if not torch.allclose(got, right, atol=1e-5, rtol=1e-4):
            seen = [why for why, w in mistaken_weights(x, weights, heads).items() if torch.allclose(got, w, atol=1e-5, rtol=1e-4)]
            if seen:
                expect(False, f"{kind}: attention weights (read through forward) look like a known mistake",
                       "softmax(mask(q k^T) / sqrt(head_dim), dim=-1)", seen[0])  # fmt: skip
        expect_close(got, right, f"{kind}: attention weights (B, heads, query, key), read through forward")


def test_multihead_matches_reference():
    r, g = rng(), torch_gen()
    configs = [(D_IN, D_OUT, HEADS, CONTEXT, T), (3, 12, 4, CONTEXT, T), (3, 2, 2, 6, 6)]
    for _ in range(2):
        heads = r.randrange(2, 5)
        ctx = r.randrange(3, 11)
        configs.append((r.randrange(2, 10), heads * r.randrange(1, 5), heads, ctx, r.randrange(2, ctx + 1)))
    specs, cases = [], []
    for d_in, d_out, heads, ctx, n in configs:
        x = torch.tensor(BOOK_INPUTS).expand(2, 6, 3) if (d_in, d_out, ctx) == (3, 2, 6) else torch.randn(B, n, d_in, generator=g)
        weights = draw_weights(g, MHA, d_in, d_out)
        specs.append(spec(MHA, arguments(MHA, d_in, d_out, ctx, heads), weights, calls=[(x, False, None)]))
        cases.append((x, weights, heads))
    got = results_of(run(probe_modules, specs=specs), specs)
    for s, res, (x, weights, heads) in zip(specs, got, cases):
        (out,) = outputs(s, res)
        expect_close(out, reference(x, weights, heads), f"{describe(MHA, s['args'])}(x) vs per-head causal attention, "
                     f"merged, then out_proj (x of shape {tuple(x.shape)}, the grader's weights)")  # fmt: skip


def test_dropout_on_weights_in_train_only():
    """Graded against the learner's own eval() output, so that only dropout is judged here."""
    p = 0.5
    seen = {CA: [0, 0, 0, 0], MHA: [0, 0, 0, 0]}  # per class: live weights, dropped, kept, keys dropped for some queries only
    for kind, heads, n, x, weights, (first, second, train) in _weights_seen(rng(), torch_gen(), dropout=p):
        expect(torch.equal(first, second), f"{kind} in eval() mode: two calls on the same input",
               "the same output (dropout is off in eval)", "different outputs")  # fmt: skip
        shift = 1.0 if "out_proj" in weights else 0.0  # the grader's out_proj bias: dropout after out_proj drops it too
        w, _ = read_weights(first - shift, heads, n)  # (B, H, n, n): the weights without dropout
        got, carried = read_weights(train - shift, heads, n)
        kept = torch.isclose(got, w / (1 - p), atol=1e-5)
        dropped = torch.isclose(got, torch.zeros_like(got), atol=1e-6)
        expect(bool((kept | dropped).all()), f"{kind} in train() mode: each attention weight (read through forward)",
               "either 0 (dropped) or weight / (1 - p) = 2 * weight (kept): dropout acts on the weights",
               "other values: is dropout applied to the scores or the output?")  # fmt: skip
        # Every value vector carries a 1 in its last slot: with dropout on the weights, that slot
        # of the context is the sum of the weights that survived, whatever was dropped.
        expect_close(carried, got.sum(dim=-1), f"{kind} in train() mode: the last slot of each context vector (every value "
                     "carries a 1 there) vs the sum of that query's weights after dropout; is dropout applied to the values "
                     "or the context vectors instead of the weights?", atol=1e-5)  # fmt: skip
        live = w > 1e-3
        out, kept = dropped & live, kept & live & ~dropped
        # Dropout on the weights drops each (query, key) weight on its own; dropout on the values
        # would drop key j's value for every query at once.
        mixed = out.any(dim=-2) & kept.any(dim=-2)  # (B, H, key j)
        counts = seen[kind.split("(")[0]]
        for k, v in enumerate((live.sum(), out.sum(), kept.sum(), mixed.sum())):
            counts[k] += int(v)
    # Chance alone drops all of them or none with probability below 2^-40: these are summed over
    # the cases of each class, so that a small drawn case cannot fail honest code by bad luck.
    for name, (live, out, kept, mixed) in seen.items():
        expect(out > 0 and kept > 0, f"{name}(..., dropout={p}) in train() mode, over {live} attention weights",
               "some weights dropped and some kept", f"{out} of {live} dropped")  # fmt: skip
        expect(mixed > 0, f"{name}(..., dropout={p}) in train() mode: weights of different queries on the same key",
               "each dropped on its own (dropout on the weights)",
               "always all dropped or all kept together: is dropout applied to the values?")  # fmt: skip


def book_state_dict(g, kind, d_in, d_out, context_length, qkv_bias) -> dict:
    """Random tensors under exactly the keys and shapes of the book's class."""
    sd = {}
    for name, w in draw_weights(g, kind, d_in, d_out, qkv_bias).items():
        sd[f"{name}.weight"] = w["weight"]
        if w["bias"] is not None:
            sd[f"{name}.bias"] = w["bias"]
    sd["mask"] = torch.triu(torch.ones(context_length, context_length), diagonal=1)
    return sd


def test_state_dict_matches_the_book():
    r, g = rng(), torch_gen()
    configs = [(D_IN, D_OUT, CONTEXT, HEADS, False), (D_IN, D_OUT, CONTEXT, HEADS, True)]
    heads = r.randrange(1, 4)
    configs.append((r.randrange(2, 9), heads * r.randrange(1, 4), r.randrange(3, 11), heads, r.random() < 0.5))
    cases = []
    for d_in, d_out, ctx, heads, qkv_bias in configs:
        for kind in (MHA, CA):
            args = arguments(kind, d_in, d_out, ctx, heads if kind == MHA else None, qkv_bias=qkv_bias)
            cases.append((kind, args, book_state_dict(g, kind, d_in, d_out, ctx, qkv_bias)))
    got = run(probe_state_dict, cases=cases)
    need(type(got) is list and len(got) == len(cases), "the probe's results", f"a list of {len(cases)}", lambda: short(got, 80))
    for (kind, args, book), res in zip(cases, got):
        name = describe(kind, args)
        need(type(res) is dict and type(res.get("shapes")) is dict, f"{name}.state_dict()", "keys and shapes", lambda: short(res, 80))
        shapes = res["shapes"]
        expect_equal(sorted(shapes, key=str), sorted(book), f"{name}.state_dict() keys")
        expect_equal(shapes, {k: list(v.shape) for k, v in book.items()}, f"{name}.state_dict() shapes")
        mask = res.get("mask")
        need(type(mask) is torch.Tensor and list(mask.shape) == list(book["mask"].shape), f"{name}: the mask buffer",
             f"a tensor of shape {tuple(book['mask'].shape)}", lambda: short(mask, 60))  # fmt: skip
        expect_equal((mask != 0).tolist(), (book["mask"] != 0).tolist(),
                     f"{name}: where the mask buffer is nonzero (True = hidden: strictly above the diagonal)")  # fmt: skip
        need(res.get("error") is None, f"{name}.load_state_dict(the book's state_dict, strict=True)", "it loads",
             lambda: short(res.get("error"), 400))
        loaded = res.get("loaded")
        expect_type(loaded, dict, f"{name}: the tensors read back after loading")
        for key, tensor in book.items():
            have = loaded.get(key)
            same = type(have) is torch.Tensor and have.shape == tensor.shape and torch.equal(have.to(tensor.dtype), tensor)
            need(same, f"{name}: {key} (read by its attribute name) after loading the book's state_dict",
                 "the loaded tensor", lambda: "another tensor" if type(have) is torch.Tensor else short(have, 60))  # fmt: skip


def test_qkv_bias_honoured():
    r, g = rng(), torch_gen()
    heads = r.randrange(1, 4)
    d_in, d_out, ctx = r.randrange(2, 9), heads * r.randrange(2, 4), r.randrange(4, 10)
    specs, cases = [], []
    for kind in (MHA, CA):
        h = heads if kind == MHA else None
        names = QKV + (("out_proj",) if kind == MHA else ())
        specs.append(spec(kind, arguments(kind, d_in, d_out, ctx, h, qkv_bias=False), biases=names))
        x = torch.randn(B, ctx, d_in, generator=g)
        base = draw_weights(g, kind, d_in, d_out, qkv_bias=True)
        variants = [base]
        for name in ("W_query", "W_value"):  # a key bias adds the same score to a whole row: no effect
            changed = {k: dict(v) for k, v in base.items()}
            changed[name]["bias"] = base[name]["bias"] + 1.0
            variants.append(changed)
        for k, weights in enumerate(variants):
            calls = [(x, False, None)] * (2 if k == 0 else 1)  # twice: forward in eval() must be a function of its input
            specs.append(spec(kind, arguments(kind, d_in, d_out, ctx, h, qkv_bias=True), weights, calls=calls, biases=names))
        cases.append((kind, h or 1, x, variants))
    got = results_of(run(probe_modules, specs=specs), specs)
    for (kind, heads, x, variants), i in zip(cases, range(0, len(specs), 4)):
        plain, biased = got[i], got[i + 1]
        for name in QKV:
            have = plain["biases"].get(name, "not read")
            need(have is None, f"{describe(kind, specs[i]['args'])}.{name}.bias", "None", lambda: short(have))
            have = biased["biases"].get(name, "not read")
            need(have == [d_out], f"{describe(kind, specs[i + 1]['args'])}.{name}.bias: shape", f"[{d_out}]", lambda: short(have))
        if kind == MHA:
            for res, s in ((plain, specs[i]), (biased, specs[i + 1])):
                have = res["biases"].get("out_proj", "not read")
                need(have == [d_out], f"{describe(kind, s['args'])}.out_proj.bias: shape (out_proj always has one)",
                     f"[{d_out}]", lambda: short(have))
        name = describe(kind, specs[i + 1]["args"])
        outs = [outputs(s, res)[0] for s, res in zip(specs[i + 1 : i + 4], got[i + 1 : i + 4])]
        again = outputs(specs[i + 1], got[i + 1])[1]
        expect(torch.equal(outs[0], again), f"{name}(x) in eval() mode, called twice on the same x", "the same output", "different outputs")
        right = torch.allclose(outs[0], reference(x, variants[0], heads), atol=1e-5, rtol=1e-4)
        for bias, out, weights in zip(("W_query", "W_value"), outs[1:], variants[1:]):
            what = f"{name}(x) after adding 1 to {bias}.bias"
            if right:  # forward is right with biases: it must stay right when they change
                expect_close(out, reference(x, weights, heads), f"{what}, vs the reference with that bias")
            else:
                expect(not torch.allclose(out, outs[0]), what, "a different output (forward uses the bias)", "the same output")
