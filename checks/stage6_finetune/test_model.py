"""Graded checks for stage 6 on the book's GPT: the classifier head, LoRA and GPT-2's weights
(lessons/stage6_finetune.md, §3 and §8-§10).

The model is the judge's own GPT, written here with the book's module names (tok_emb, pos_emb,
trf_blocks[i].att.W_query, .ff.layers[0], .norm1.scale, final_norm, out_head), so that stage 6 is
graded on its own, whatever the learner's stage 4 does. The same class serves twice:
  * in the worker, as the model the learner's code changes (prepare_classifier, replace_linear_
    with_lora, load_weights_into_gpt); the probe sends back its parameters (names, shapes,
    values, requires_grad) and its outputs;
  * in the judge, as an oracle in float64 that reads those parameters: the judge recomputes the
    logits of a loaded model, the gradient step a prepared classifier should take, and the logits
    of a model whose LoRA updates it has merged into plain weights (W + scale * (A B)^T).
GPT-2's weights come from fixtures/stage6_finetune/gpt2_tiny.json, a checkpoint in Hugging Face's
layout (wte, wpe, h.N.attn.c_attn, Conv1D weights (in, out), the causal mask h.N.attn.bias) and
the logits of a forward pass written in its generator straight from those tensors; and from
values the judge draws per run under the same names. The book's 124M model is only ever built on
the meta device, where parameters have shapes and no memory.
"""

from __future__ import annotations

import json
import math
from functools import cache

import torch
import torch.nn as nn
import torch.nn.functional as F

from learn.shared.checking import (answers, expect, expect_close, expect_equal, expect_type, fixture, forward_calls, rng, run, short,
                                  torch_gen)

PKG = "stage6_finetune"
EPS = 1e-5
GPT2_124M = {"vocab_size": 50257, "context_length": 1024, "emb_dim": 768, "n_heads": 12, "n_layers": 12, "drop_rate": 0.0, "qkv_bias": True}


# ------------------------------------------------------------------ the book's GPT, the judge's copy


class LayerNorm(nn.Module):
    def __init__(self, emb_dim):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))

    def forward(self, x):
        return F.layer_norm(x, x.shape[-1:], self.scale, self.shift, eps=EPS)


class MultiHeadAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        e = cfg["emb_dim"]
        self.W_query = nn.Linear(e, e, bias=cfg["qkv_bias"])
        self.W_key = nn.Linear(e, e, bias=cfg["qkv_bias"])
        self.W_value = nn.Linear(e, e, bias=cfg["qkv_bias"])
        self.out_proj = nn.Linear(e, e)
        self.num_heads = cfg["n_heads"]

    def forward(self, x):
        b, t, e = x.shape
        h = self.num_heads
        q, k, v = (w(x).view(b, t, h, e // h).transpose(1, 2) for w in (self.W_query, self.W_key, self.W_value))  # (B, h, T, e/h)
        ctx = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, h, T, e/h)
        return self.out_proj(ctx.transpose(1, 2).reshape(b, t, e))  # (B, T, e)


class FeedForward(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        e = cfg["emb_dim"]
        self.layers = nn.Sequential(nn.Linear(e, 4 * e), nn.GELU(approximate="tanh"), nn.Linear(4 * e, e))

    def forward(self, x):
        return self.layers(x)


class TransformerBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.att = MultiHeadAttention(cfg)
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])

    def forward(self, x):
        x = x + self.att(self.norm1(x))
        return x + self.ff(self.norm2(x))


class GPTModel(nn.Module):
    """The book's GPTModel (chapter 4) without dropout; the embeddings start at zero (no random
    init, which the meta device makes slow): every check loads its own weights."""

    def __init__(self, cfg):
        super().__init__()
        v, c, e = cfg["vocab_size"], cfg["context_length"], cfg["emb_dim"]
        self.tok_emb = nn.Embedding(v, e, _weight=torch.zeros(v, e))
        self.pos_emb = nn.Embedding(c, e, _weight=torch.zeros(c, e))
        self.trf_blocks = nn.Sequential(*[TransformerBlock(cfg) for _ in range(cfg["n_layers"])])
        self.final_norm = LayerNorm(e)
        self.out_head = nn.Linear(e, v, bias=False)

    def forward(self, in_idx):
        t = in_idx.shape[1]
        x = self.tok_emb(in_idx) + self.pos_emb(torch.arange(t, device=in_idx.device))  # (B, T, emb_dim)
        return self.out_head(self.final_norm(self.trf_blocks(x)))  # (B, T, vocab_size or num_classes)


def build(cfg: dict, head: tuple | None = None) -> GPTModel:
    """GPTModel(cfg); head=(num_classes, bias): out_head replaced by Linear(emb_dim, num_classes)."""
    model = GPTModel(cfg)
    if head is not None:
        model.out_head = nn.Linear(cfg["emb_dim"], head[0], bias=head[1])
    return model


def describe(cfg: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in cfg.items() if k != "drop_rate")


# ------------------------------------------------------------------------------------- probes


def _params(model) -> dict:
    return {str(n): p.detach().clone() for n, p in model.named_parameters()}


def _shapes(model) -> dict:
    return {str(n): [int(s) for s in p.shape] for n, p in model.named_parameters()}


def _load(module, weights: dict) -> bool:
    """The judge's weights into the module by state-dict key (strict; the module's own buffers
    kept); False, loading nothing, if its parameter names or shapes are not the judge's."""
    params = _shapes(module)
    if params != {n: list(w.shape) for n, w in weights.items()}:
        return False
    state = dict(weights)
    for name, value in module.state_dict().items():
        if name not in params:
            state.setdefault(name, value)
    with torch.no_grad():
        module.load_state_dict(state, strict=True)
    return True


def probe_prepare(learner, cfg, weights, num_classes, ids, labels, lr, seed):
    """prepare_classifier on a GPT holding the judge's weights, then one SGD step (lr) on the
    last token's cross-entropy, over every parameter that has a gradient."""
    torch.manual_seed(seed)
    model = build(cfg)
    _load(model, weights)
    out = learner.prepare_classifier(model, num_classes=num_classes)
    expect(out is model, "prepare_classifier(model, num_classes) should change the model in place and return it",
           "the model it was given", short(out, 60))  # learn finetune trains the model it passed  # fmt: skip
    before = _params(out)
    logits = out(ids)
    expect(isinstance(logits, torch.Tensor), "the prepared model(x)", "a tensor", short(logits, 60))
    loss = F.cross_entropy(logits[:, -1, :], labels)
    loss.backward()
    with torch.no_grad():
        for p in out.parameters():
            if p.grad is not None:
                p -= lr * p.grad
    return {"before": before, "after": _params(out), "logits": logits.detach()}


def probe_lora(learner, cases):
    """For each case: LinearWithLoRA around the judge's Linear and a bare LoRALayer, fresh (their
    parameters as made) or holding the judge's A and B; their outputs on the judge's inputs."""
    results = []
    for c in cases:
        torch.manual_seed(c["seed"])
        linear = nn.Linear(c["in"], c["out"], bias=c["bias"])
        with torch.no_grad():
            linear.weight.copy_(c["linear"]["weight"])
            if c["bias"]:
                linear.bias.copy_(c["linear"]["bias"])
        if c.get("upstream") is not None:  # as learn finetune --lora: the model frozen first
            linear.requires_grad_(False)
        layer = learner.LinearWithLoRA(linear, rank=c["rank"], alpha=c["alpha"]) if c.get("keywords") else \
            learner.LinearWithLoRA(linear, c["rank"], c["alpha"])
        bare = learner.LoRALayer(c["in"], c["out"], c["rank"], c["alpha"])
        res = {"layer": _params(layer), "bare": _params(bare), "loaded": True}
        if c["lora"] is not None:
            state = {f"linear.{k}": v for k, v in c["linear"].items()} | {f"lora.{k}": v for k, v in c["lora"].items()}
            res["loaded"] = _load(layer, state) and _load(bare, c["lora"])
        if res["loaded"]:
            res["outputs"] = forward_calls(layer, [[x, False, None] for x in c["xs"]], "LinearWithLoRA(...)(x)")
            res["bare_outputs"] = forward_calls(bare, [[x, False, None] for x in c["xs"]], "LoRALayer(...)(x)")
        if res["loaded"] and c.get("upstream") is not None:
            res["grads"] = backward(layer, c["xs"][-1], c["upstream"])
        results.append(res)
    return results


def backward(layer, x, upstream) -> dict:
    """The gradients of (layer(x) * upstream).sum() for x and every parameter (None where none came)."""
    x = x.clone().requires_grad_(True)
    layer.train()
    out = layer(x)
    expect(isinstance(out, torch.Tensor) and out.requires_grad, "LinearWithLoRA(...)(x) of a frozen linear layer",
           "an output that back-propagates to A and B", short(out, 60))  # fmt: skip
    (out * upstream).sum().backward()
    return {"x": x.grad} | {str(n): p.grad for n, p in layer.named_parameters()}


def probe_replace(learner, cfg, rank, alpha, weights, ids, seed):
    """A frozen GPT, then replace_linear_with_lora; its parameters (shape, requires_grad), then
    the judge's weights for every one of them (base and LoRA) and the logits."""
    torch.manual_seed(seed)
    model = build(cfg)
    for p in model.parameters():
        p.requires_grad = False
    learner.replace_linear_with_lora(model, rank, float(alpha))  # as learn finetune --lora calls it
    res = {"params": {n: [[int(s) for s in p.shape], bool(p.requires_grad)] for n, p in model.named_parameters()}}
    res["loaded"] = _load(model, weights)
    if res["loaded"]:
        res["outputs"] = forward_calls(model, [[ids, False, None]], "the model after replace_linear_with_lora")
    return res


def probe_count(learner, cases):
    """The book's recipe: GPTModel(cfg) and a new out_head Linear(emb_dim, num_classes), built on
    the meta device, every parameter frozen, then replace_linear_with_lora(model, rank, alpha) (its
    A and B are small: made where the learner's code makes them, on the CPU by default, where a
    random draw costs nothing); the parameters' shapes and requires_grad."""
    results = []
    for cfg, num_classes, rank, alpha in cases:
        with torch.device("meta"):
            model = build(cfg, (num_classes, True))
        for p in model.parameters():
            p.requires_grad = False
        learner.replace_linear_with_lora(model, rank=rank, alpha=alpha)
        results.append({n: [[int(s) for s in p.shape], bool(p.requires_grad)] for n, p in model.named_parameters()})
    return results


def probe_load(learner, cases):
    """load_weights_into_gpt(GPTModel(cfg), params) for each case: the model's parameters after."""
    results = []
    for c in cases:
        torch.manual_seed(c["seed"])
        model = build(c["cfg"])
        learner.load_weights_into_gpt(model, dict(c["params"]))
        results.append(_params(model))
    return results


def probe_assign(learner, cases):
    """assign(left, right) for each (left's shape, right): what came back, or the exception's name."""
    out = []
    for shape, right in cases:
        left = nn.Parameter(torch.zeros(shape))
        try:
            got = learner.assign(left, right.clone())
        except Exception as e:  # noqa: BLE001 (the learner's code decides what it raises)
            out.append(type(e).__name__)
            continue
        expect(isinstance(got, torch.Tensor), "assign(left, right)", "an nn.Parameter", short(got, 60))
        out.append([got.detach().clone(), isinstance(got, nn.Parameter)])
    return out


# ----------------------------------------------------------------------------- inputs, weights


def draw_config(r, vocab=(12, 40), context=(4, 9), heads=(1, 3), head_dim=(2, 5), layers=(2, 4), qkv_bias=None) -> dict:
    h = r.randrange(*heads)
    return {
        "vocab_size": r.randrange(*vocab),
        "context_length": r.randrange(*context),
        "emb_dim": h * r.randrange(max(head_dim[0], -(-4 // h)), head_dim[1]),
        "n_heads": h,
        "n_layers": r.randrange(*layers),
        "drop_rate": 0.0,
        "qkv_bias": r.random() < 0.5 if qkv_bias is None else qkv_bias,
    }


def shapes_of_model(cfg: dict, head: tuple | None = None) -> dict[str, tuple]:
    with torch.device("meta"):
        return {n: tuple(p.shape) for n, p in build(cfg, head).named_parameters()}


def linear_paths(cfg: dict, head: tuple | None = None) -> dict[str, tuple[int, int, bool]]:
    """Every nn.Linear of the model by its path: (in_features, out_features, has a bias)."""
    with torch.device("meta"):
        model = build(cfg, head)
    return {n: (m.in_features, m.out_features, m.bias is not None) for n, m in model.named_modules() if isinstance(m, nn.Linear)}


def lora_shapes(cfg: dict, rank: int, head: tuple | None = None) -> dict[str, tuple]:
    """The parameters after replace_linear_with_lora: each Linear X becomes X.linear.* and
    X.lora.A (in, rank), X.lora.B (rank, out)."""
    base = shapes_of_model(cfg, head)
    shapes = {}
    paths = linear_paths(cfg, head)
    for name, shape in base.items():
        path, _, leaf = name.rpartition(".")
        shapes[f"{path}.linear.{leaf}" if path in paths else name] = shape
    for path, (i, o, _) in paths.items():
        shapes.update({f"{path}.lora.A": (i, rank), f"{path}.lora.B": (rank, o)})
    return shapes


def draw_weights(g, shapes: dict[str, tuple]) -> dict[str, torch.Tensor]:
    """A value for every parameter, by name, in sorted order (drawn in float64): norms' scale and
    shift away from 1 and 0, embeddings N(0, 1), weights scaled by their fan-in."""
    out = {}
    for name in sorted(shapes):
        shape = shapes[name]
        noise = torch.randn(shape, generator=g, dtype=torch.float64)
        if name.endswith("scale"):
            w = 1.0 + 0.3 * noise
        elif name.endswith(("shift", "bias")):
            w = 0.3 * noise
        elif name.endswith("emb.weight"):
            w = noise
        elif name.endswith("lora.A"):
            w = noise / math.sqrt(shape[0])
        elif name.endswith("lora.B"):
            w = 0.3 * noise / math.sqrt(shape[0])
        else:
            w = noise / math.sqrt(shape[1])
        out[name] = w.float()
    return out


def params_of(res, expected: dict[str, tuple], what: str) -> dict[str, torch.Tensor]:
    """A probe's {name: tensor}, checked to hold exactly the expected names and shapes."""
    got = expect_type(res, dict, what)
    ok = all(type(v) is torch.Tensor for v in got.values())
    expect(ok, what, "parameters as tensors", short(got, 80))
    expect_names({n: list(v.shape) for n, v in got.items()}, expected, what)
    return {n: v.double() for n, v in got.items()}


def expect_names(got: dict, expected: dict[str, tuple], what: str) -> None:
    """Fail with the names that are missing, unexpected or of another shape."""
    well_formed = all(type(n) is str and type(s) is list and all(type(k) is int for k in s) for n, s in got.items())
    expect(well_formed, f"{what}: parameter names and shapes", "names and lists of ints", short(got, 80))
    got = {n: tuple(s) for n, s in got.items()}
    if got == expected:
        return
    missing, unexpected = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    wrong = sorted(n for n in set(got) & set(expected) if got[n] != expected[n])
    exp_text, got_text = [], []
    if missing:
        exp_text.append(f"{len(missing)} more: {names(missing)}")
        got_text.append("no parameters by those names")
    if unexpected:
        exp_text.append("no other parameters")
        got_text.append(f"{len(unexpected)} other{'s' if len(unexpected) > 1 else ''}: {names(unexpected)}")
    if wrong:
        exp_text.append("; ".join(f"{n} {expected[n]}" for n in wrong[:3]))
        got_text.append("; ".join(f"{n} {got[n]}" for n in wrong[:3]))
    expect(False, f"{what}: parameter names and shapes", "; ".join(exp_text), "; ".join(got_text))


def names(keys: list[str], limit: int = 4) -> str:
    return ", ".join(keys[:limit]) + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def flagged_shapes(params, what: str) -> dict[str, list]:
    """{name: [shape, requires_grad]} as the probe sent it, checked to be that (so that it can be read)."""
    params = expect_type(params, dict, f"{what}: parameters")
    ok = all(type(v) is list and len(v) == 2 and type(v[1]) is bool for v in params.values())
    expect(ok, f"{what}: parameters", "[shape, requires_grad] for each", short(params, 80))
    return params


def oracle_logits(cfg: dict, state: dict[str, torch.Tensor], ids: torch.Tensor) -> torch.Tensor:
    """The judge's GPT holding `state` (the head's shape read from it), in float64: (B, T, rows)."""
    rows = state["out_head.weight"].shape[0]
    model = build(cfg, (rows, "out_head.bias" in state)).double()
    model.load_state_dict({n: v.double() for n, v in state.items()}, strict=True)
    with torch.no_grad():
        return model(ids)


def merged(state: dict[str, torch.Tensor], paths, scale: float) -> dict[str, torch.Tensor]:
    """A LoRA model's parameters as a plain model's: X.weight = X.linear.weight + scale * (A B)^T."""
    out = {n: v for n, v in state.items() if ".lora." not in n and ".linear." not in n}
    for p in paths:
        out[f"{p}.weight"] = state[f"{p}.linear.weight"] + scale * (state[f"{p}.lora.A"] @ state[f"{p}.lora.B"]).T  # (out, in)
        if f"{p}.linear.bias" in state:
            out[f"{p}.bias"] = state[f"{p}.linear.bias"]
    return out


def scales(alpha, rank) -> dict[str, float]:
    """The two scalings of LoRA that the checks accept."""
    return {"alpha (the print book)": float(alpha), "alpha / rank (the book's repository)": alpha / rank}


def draw_lora_size(r) -> tuple[int, int]:
    """rank and alpha with alpha, alpha / rank and 1 all different: each scaling gives other outputs."""
    rank = r.choice([2, 3, 4])
    return rank, r.choice([a for a in (2, 4, 6, 8) if a != rank])


# ------------------------------------------------------------------------------------- checks


def test_prepare_classifier_trains_last_block_norm_and_head():
    r, g = rng(), torch_gen()
    cfg = draw_config(r, layers=(2, 4), context=(4, 8))
    weights = draw_weights(g, shapes_of_model(cfg))
    num_classes = r.randint(2, 4)
    ids = torch.randint(0, cfg["vocab_size"], (3, r.randint(3, cfg["context_length"])), generator=g)
    labels = torch.randint(0, num_classes, (3,), generator=g)
    lr = 2.0
    got = expect_type(run(probe_prepare, cfg=cfg, weights=weights, num_classes=num_classes, ids=ids, labels=labels, lr=lr, seed=r.randrange(2**31)),
                      dict, "the probe's result")  # fmt: skip
    what = f"prepare_classifier(GPTModel({describe(cfg)}), num_classes={num_classes})"
    expected = shapes_of_model(cfg, (num_classes, True))
    before = params_of(got.get("before"), expected, f"{what}: out_head = nn.Linear(emb_dim={cfg['emb_dim']}, {num_classes}) and the rest kept")
    after = params_of(got.get("after"), expected, f"{what}, after one step")
    for name, w in weights.items():
        if not name.startswith("out_head."):
            expect_close(before[name], w, f"{what}: {name} (the pretrained weights are kept)")
    logits = oracle_logits(cfg, before, ids)
    expect_close(got.get("logits"), logits.float(), f"{what}(x) for x of shape {tuple(ids.shape)}: logits (B, T, num_classes)", atol=1e-4)

    # The step the judge expects: the last token's loss, SGD on the last block, final_norm and out_head only.
    last = f"trf_blocks.{cfg['n_layers'] - 1}."
    trains = {n for n in before if n.startswith((last, "final_norm.", "out_head."))}
    model = build(cfg, (num_classes, True)).double()
    model.load_state_dict(before, strict=True)
    params = dict(model.named_parameters())
    loss = F.cross_entropy(model(ids)[:, -1, :], labels)
    grads = dict(zip(params, torch.autograd.grad(loss, list(params.values()))))
    frozen_moved, trained_still = [], []
    for n in sorted(before):
        step = lr * grads[n] if n in trains else torch.zeros_like(before[n])
        if not torch.allclose(after[n], before[n] - step, atol=1e-5, rtol=1e-4):
            (trained_still if n in trains else frozen_moved).append(n)
    expect(not frozen_moved, f"{what}: parameters that changed in one training step (they should be frozen: requires_grad=False)",
           "none outside trf_blocks[-1], final_norm and out_head", names(frozen_moved))  # fmt: skip
    expect(not trained_still, f"{what}: parameters that did not take their training step (they should train: requires_grad=True)",
           f"every parameter of {last[:-1]} (the LAST block), final_norm and out_head steps by -lr * grad", names(trained_still))  # fmt: skip


def test_lora_fresh_layer_changes_nothing():
    r, g = rng(), torch_gen()
    cases = []
    for i in range(2):
        n_in, n_out = r.randint(3, 9), r.randint(2, 7)
        rank, alpha = draw_lora_size(r)
        bias = i == 0 or r.random() < 0.5
        linear = {"weight": torch.randn(n_out, n_in, generator=g)} | ({"bias": torch.randn(n_out, generator=g)} if bias else {})
        xs = [torch.randn(3, n_in, generator=g), torch.randn(2, 4, n_in, generator=g)]
        cases.append({"in": n_in, "out": n_out, "rank": rank, "alpha": alpha, "bias": bias, "linear": linear, "lora": None, "xs": xs, "seed": r.randrange(2**31)})
    got = expect_type(run(probe_lora, cases=cases), list, "the probe's results")
    expect_equal(len(got), len(cases), "number of results")
    for c, res in zip(cases, got):
        res = expect_type(res, dict, "a result")
        what = f"LinearWithLoRA(nn.Linear({c['in']}, {c['out']}, bias={c['bias']}), rank={c['rank']}, alpha={c['alpha']})"
        expected = {f"linear.{k}": tuple(v.shape) for k, v in c["linear"].items()} | {"lora.A": (c["in"], c["rank"]), "lora.B": (c["rank"], c["out"])}
        params = params_of(res.get("layer"), expected, what)
        expect_close(params["lora.B"], torch.zeros(c["rank"], c["out"]), f"{what}.lora.B at init (zeros: a fresh layer adds nothing)")
        expect(bool(params["lora.A"].abs().sum() > 0), f"{what}.lora.A at init", "random values (with B zero, A = 0 would stop B from ever learning)", "all zeros")
        bare = params_of(res.get("bare"), {"A": (c["in"], c["rank"]), "B": (c["rank"], c["out"])}, f"LoRALayer({c['in']}, {c['out']}, rank={c['rank']}, alpha={c['alpha']})")
        expect_close(bare["B"], torch.zeros(c["rank"], c["out"]), f"LoRALayer({c['in']}, {c['out']}, ...).B at init")
        outs = answers(res.get("outputs"), len(c["xs"]), f"{what}: outputs")
        bare_outs = answers(res.get("bare_outputs"), len(c["xs"]), "LoRALayer(...): outputs")
        for x, out, bare_out in zip(c["xs"], outs, bare_outs):
            plain = F.linear(x.double(), c["linear"]["weight"].double(), c["linear"]["bias"].double() if c["bias"] else None)
            expect_close(out, plain.float(), f"{what}(x), fresh, vs the linear layer alone (x of shape {tuple(x.shape)})")
            expect_close(bare_out, torch.zeros(*x.shape[:-1], c["out"]), f"a fresh LoRALayer(x) (x of shape {tuple(x.shape)}): zeros, since B is zero")


def test_lora_adds_scaled_low_rank_update():
    r, g = rng(), torch_gen()
    cases = []
    for i in range(2):
        n_in, n_out = r.randint(3, 9), r.randint(2, 7)
        rank, alpha = draw_lora_size(r)
        bias = i == 0 or r.random() < 0.5
        linear = {"weight": torch.randn(n_out, n_in, generator=g)} | ({"bias": torch.randn(n_out, generator=g)} if bias else {})
        lora = {"A": torch.randn(n_in, rank, generator=g), "B": torch.randn(rank, n_out, generator=g)}
        xs = [torch.randn(3, n_in, generator=g), torch.randn(2, 4, n_in, generator=g)]
        upstream = torch.randn(2, 4, n_out, generator=g)  # d loss / d output, for the backward pass
        cases.append({"in": n_in, "out": n_out, "rank": rank, "alpha": alpha, "bias": bias, "linear": linear,
                      "lora": lora, "xs": xs, "seed": r.randrange(2**31), "upstream": upstream})  # fmt: skip
    cases[1] |= {"alpha": float(cases[1]["alpha"]), "keywords": True}  # learn finetune --lora passes a float
    got = expect_type(run(probe_lora, cases=cases), list, "the probe's results")
    expect_equal(len(got), len(cases), "number of results")
    for c, res in zip(cases, got):
        res = expect_type(res, dict, "a result")
        what = f"LinearWithLoRA(nn.Linear({c['in']}, {c['out']}, bias={c['bias']}), rank={c['rank']}, alpha={c['alpha']})"
        expect(res.get("loaded") is True, f"{what}: load_state_dict of the grader's linear.weight, lora.A and lora.B (the book's names)",
               "it loads (strict)", short(res.get("loaded")))  # fmt: skip
        outs = answers(res.get("outputs"), len(c["xs"]), f"{what}: outputs")
        bare_outs = answers(res.get("bare_outputs"), len(c["xs"]), "LoRALayer(...): outputs")
        a, b = c["lora"]["A"].double(), c["lora"]["B"].double()
        for x, out, bare_out in zip(c["xs"], outs, bare_outs):
            xd = x.double()
            plain = F.linear(xd, c["linear"]["weight"].double(), c["linear"]["bias"].double() if c["bias"] else None)
            update = xd @ a @ b  # (..., out)
            shown = f"x of shape {tuple(x.shape)}, the grader's A and B"
            for kind, got_out, base in ((what, out, plain), (f"LoRALayer({c['in']}, {c['out']}, rank={c['rank']}, alpha={c['alpha']})", bare_out, 0 * plain)):
                expect(type(got_out) is torch.Tensor and tuple(got_out.shape) == tuple(plain.shape), f"{kind}(x): shape", tuple(plain.shape), short(got_out, 60))
                fits = [name for name, s in scales(c["alpha"], c["rank"]).items() if torch.allclose(got_out.double(), base + s * update, atol=1e-4, rtol=1e-4)]
                if not fits:
                    unscaled = torch.allclose(got_out.double(), base + update, atol=1e-4, rtol=1e-4)
                    expect(False, f"{kind}(x) ({shown})", f"{'linear(x) + ' if base is plain else ''}scale * (x @ A @ B), scale = alpha = {c['alpha']} "
                           f"or alpha / rank = {c['alpha'] / c['rank']:.4g}", "the update without its scale" if unscaled else "other values")  # fmt: skip
        scale = next(s for s in scales(c["alpha"], c["rank"]).values()
                     if torch.allclose(outs[-1].double(), layer_oracle(c, s, c["xs"][-1])[0], atol=1e-4, rtol=1e-4))
        check_lora_grads(res.get("grads"), c, what, scale)


def layer_oracle(c, scale, x, grad=False):
    """linear(x) + scale * (x @ A @ B) in float64, with x, A and B requiring grad when asked."""
    x, a, b = (t.double().requires_grad_(grad) for t in (x, c["lora"]["A"], c["lora"]["B"]))
    plain = F.linear(x, c["linear"]["weight"].double(), c["linear"]["bias"].double() if c["bias"] else None)
    return plain + scale * (x @ a @ b), x, a, b  # (..., out)


def check_lora_grads(grads, c, what, scale):
    """Gradients of (layer(x) * upstream).sum() at the scale its outputs showed, the linear layer frozen:
    A, B and x get theirs, as learn finetune --lora trains A and B of every layer through the frozen ones above."""
    grads = expect_type(grads, dict, f"{what}: the gradients")
    out, x, a, b = layer_oracle(c, scale, c["xs"][-1], grad=True)
    want = dict(zip(("lora.A", "lora.B", "x"), torch.autograd.grad((out * c["upstream"].double()).sum(), (a, b, x))))
    shown = f"{what}, its linear layer frozen: d(sum(layer(x) * u))/d"
    for name, expected in want.items():
        got = grads.get(name)
        expect(type(got) is torch.Tensor, f"{shown}{name}", "a gradient (the update back-propagates)", short(got, 60))
        expect_close(got, expected.float(), f"{shown}{name}")
    for name in (f"linear.{k}" for k in c["linear"]):
        frozen = grads.get(name)
        expect(frozen is None, f"{shown}{name}", "None (the linear layer stays frozen)", short(frozen, 60))


def test_replace_linear_with_lora_reaches_every_linear():
    r, g = rng(), torch_gen()
    cfg = draw_config(r, layers=(2, 3))
    rank, alpha = draw_lora_size(r)
    paths = linear_paths(cfg)
    shapes = lora_shapes(cfg, rank)
    weights = draw_weights(g, shapes)
    ids = torch.randint(0, cfg["vocab_size"], (2, cfg["context_length"]), generator=g)
    got = expect_type(run(probe_replace, cfg=cfg, rank=rank, alpha=alpha, weights=weights, ids=ids, seed=r.randrange(2**31)), dict, "the probe's result")
    what = f"replace_linear_with_lora(a frozen GPTModel({describe(cfg)}), rank={rank}, alpha={alpha})"
    params = flagged_shapes(got.get("params"), what)
    missed = sorted(p for p in paths if f"{p}.weight" in params)
    expect(not missed, f"{what}: nn.Linear layers left as they were (every one, at any depth, becomes LinearWithLoRA)", "none", names(missed))
    expect_names({n: v[0] for n, v in params.items()}, shapes, what)
    trainable = sorted(n for n, v in params.items() if v[1] is True)
    expect_equal(trainable, sorted(n for n in shapes if ".lora." in n), f"{what}: the trainable parameters (the model was frozen first)")
    expect(got.get("loaded") is True, f"{what}: load_state_dict of the grader's weights", "it loads (strict)", short(got.get("loaded")))
    (out,) = answers(got.get("outputs"), 1, f"{what}: outputs")
    state = {n: w.double() for n, w in weights.items()}
    options = {name: oracle_logits(cfg, merged(state, paths, s), ids) for name, s in scales(alpha, rank).items()}
    expect(type(out) is torch.Tensor and tuple(out.shape) == (*ids.shape, cfg["vocab_size"]), f"{what}: logits", "(B, T, vocab_size)", short(out, 60))
    fits = [name for name, want in options.items() if torch.allclose(out.double(), want, atol=1e-4, rtol=1e-4)]
    expect(bool(fits), f"{what}: logits with the grader's weights and LoRA A, B in every layer",
           "those of the plain model with W + scale * (A B)^T in every Linear, scale alpha or alpha / rank", "other values")  # fmt: skip


def test_lora_trainable_parameter_counts():
    r = rng()
    book = (GPT2_124M, 2, 16, 16)
    drawn = []
    for _ in range(2):
        h = r.randint(1, 8)
        cfg = {**GPT2_124M, "vocab_size": r.randint(100, 50257), "context_length": r.choice([128, 256, 1024]), "emb_dim": h * r.choice([16, 32, 64]),
               "n_heads": h, "n_layers": r.randint(1, 12), "qkv_bias": r.random() < 0.5}  # fmt: skip
        drawn.append((cfg, r.randint(2, 5), r.randint(1, 32), r.choice([1, 8, 16, 32])))
    cases = [book, *drawn]
    got = expect_type(run(probe_count, cases=cases), list, "the probe's results")
    expect_equal(len(got), len(cases), "number of models")
    for (cfg, num_classes, rank, alpha), params in zip(cases, got):
        head = (num_classes, True)
        what = (f"GPTModel({'the book' + chr(39) + 's 124M' if cfg is GPT2_124M else describe(cfg)}) with out_head = Linear({cfg['emb_dim']}, {num_classes}), "
                f"frozen, then replace_linear_with_lora(model, rank={rank}, alpha={alpha})")  # fmt: skip
        params = flagged_shapes(params, what)
        missed = sorted(p for p in linear_paths(cfg, head) if f"{p}.weight" in params)
        expect(not missed, f"{what}: nn.Linear layers left as they were", "none", names(missed))
        expect_names({n: v[0] for n, v in params.items()}, lora_shapes(cfg, rank, head), what)
        count = sum(math.prod(v[0]) for v in params.values() if v[1] is True)
        expected = sum(rank * (i + o) for i, o, _ in linear_paths(cfg, head).values())
        if cfg is GPT2_124M:
            assert expected == 2_666_528  # the book's figure
        expect(count == expected, f"{what}: trainable parameters (requires_grad)", f"{expected:,} (rank * (in + out) for every Linear)", f"{count:,}")


@cache
def stored_gpt2() -> dict:
    """fixtures/stage6_finetune/gpt2_tiny.json: config, params (Hugging Face names), input ids, logits."""
    raw = json.loads(fixture(PKG, "gpt2_tiny.json").read_text(encoding="utf-8"))
    floats = lambda p: torch.tensor(p["values"], dtype=torch.float32).view(p["shape"])  # noqa: E731
    return {
        "config": dict(raw["config"]),
        "params": {name: floats(p) for name, p in raw["params"].items()},
        "input_ids": torch.tensor(raw["input_ids"]),
        "logits": torch.tensor(raw["logits"], dtype=torch.float32),
    }


def book_state(params: dict[str, torch.Tensor], n_layers: int) -> dict[str, tuple[torch.Tensor, str]]:
    """Where each of the book's parameters comes from in GPT-2's checkpoint: (value, said how)."""
    out = {
        "tok_emb.weight": (params["wte.weight"], "wte.weight"),
        "pos_emb.weight": (params["wpe.weight"], "wpe.weight"),
        "final_norm.scale": (params["ln_f.weight"], "ln_f.weight"),
        "final_norm.shift": (params["ln_f.bias"], "ln_f.bias"),
        "out_head.weight": (params["wte.weight"], "wte.weight (GPT-2 ties its output head to the token embedding)"),
    }
    for i in range(n_layers):
        h, b = f"h.{i}.", f"trf_blocks.{i}."
        for k, (name, part) in enumerate((("W_query", "queries"), ("W_key", "keys"), ("W_value", "values"))):
            w, bias = params[h + "attn.c_attn.weight"].chunk(3, dim=-1)[k], params[h + "attn.c_attn.bias"].chunk(3, dim=-1)[k]
            out[f"{b}att.{name}.weight"] = (w.T, f"the {part}, third {k + 1} of 3 of {h}attn.c_attn.weight along its last dim, transposed")
            out[f"{b}att.{name}.bias"] = (bias, f"the {part}, third {k + 1} of 3 of {h}attn.c_attn.bias")
        for book, hf in (("att.out_proj", "attn.c_proj"), ("ff.layers.0", "mlp.c_fc"), ("ff.layers.2", "mlp.c_proj")):
            out[f"{b}{book}.weight"] = (params[f"{h}{hf}.weight"].T, f"{h}{hf}.weight transposed (Conv1D stores (in, out))")
            out[f"{b}{book}.bias"] = (params[f"{h}{hf}.bias"], f"{h}{hf}.bias")
        for book, hf in (("norm1", "ln_1"), ("norm2", "ln_2")):
            out[f"{b}{book}.scale"] = (params[f"{h}{hf}.weight"], f"{h}{hf}.weight")
            out[f"{b}{book}.shift"] = (params[f"{h}{hf}.bias"], f"{h}{hf}.bias")
    return out


def wrong_parameters(state: dict[str, torch.Tensor], sources: dict) -> list[str]:
    """The loaded parameters that are not what GPT-2's checkpoint says: each with where it comes
    from, and what it holds instead when that is recognisable (the transpose, another's value)."""
    same = lambda a, b: a.shape == b.shape and torch.allclose(a.double(), b.double(), atol=1e-6, rtol=0)  # noqa: E731
    wrong = []
    for name, (value, how) in sources.items():
        got = state[name]
        if same(got, value):
            continue
        hint = ""
        if got.dim() == 2 and same(got, value.T):
            hint = " (it holds that not transposed)"
        else:
            other = next((n for n, (v, _) in sources.items() if n != name and not same(v, value) and same(got, v)), None)
            hint = f" (it holds what {other} should)" if other else ""
        wrong.append(f"{name} should be {how}{hint}")
    return wrong


def listed(wrong: list[str], limit: int = 4) -> str:
    """The wrong parameters, one a line, for a check's message."""
    lines = [f"\n    - {w}" for w in wrong[:limit]]
    return "".join(lines) + (f"\n    ... and {len(wrong) - limit} more" if len(wrong) > limit else "")


def test_gpt2_weights_give_reference_logits():
    stored, r, g = stored_gpt2(), rng(), torch_gen()
    cfg = stored["config"]
    drawn = {}  # the same names and shapes, values of this run (the causal mask kept)
    for name in sorted(stored["params"]):
        shape = tuple(stored["params"][name].shape)
        noise = torch.randn(shape, generator=g, dtype=torch.float64)
        if name.endswith(".attn.bias"):
            drawn[name] = stored["params"][name]
        elif ".ln_" in f".{name}" and name.endswith("weight"):
            drawn[name] = (1.0 + 0.3 * noise).float()
        elif name.endswith("bias"):
            drawn[name] = (0.3 * noise).float()
        elif name in ("wte.weight", "wpe.weight"):
            drawn[name] = noise.float()
        else:
            drawn[name] = (noise / math.sqrt(shape[0])).float()
    cases = [{"cfg": cfg, "params": stored["params"], "seed": r.randrange(2**31)}, {"cfg": cfg, "params": drawn, "seed": r.randrange(2**31)}]
    got = expect_type(run(probe_load, cases=cases), list, "the probe's results")
    expect_equal(len(got), len(cases), "number of models")
    expected = shapes_of_model(cfg)
    for c, res, source in zip(cases, got, ("the stored GPT-2-format checkpoint", "GPT-2-format weights drawn by the grader")):
        what = f"load_weights_into_gpt(GPTModel({describe(cfg)}), {source})"
        state = params_of(res, expected, what)
        wrong = wrong_parameters(state, book_state(c["params"], cfg["n_layers"]))
        if c["params"] is stored["params"]:
            ids = stored["input_ids"]
            logits = oracle_logits(cfg, state, ids)
            if not torch.allclose(logits, stored["logits"].double(), atol=1e-4, rtol=1e-4):
                gap = float((logits - stored["logits"].double()).abs().max())
                expect(False, f"{what}: logits on ids of shape {tuple(ids.shape)}, vs those of GPT-2's own forward pass on that "
                       f"checkpoint; the parameters that differ from it:{listed(wrong)}",
                       "the same logits", f"other logits (largest |difference| {gap:.3g})")  # fmt: skip
        expect(not wrong, f"{what}: the parameters that differ from the checkpoint:{listed(wrong)}", "every one loaded", f"{len(wrong)} wrong")


def test_assign_refuses_a_shape_mismatch():
    r, g = rng(), torch_gen()
    a, b = r.randint(2, 5), r.randint(6, 9)
    same = torch.randn(a, b, generator=g)
    cases = [((a, b), same), ((a, b), same.T.clone()), ((b,), torch.randn(b + 1, generator=g))]
    got = expect_type(run(probe_assign, cases=cases), list, "the probe's results")
    expect_equal(len(got), len(cases), "number of results")
    ok = got[0]
    expect(type(ok) is list and len(ok) == 2, f"assign(a Parameter of shape {(a, b)}, a tensor of that shape)", "a new nn.Parameter", short(ok, 60))
    expect_close(ok[0], same, f"assign(left of shape {(a, b)}, right): the values of right")
    expect(ok[1] is True, f"assign(left of shape {(a, b)}, right)", "an nn.Parameter (a module keeps it as a parameter)", "a plain tensor")
    for (shape, right), v in zip(cases[1:], got[1:]):
        expect(v == "ValueError", f"assign(left of shape {shape}, right of shape {tuple(right.shape)})", "ValueError (the shapes differ)",
               "no error" if type(v) is list else f"{v}")  # fmt: skip
