"""Graded checks for stage 5, the training loops and one good step (lessons/stage5_pretrain.md, §4-§9).

Probes (`probe_*`) run in the worker on the learner's code and send back plain data: losses,
learning rates and the final weights. The checks (`test_*`) run in the judge, which replays the
same training itself with plain SGD on a stub model whose logits are scale * table[idx] (the
gradient of the loss is all it needs), and compares. Clipping is judged by that recomputation
alone, never by an observer in the worker.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from learn.judge.checking import expect, expect_close, rng, run, short, torch_gen

PKG = "stage5_pretrain"


# ---------------------------------------------------------------------- stub models (worker)


class Table(nn.Module):
    """logits[b, t] = scale * table[idx[b, t]], with dropout on the logits if drop > 0.

    pos_emb is there for generate_and_print_sample, which reads the context length from it."""

    def __init__(self, table, scale=1.0, drop=0.0, context=8):
        super().__init__()
        self.table = nn.Parameter(torch.as_tensor(table, dtype=torch.float32).clone())
        self.pos_emb = nn.Embedding(context, 1)
        self.pos_emb.weight.requires_grad_(False)
        self.scale = scale
        self.drop = nn.Dropout(drop)

    def forward(self, idx):
        return self.drop(self.scale * self.table[idx])  # (B, T, V)


class Linear(nn.Module):
    """An embedding and a linear head: the head's matmul is what autocast runs in bfloat16."""

    def __init__(self, vocab, emb):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.head = nn.Linear(emb, vocab)
        self.seen = []

    def forward(self, idx):
        logits = self.head(self.emb(idx))  # (B, T, V)
        self.seen.append(str(logits.dtype))
        return logits


class Letters:
    """A tokenizer for the stub's vocabulary: byte b is id b % vocab."""

    def __init__(self, vocab):
        self.vocab = vocab

    def encode(self, text, allowed_special=None):
        return [b % self.vocab for b in text.encode("utf-8")]

    def decode(self, ids):
        return "".join(chr(97 + i % 26) for i in ids)


def need_fn(learner, name):
    fn = getattr(learner, name, None)
    expect(callable(fn), f"{PKG} should define {name} (the book's name)", name, "no such function")
    return fn


def floats(values, what):
    expect(isinstance(values, (list, tuple)), what, "a list of numbers", short(values, 60))
    out = []
    for v in values:
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            v = v.item()
        expect(isinstance(v, (int, float)), what, "a list of numbers", short(values, 60))
        out.append(float(v))
    return out


# ------------------------------------------------------------------------------------- probes


def probe_loop(learner, fn, table, scale, train, val, lr, kwargs):
    """Run train_model_simple or train_model with SGD(lr) on Table(table, scale)."""
    loop = need_fn(learner, fn)
    vocab = table.shape[0]
    model = Table(table, scale)
    optimizer = torch.optim.SGD([model.table], lr=lr)
    out = loop(model, train, val, optimizer, "cpu", kwargs.pop("epochs"), tokenizer=Letters(vocab), start_context="ab", **kwargs)
    expect(isinstance(out, tuple), f"{fn}(...)", "a tuple of lists", short(out, 60))
    lists = [floats(v, f"{fn}(...)") for v in out]
    return lists, model.table.detach().clone()


def probe_step(learner, table, micro, lr, scale):
    step = need_fn(learner, "train_step")
    model = Table(table, scale)
    optimizer = torch.optim.SGD([model.table], lr=lr)
    loss = step(model, micro, optimizer, "cpu")
    if isinstance(loss, torch.Tensor):
        loss = loss.item()
    return loss, model.table.detach().clone()


def probe_autocast(learner, vocab, emb, x, y):
    ctx, step = need_fn(learner, "autocast_context"), need_fn(learner, "train_step")
    torch.manual_seed(0)
    model = Linear(vocab, emb)
    with ctx("cpu", "bf16"):
        bf16 = str(model(x).dtype)
    with ctx("cpu", "fp32"):
        fp32 = str(model(x).dtype)
    model.seen.clear()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    step(model, [(x, y)], optimizer, "cpu", precision="bf16")
    return bf16, fp32, list(model.seen), sorted({str(p.dtype) for p in model.parameters()})


def probe_resume(learner, table, other, batches, split, seed):
    """Train with dropout, checkpoint after `split` steps and go on; then resume in a fresh model."""
    import random
    import tempfile
    from pathlib import Path

    step = need_fn(learner, "train_step")
    save, load = need_fn(learner, "save_checkpoint"), need_fn(learner, "load_checkpoint")
    folder = Path(tempfile.mkdtemp())
    torch.manual_seed(seed)
    model = Table(table, 1.0, drop=0.5)
    optimizer = torch.optim.AdamW([model.table], lr=0.05)
    for b in batches[:split]:
        step(model, [b], optimizer, "cpu")
    save(folder / "ckpt.pt", model, optimizer, split)
    straight = [float(step(model, [b], optimizer, "cpu")) for b in batches[split:]]
    final = model.table.detach().clone()

    torch.manual_seed(seed + 1)
    random.seed(seed + 1)
    fresh = Table(other, 1.0, drop=0.5)
    optimizer = torch.optim.AdamW([fresh.table], lr=0.05)
    torch.rand(7)
    ckpt = load(folder / "ckpt.pt", fresh, optimizer)
    resumed = [float(step(fresh, [b], optimizer, "cpu")) for b in batches[split:]]
    got_step = ckpt.get("step") if isinstance(ckpt, dict) else None
    return straight, resumed, final, fresh.table.detach().clone(), got_step


def probe_overfit(learner, table, batch, steps):
    step, loss_fn = need_fn(learner, "train_step"), need_fn(learner, "calc_loss_batch")
    model = Table(table, 1.0)
    optimizer = torch.optim.AdamW([model.table], lr=0.3, weight_decay=0.0)
    for _ in range(steps):
        step(model, [batch], optimizer, "cpu")
    return float(loss_fn(batch[0], batch[1], model, "cpu").detach())


# ----------------------------------------------------------------------------- inputs, oracles


def draw(g, vocab, n, b, t):
    return [(torch.randint(0, vocab, (b, t), generator=g), torch.randint(0, vocab, (b, t), generator=g)) for _ in range(n)]


def loss_of(w, x, y, scale):
    logits = scale * w[x]  # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1), y.flatten())  # (B*T, V), (B*T,)


def schedule(step, peak, warmup, total, initial, min_lr):
    """Appendix D: linear warm-up from initial to peak, then cosine from peak to min_lr."""
    if step < warmup:
        return initial + step * (peak - initial) / warmup
    progress = (step - warmup) / (total - warmup)
    return min_lr + (peak - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def replay(table, scale, train, val, lr, epochs, eval_freq, eval_iter, warmup=None, initial=3e-5, min_lr=1e-6):
    """The book's loop, replayed with SGD: (train_losses, val_losses, tokens_seen[, lrs]), final weights."""
    w = table.clone().double()
    tl, vl, seen, lrs = [], [], [], []
    tokens, step, total = 0, -1, len(train) * epochs
    for _ in range(epochs):
        for x, y in train:
            step += 1
            rate = lr if warmup is None else schedule(step, lr, warmup, total, initial, min_lr)
            lrs.append(rate)
            w.requires_grad_(True)
            (grad,) = torch.autograd.grad(loss_of(w, x, y, scale), w)
            if warmup is not None and step >= warmup:
                grad = grad * min(1.0, 1.0 / (float(grad.norm()) + 1e-6))
            w = (w - rate * grad).detach()
            tokens += x.numel()
            if step % eval_freq == 0:
                with torch.no_grad():
                    tl.append(sum(float(loss_of(w, a, b, scale)) for a, b in train[:eval_iter]) / min(eval_iter, len(train)))
                    vl.append(sum(float(loss_of(w, a, b, scale)) for a, b in val[:eval_iter]) / min(eval_iter, len(val)))
                seen.append(tokens)
    return ([tl, vl, seen] if warmup is None else [tl, vl, seen, lrs]), w


def same_list(got, expected, what, atol=1e-5, rtol=1e-4):
    expect(len(got) == len(expected), f"{what}: length", len(expected), len(got))
    for i, (a, b) in enumerate(zip(got, expected)):
        expect(abs(a - b) <= atol + rtol * abs(b), f"{what}[{i}]", f"{b:.6g}", f"{a:.6g}")


# ------------------------------------------------------------------------------------- checks


def test_simple_loop_cadence_and_tokens_seen():
    r, g = rng(), torch_gen()
    vocab, b, t = r.randint(5, 8), r.randint(2, 3), r.randint(3, 5)
    table = torch.randn(vocab, vocab, generator=g)
    train, val = draw(g, vocab, r.randint(3, 4), b, t), draw(g, vocab, 2, b, t)
    epochs, eval_freq, eval_iter = 2, r.randint(2, 3), r.randint(1, 2)
    kwargs = {"epochs": epochs, "eval_freq": eval_freq, "eval_iter": eval_iter}
    got, weights = run(probe_loop, fn="train_model_simple", table=table, scale=1.0, train=train, val=val, lr=0.5, kwargs=kwargs)
    expected, w = replay(table, 1.0, train, val, 0.5, epochs, eval_freq, eval_iter)
    expect(len(got) == 3, "train_model_simple(...)", "(train_losses, val_losses, track_tokens_seen)", f"{len(got)} lists")
    same_list(got[2], expected[2], "track_tokens_seen (input_batch.numel() per step, evaluated at steps 0, eval_freq, ...)")
    same_list(got[0], expected[0], "train_losses")
    same_list(got[1], expected[1], "val_losses")
    expect_close(weights, w.float(), "the weights after training (SGD, one step per batch)")


def test_lr_schedule_matches_formula():
    r, g = rng(), torch_gen()
    vocab = r.randint(5, 8)
    table = torch.randn(vocab, vocab, generator=g)
    train, val = draw(g, vocab, r.randint(5, 7), 2, 3), draw(g, vocab, 1, 2, 3)
    epochs, warmup = 2, r.randint(3, 5)
    initial, min_lr, peak = r.uniform(1e-4, 1e-3), r.uniform(1e-5, 1e-4), r.uniform(0.01, 0.05)
    kwargs = {"epochs": epochs, "eval_freq": 100, "eval_iter": 1, "warmup_steps": warmup, "initial_lr": initial, "min_lr": min_lr}
    got, _ = run(probe_loop, fn="train_model", table=table, scale=1.0, train=train, val=val, lr=peak, kwargs=kwargs)
    expect(len(got) == 4, "train_model(...)", "(train_losses, val_losses, track_tokens_seen, track_lrs)", f"{len(got)} lists")
    total = len(train) * epochs
    lrs = [schedule(s, peak, warmup, total, initial, min_lr) for s in range(total)]
    same_list(got[3], lrs, f"track_lrs (peak {peak:.4g}, warmup_steps={warmup}, {total} steps)", atol=1e-12, rtol=1e-9)


def test_clipping_after_warmup_recomputed():
    r, g = rng(), torch_gen()
    vocab = r.randint(5, 8)
    table = torch.randn(vocab, vocab, generator=g)
    train, val = draw(g, vocab, r.randint(5, 6), 2, 4), draw(g, vocab, 1, 2, 4)
    epochs, warmup, scale, peak = 1, r.randint(2, 3), 40.0, 0.05
    kwargs = {"epochs": epochs, "eval_freq": 2, "eval_iter": 1, "warmup_steps": warmup}
    got, weights = run(probe_loop, fn="train_model", table=table, scale=scale, train=train, val=val, lr=peak, kwargs=kwargs)
    expected, w = replay(table, scale, train, val, peak, epochs, 2, 1, warmup=warmup)
    expect(len(got) == 4, "train_model(...)", "(train_losses, val_losses, track_tokens_seen, track_lrs)", f"{len(got)} lists")
    expect_close(weights, w.float(), f"the weights after train_model (SGD; clip to norm 1.0 from global_step == {warmup} on)")
    same_list(got[0], expected[0], "train_losses")


def test_accumulation_matches_big_batch():
    r, g = rng(), torch_gen()
    vocab, k = r.randint(5, 8), r.randint(2, 4)
    table = torch.randn(vocab, vocab, generator=g)
    micro = draw(g, vocab, k, 2, r.randint(3, 5))
    loss, weights = run(probe_step, table=table, micro=micro, lr=0.5, scale=3.0)
    x, y = torch.cat([a for a, _ in micro]), torch.cat([b for _, b in micro])  # (k*2, T)
    w = table.clone().double().requires_grad_(True)
    big = loss_of(w, x, y, 3.0)
    (grad,) = torch.autograd.grad(big, w)
    expect_close(weights, (w - 0.5 * grad).detach().float(), f"the weights after train_step on {k} micro-batches (one batch {k} times as large)")
    expect(isinstance(loss, float) and abs(loss - float(big)) < 1e-4 + 1e-4 * float(big), "train_step(...), the mean loss", f"{float(big):.6g}", short(loss))


def test_autocast_bf16_keeps_fp32_weights():
    r, g = rng(), torch_gen()
    vocab = r.randint(5, 8)
    x, y = draw(g, vocab, 1, 2, 3)[0]
    bf16, fp32, seen, params = run(probe_autocast, vocab=vocab, emb=4, x=x, y=y)
    expect(bf16 == "torch.bfloat16", "model(x) inside autocast_context('cpu', 'bf16')", "torch.bfloat16 logits", bf16)
    expect(fp32 == "torch.float32", "model(x) inside autocast_context('cpu', 'fp32')", "torch.float32 logits", fp32)
    expect(seen == ["torch.bfloat16"], "the logits inside train_step(..., precision='bf16')", ["torch.bfloat16"], seen)
    expect(params == ["torch.float32"], "the weights after a bf16 step", ["torch.float32"], params)


def test_resume_is_bit_exact():
    r, g = rng(), torch_gen()
    vocab = r.randint(5, 8)
    table, other = torch.randn(vocab, vocab, generator=g), torch.randn(vocab, vocab, generator=g)
    batches, split = draw(g, vocab, 6, 2, 4), r.randint(2, 3)
    straight, resumed, final, fresh, step = run(probe_resume, table=table, other=other, batches=batches, split=split, seed=r.randint(0, 10**6))
    expect(step == split, "load_checkpoint(...)['step']", split, step)
    expect(len(straight) == len(resumed) and all(a == b for a, b in zip(straight, resumed)),
           "losses after resuming (dropout on, the RNG state restored)", short(straight), short(resumed))  # fmt: skip
    expect(bool(torch.equal(final, fresh)), "the weights after resuming", "bit-for-bit those of the run that never stopped",
           f"largest difference {float((final - fresh).abs().max()):.3g}")  # fmt: skip


def test_tiny_model_overfits():
    r, g = rng(), torch_gen()
    vocab = r.randint(5, 8)
    perm = torch.randperm(vocab, generator=g)
    x = torch.randint(0, vocab, (2, 6), generator=g)
    y = perm[x]  # (2, 6): each token has one next token, so the loss can go to 0
    table = torch.randn(vocab, vocab, generator=g) * 0.1
    loss = run(probe_overfit, table=table, batch=(x, y), steps=40)
    expect(isinstance(loss, float) and loss < 0.1, "the loss after 40 train_step calls (AdamW, lr 0.3) on one batch", "below 0.1", short(loss))
