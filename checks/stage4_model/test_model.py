"""Graded checks for stage 4, the model (lessons/stage4_model.md, §1-§7).

Each check's points, lesson idea and hint live in curriculum.toml. The oracles are torch itself
(F.layer_norm, F.gelu, F.linear), the learner's own submodules recombined the book's way, and a
tiny model's weights and logits stored in fixtures/stage4_model/tiny_gpt.json (written by
fixtures/stage4_model/generate.py). Every model here is tiny; the 124M model is only ever built on
the `meta` device, where parameters have shapes but no memory.
"""

import json
import math

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from learn.checking import expect, expect_close, expect_equal, fixture

PKG = "stage4_model"
TINY = json.loads(fixture(PKG, "tiny_gpt.json").read_text(encoding="utf-8"))
TINY_CONFIG = TINY["config"]  # vocab 50, context 8, emb 16, 2 heads, 2 layers, no dropout, qkv_bias
BOOK_124M = {
    "vocab_size": 50257,
    "context_length": 1024,
    "emb_dim": 768,
    "n_heads": 12,
    "n_layers": 12,
    "drop_rate": 0.1,
    "qkv_bias": False,
}


def config(**changes) -> dict:
    """The book's config keys with tiny values; qkv_bias off unless changed."""
    return {**TINY_CONFIG, "qkv_bias": False, **changes}


def stored_weights() -> dict[str, torch.Tensor]:
    return {
        name: torch.tensor(p["values"], dtype=torch.float32).view(p["shape"])
        for name, p in TINY["state_dict"].items()
    }


def load_stored_model(learner):
    """GPTModel(tiny config) with the stored weights, loaded with strict=True, in eval mode.

    Only parameters are stored: buffers such as the attention's causal mask are not learned, so
    each model keeps its own (whether or not it saves them in its state dict).
    """
    model = learner.GPTModel(dict(TINY_CONFIG))
    weights = stored_weights()
    own = {name: tuple(p.shape) for name, p in model.named_parameters()}
    missing, unexpected = sorted(set(weights) - set(own)), sorted(set(own) - set(weights))
    expect(not missing and not unexpected, "GPTModel's parameter names (the book's, as in its state_dict)",
           f"also {missing}" if missing else "no other parameters", f"also {unexpected}" if unexpected else "none missing")
    for name, value in weights.items():
        expect_equal(own[name], tuple(value.shape), f"shape of {name} with the tiny config {TINY_CONFIG}")
    params = set(own)
    for name, value in model.state_dict().items():
        if name not in params:
            weights.setdefault(name, value)  # the learner's own buffers
    model.load_state_dict(weights, strict=True)
    return model.eval()


class MetaWeights(TorchFunctionMode):
    """Like `with torch.device("meta"):` for the weights, without its one-off cost.

    On the meta device a tensor has a shape and no memory, so GPT-2's 163M parameters cost
    nothing. But the first random init of a meta tensor (nn.Embedding's normal_) loads torch's
    Python meta kernels, over a second. Here the tensors nn.Linear and nn.Embedding allocate
    (torch.empty) go to meta and in-place initialization of meta tensors is skipped; everything
    else, such as the attention's causal mask, is built on the CPU as usual.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.empty:
            return func(*args, **{**kwargs, "device": "meta"})
        name = getattr(func, "__name__", "")
        if name.endswith("_") and not name.endswith("__"):  # in place: normal_, uniform_, fill_, ...
            target = args[0] if args else kwargs.get("tensor")
            if isinstance(target, torch.Tensor) and target.is_meta:
                return target
        return func(*args, **kwargs)


def build_on_meta(learner, cfg):
    """GPTModel(cfg) with its large weights on the meta device: never 650 MB of memory."""
    try:
        with MetaWeights():
            return learner.GPTModel(cfg)
    except NotImplementedError:
        raise
    except Exception:  # an unusual but correct model that the shortcut trips: the plain meta device
        with torch.device("meta"):
            return learner.GPTModel(cfg)


def test_layer_norm_matches_torch(learner):
    ln = learner.LayerNorm(6)
    params = dict(ln.named_parameters())
    expect_equal(sorted(params), ["scale", "shift"], "the trainable parameters of LayerNorm(6)")
    expect_close(ln.scale, torch.ones(6), "LayerNorm(6).scale at init")
    expect_close(ln.shift, torch.zeros(6), "LayerNorm(6).shift at init")
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        ln.scale.copy_(torch.randn(6, generator=gen))
        ln.shift.copy_(torch.randn(6, generator=gen))
    x = torch.randn(2, 3, 6, generator=gen) * 3 + 2
    x[1, 2] = 5 + torch.randn(6, generator=gen) * 1e-3  # variance ~1e-6, below eps: eps matters here
    with torch.no_grad():
        got = ln(x)
        expected = F.layer_norm(x, (6,), ln.scale, ln.shift, eps=1e-5)
    expect_close(got, expected, "LayerNorm(6)(x) vs F.layer_norm(x, (6,), scale, shift, eps=1e-5)")


def test_gelu_matches_tanh_approximation(learner):
    x = torch.linspace(-6, 6, 240).view(2, 10, 12)
    with torch.no_grad():
        got = learner.GELU()(x)
    expect_close(got, F.gelu(x, approximate="tanh"), 'GELU()(x) vs F.gelu(x, approximate="tanh")', atol=1e-6, rtol=1e-5)


def test_feed_forward_expands_4x(learner):
    torch.manual_seed(0)
    ff = learner.FeedForward(config(emb_dim=8))
    shapes = {name: tuple(p.shape) for name, p in ff.named_parameters()}
    expected_shapes = {"layers.0.weight": (32, 8), "layers.0.bias": (32,), "layers.2.weight": (8, 32), "layers.2.bias": (8,)}
    expect_equal(shapes, expected_shapes, "FeedForward(emb_dim=8) parameters: Sequential(Linear(8, 32), GELU(), Linear(32, 8))")
    x = torch.randn(2, 3, 8)
    with torch.no_grad():
        w1, b1, w2, b2 = ff.layers[0].weight, ff.layers[0].bias, ff.layers[2].weight, ff.layers[2].bias
        expected = F.linear(F.gelu(F.linear(x, w1, b1), approximate="tanh"), w2, b2)
        got = ff(x)
    expect_close(got, expected, "FeedForward(x) vs Linear -> GELU (tanh) -> Linear with its own weights")


def test_transformer_block_pre_norm_residual(learner):
    torch.manual_seed(0)
    block = learner.TransformerBlock(config(emb_dim=8, context_length=6)).eval()
    for name in ("att", "ff", "norm1", "norm2", "drop_shortcut"):
        expect(hasattr(block, name), f"TransformerBlock has the book's attribute {name!r}", name, sorted(vars(block)["_modules"]))
    with torch.no_grad():
        for norm in (block.norm1, block.norm2):  # make the norms matter
            norm.scale.copy_(1 + 0.5 * torch.randn(8))
            norm.shift.copy_(0.5 * torch.randn(8))
        x = torch.randn(2, 5, 8) * 2 + 1
        h = x + block.att(block.norm1(x))
        expected = h + block.ff(block.norm2(h))
        got = block(x)
    expect_close(got, expected, "TransformerBlock(x) vs h = x + att(norm1(x)); h + ff(norm2(h)) with its own submodules")


def test_logits_shape(learner):
    torch.manual_seed(0)
    model = learner.GPTModel(config()).eval()
    for batch, tokens in [(2, 8), (3, 5), (1, 1)]:
        ids = torch.randint(0, 50, (batch, tokens))
        with torch.no_grad():
            logits = model(ids)
        expect(isinstance(logits, torch.Tensor), f"GPTModel(...)(ids of shape {(batch, tokens)}) returns", "a tensor", type(logits).__name__)
        expect_equal(tuple(logits.shape), (batch, tokens, 50), f"logits shape for ids of shape {(batch, tokens)} (context_length 8, vocab_size 50)")
        expect(logits.is_floating_point(), "logits dtype", "a float dtype", logits.dtype)


def test_model_is_causal(learner):
    torch.manual_seed(0)
    model = learner.GPTModel(config()).eval()
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 50, (2, 8), generator=gen)
    with torch.no_grad():
        base = model(ids)
        for t in range(1, 8):
            changed = ids.clone()
            changed[:, t:] = (changed[:, t:] + torch.randint(1, 50, (2, 8 - t), generator=gen)) % 50
            logits = model(changed)
            expect_close(logits[:, :t], base[:, :t], f"logits at positions 0..{t - 1} after changing only tokens {t}..7")


def test_stored_weights_give_reference_logits(learner):
    model = load_stored_model(learner)
    ids = torch.tensor(TINY["input_ids"])
    expected = torch.tensor(TINY["logits"])
    with torch.no_grad():
        expect_close(model(ids), expected, "logits of the tiny model with the stored weights", atol=1e-4, rtol=1e-4)
        expect_close(model(ids[:, :5]), expected[:, :5], "the same on the first 5 tokens only (T < context_length)", atol=1e-4, rtol=1e-4)


def test_loss_at_init_near_ln_vocab(learner):
    vocab_size = 500
    torch.manual_seed(123)
    model = learner.GPTModel(config(vocab_size=vocab_size, context_length=16, emb_dim=32, n_heads=4)).eval()
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, vocab_size, (8, 16), generator=gen)
    targets = torch.randint(0, vocab_size, (8, 16), generator=gen)
    with torch.no_grad():
        logits = model(ids)
    loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten()).item()
    ln_v = math.log(vocab_size)
    expect(ln_v - 0.3 < loss < ln_v + 0.6, f"cross-entropy of an untrained model on random targets, near ln({vocab_size})",
           f"{ln_v:.2f} (between {ln_v - 0.3:.2f} and {ln_v + 0.6:.2f})", f"{loss:.2f}")


def test_parameter_count_124m(learner):
    model = build_on_meta(learner, dict(BOOK_124M))
    total = sum(p.numel() for p in model.parameters())
    expect_equal(total, 163_009_536, "parameters of GPTModel(GPT_CONFIG_124M)")
    expect_equal(total - model.out_head.weight.numel(), 124_412_160, "parameters without out_head (weights tied to tok_emb)")
    expect_equal(dict(learner.GPT_CONFIG_124M), BOOK_124M, "GPT_CONFIG_124M")


def test_dropout_only_in_training(learner):
    torch.manual_seed(0)
    model = learner.GPTModel(config(drop_rate=0.5))
    ids = torch.randint(0, 50, (2, 8))
    model.train()
    with torch.no_grad():
        a, b = model(ids), model(ids)
    expect(not torch.allclose(a, b), "two forward passes in train mode with drop_rate 0.5", "different logits (dropout is random)", "the same logits")
    model.eval()
    with torch.no_grad():
        c, d = model(ids), model(ids)
        expect_close(d, c, "two forward passes in eval mode")
        no_dropout = learner.GPTModel(config(drop_rate=0.0))
        no_dropout.load_state_dict(model.state_dict())
        no_dropout.eval()
        expect_close(c, no_dropout(ids), "eval-mode logits with drop_rate 0.5 vs the same weights with drop_rate 0.0")
