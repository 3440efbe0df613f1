"""Graded checks for stage 5, the training loops, one good step and resuming (lessons/stage5_pretrain.md, §4-§9).

Probes (`probe_*`) run in the worker on the learner's code and send back plain data: losses,
learning rates, the final weights, batches. The checks (`test_*`) run in the judge, which replays
the same training itself with plain SGD on a stub model whose logits are scale * table[idx] + bias
(the gradient of the loss is all it needs), and compares. Clipping is judged by that recomputation
alone, never by an observer in the worker. The table and the bias are two param groups, so that a
rate written into the first group only shows in the weights.

The optimizer is the judge's SGD below, with torch.optim's interface: the first use of any
torch.optim optimizer imports torch._dynamo, most of a second of the stage's time.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from learn.judge.checking import expect, expect_close, plain_tensor, rng, run, short, tensor_data, torch_gen

PKG = "stage5_pretrain"


# ---------------------------------------------------------------------- stub models (worker)


class Table(nn.Module):
    """logits[b, t] = scale * table[idx[b, t]] + bias, with dropout on the logits if drop > 0.

    pos_emb is there for generate_and_print_sample, which reads the context length from it."""

    def __init__(self, table, bias, scale=1.0, drop=0.0, context=8):
        super().__init__()
        self.table = nn.Parameter(torch.as_tensor(table, dtype=torch.float32).clone())
        self.bias = nn.Parameter(torch.as_tensor(bias, dtype=torch.float32).clone())
        self.pos_emb = nn.Embedding(context, 1)
        self.pos_emb.weight.requires_grad_(False)
        self.scale = scale
        self.drop = nn.Dropout(drop)

    def forward(self, idx):
        return self.drop(self.scale * self.table[idx] + self.bias)  # (B, T, V)

    def groups(self):
        return [[self.table], [self.bias]]

    def weights(self):
        return self.table.detach().clone(), self.bias.detach().clone()


class SGD(torch.optim.Optimizer):
    """torch.optim.SGD's update (momentum as torch's: the first buffer is the gradient, then
    buffer = momentum * buffer + gradient) for `groups`, lists of parameters, one param group
    each. An Optimizer, so that a learning-rate scheduler takes it too; it sets up param_groups,
    defaults and state itself, since Optimizer.__init__ imports torch._dynamo."""

    def __init__(self, groups, lr, momentum=0.0):
        self.defaults = {"lr": lr, "momentum": momentum}
        self.param_groups = [{"params": list(params), **self.defaults} for params in groups]
        self.state = {}  # parameter -> {"momentum_buffer": tensor}

    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self, set_to_none=True):
        for p in self._params():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.detach_().zero_()

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p.grad
                if group["momentum"]:
                    buf = self.state.get(p, {}).get("momentum_buffer")
                    d = d.clone() if buf is None else buf.mul_(group["momentum"]).add_(d)
                    self.state[p] = {"momentum_buffer": d}
                p.add_(d, alpha=-group["lr"])

    def state_dict(self):
        index = {p: i for i, p in enumerate(self._params())}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[p] for p in g["params"]]} for g in self.param_groups]
        return {"state": {index[p]: dict(s) for p, s in self.state.items()}, "param_groups": groups}

    def load_state_dict(self, state_dict):
        params = self._params()
        self.state = {params[int(i)]: {k: v.clone() for k, v in s.items()} for i, s in state_dict["state"].items()}
        for group, saved in zip(self.param_groups, state_dict["param_groups"]):
            group.update({k: v for k, v in saved.items() if k != "params"})


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


def probe_loop(learner, fn, table, bias, scale, train, val, lr, kwargs):
    """Run train_model_simple or train_model with SGD(lr) on Table(table, bias, scale)."""
    loop = need_fn(learner, fn)
    vocab = table.shape[0]
    model = Table(table, bias, scale)
    optimizer = SGD(model.groups(), lr=lr)
    out = loop(model, train, val, optimizer, "cpu", kwargs.pop("epochs"), tokenizer=Letters(vocab), start_context="ab", **kwargs)
    expect(isinstance(out, tuple), f"{fn}(...)", "a tuple of lists", short(out, 60))
    lists = [floats(v, f"{fn}(...)") for v in out]
    return lists, model.weights()


def probe_step(learner, table, bias, micro, lr, scale):
    step = need_fn(learner, "train_step")
    model = Table(table, bias, scale)
    optimizer = SGD(model.groups(), lr=lr)
    loss = step(model, micro, optimizer, "cpu")
    if isinstance(loss, torch.Tensor):
        loss = loss.item()
    return loss, model.weights()


def probe_autocast(learner, vocab, emb, x, y):
    ctx, step = need_fn(learner, "autocast_context"), need_fn(learner, "train_step")
    torch.manual_seed(0)
    model = Linear(vocab, emb)
    with ctx("cpu", "bf16"):
        bf16 = str(model(x).dtype)
    with ctx("cpu", "fp32"):
        fp32 = str(model(x).dtype)
    model.seen.clear()
    optimizer = SGD([list(model.parameters())], lr=0.1)
    step(model, [(x, y)], optimizer, "cpu", precision="bf16")
    return bf16, fp32, list(model.seen), sorted({str(p.dtype) for p in model.parameters()})


def probe_resume(learner, table, bias, other, batches, split, seed):
    """Train with dropout and momentum, checkpoint after `split` steps and go on; then resume in a
    fresh model and optimizer, after other draws from every generator."""
    import random
    import tempfile
    from pathlib import Path

    step = need_fn(learner, "train_step")
    save, load = need_fn(learner, "save_checkpoint"), need_fn(learner, "load_checkpoint")
    folder = Path(tempfile.mkdtemp())
    torch.manual_seed(seed)
    model = Table(table, bias, 1.0, drop=0.5)
    optimizer = SGD(model.groups(), lr=0.1, momentum=0.9)
    for b in batches[:split]:
        step(model, [b], optimizer, "cpu")
    save(folder / "ckpt.pt", model, optimizer, split)
    straight = [float(step(model, [b], optimizer, "cpu")) for b in batches[split:]]
    final = model.weights()

    torch.manual_seed(seed + 1)
    random.seed(seed + 1)
    fresh = Table(other, -bias, 1.0, drop=0.5)
    optimizer = SGD(fresh.groups(), lr=0.1, momentum=0.9)
    torch.rand(7)
    ckpt = load(folder / "ckpt.pt", fresh, optimizer)
    resumed = [float(step(fresh, [b], optimizer, "cpu")) for b in batches[split:]]
    got_step = ckpt.get("step") if isinstance(ckpt, dict) else None
    return straight, resumed, final, fresh.weights(), got_step


def probe_overfit(learner, table, batch, steps):
    step, loss_fn = need_fn(learner, "train_step"), need_fn(learner, "calc_loss_batch")
    model = Table(table, torch.zeros(table.shape[0]), 1.0)
    optimizer = SGD(model.groups(), lr=5.0, momentum=0.9)
    for _ in range(steps):
        step(model, [batch], optimizer, "cpu")
    return float(loss_fn(batch[0], batch[1], model, "cpu").detach())


def probe_epoch_batches(learner, windows, batch_size, calls, after_seed):
    """epoch_batches(dataset, batch_size, seed, epoch, start=start) for each [seed, epoch, start]
    of `calls`, the global generator seeded differently before each; then one more epoch after
    torch.manual_seed(after_seed), and torch.rand(4) drawn after it."""
    fn = need_fn(learner, "epoch_batches")
    dataset = [(torch.tensor(x), torch.tensor(y)) for x, y in windows]  # (T,) each
    out = []
    for k, (seed, epoch, start) in enumerate(calls):
        torch.manual_seed(1000 + k)
        batches = []
        for item in fn(dataset, batch_size, seed, epoch, start=start):
            expect(isinstance(item, (tuple, list)) and len(item) == 2, "an item of epoch_batches(...)", "a pair (inputs, targets)", short(item, 60))
            batches.append([plain_tensor(item[0], "the inputs of a batch"), plain_tensor(item[1], "the targets of a batch")])
            if len(batches) > len(dataset):
                break
        out.append(batches)
    torch.manual_seed(after_seed)
    for _ in fn(dataset, batch_size, calls[0][0], calls[0][1]):
        pass
    return out, torch.rand(4).tolist()


# ----------------------------------------------------------------------------- inputs, oracles


def draw(g, vocab, n, b, t):
    return [(torch.randint(0, vocab, (b, t), generator=g), torch.randint(0, vocab, (b, t), generator=g)) for _ in range(n)]


def loss_of(w, bias, x, y, scale):
    logits = scale * w[x] + bias  # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1), y.flatten())  # (B*T, V), (B*T,)


def schedule(step, peak, warmup, total, initial, min_lr):
    """Appendix D: linear warm-up from initial to peak, then cosine from peak to min_lr."""
    if step < warmup:
        return initial + step * (peak - initial) / warmup
    progress = (step - warmup) / (total - warmup)
    return min_lr + (peak - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def replay(table, bias, scale, train, val, lr, epochs, eval_freq, eval_iter, warmup=None, initial=3e-5, min_lr=1e-6):
    """The book's loop, replayed with SGD: (train_losses, val_losses, tokens_seen[, lrs]), final (table, bias)."""
    w, b = table.clone().double(), bias.clone().double()
    tl, vl, seen, lrs = [], [], [], []
    tokens, step, total = 0, -1, len(train) * epochs
    for _ in range(epochs):
        for x, y in train:
            step += 1
            rate = lr if warmup is None else schedule(step, lr, warmup, total, initial, min_lr)
            lrs.append(rate)
            w.requires_grad_(True)
            b.requires_grad_(True)
            gw, gb = torch.autograd.grad(loss_of(w, b, x, y, scale), (w, b))
            if warmup is not None and step >= warmup:  # clip the norm of both gradients together to 1.0
                factor = min(1.0, 1.0 / (math.hypot(float(gw.norm()), float(gb.norm())) + 1e-6))
                gw, gb = gw * factor, gb * factor
            w, b = (w - rate * gw).detach(), (b - rate * gb).detach()
            tokens += x.numel()
            if step % eval_freq == 0:
                with torch.no_grad():
                    tl.append(sum(float(loss_of(w, b, p, q, scale)) for p, q in train[:eval_iter]) / min(eval_iter, len(train)))
                    vl.append(sum(float(loss_of(w, b, p, q, scale)) for p, q in val[:eval_iter]) / min(eval_iter, len(val)))
                seen.append(tokens)
    return ([tl, vl, seen] if warmup is None else [tl, vl, seen, lrs]), (w, b)


def same_list(got, expected, what, atol=1e-5, rtol=1e-4):
    expect(len(got) == len(expected), f"{what}: length", len(expected), len(got))
    for i, (a, b) in enumerate(zip(got, expected)):
        expect(abs(a - b) <= atol + rtol * abs(b), f"{what}[{i}]", f"{b:.6g}", f"{a:.6g}")


def same_weights(got, expected, what):
    """The (table, bias) the probe sent against the judge's, both param groups named."""
    expect(isinstance(got, tuple) and len(got) == 2, what, "(table, bias)", short(got, 60))
    expect_close(got[0], expected[0].float(), f"{what}: the table (param group 0)")
    expect_close(got[1], expected[1].float(), f"{what}: the bias (param group 1)")


def window_order(batches, windows, batch_size, what):
    """The windows' numbers, batch by batch, after checking that each batch is (batch_size, T)
    inputs and targets of distinct windows of the dataset."""
    inputs = {tuple(x): i for i, (x, _) in enumerate(windows)}
    t = len(windows[0][0])
    order, seen = [], set()
    for k, (x, y) in enumerate(batches):
        x, y = tensor_data(x, f"{what}: batch {k}, inputs"), tensor_data(y, f"{what}: batch {k}, targets")
        expect(x.shape == y.shape == (batch_size, t), f"{what}: batch {k}, shape", f"inputs and targets ({batch_size}, {t})", f"{x.shape}, {y.shape}")
        rows = []
        for row_x, row_y in zip(x.values, y.values):
            i = inputs.get(tuple(row_x))
            expect(i is not None and list(windows[i][1]) == row_y, f"{what}: batch {k}", "rows that are (inputs, targets) windows of the dataset", short((row_x, row_y), 80))
            expect(i not in seen, f"{what}: batch {k}", "each window at most once per epoch", f"window {i} again")
            seen.add(i)
            rows.append(i)
        order.append(rows)
    return order


# ------------------------------------------------------------------------------------- checks


def test_simple_loop_cadence_and_tokens_seen():
    r, g = rng(), torch_gen()
    vocab, b, t = r.randint(5, 8), r.randint(2, 3), r.randint(3, 5)
    table, bias = torch.randn(vocab, vocab, generator=g), torch.randn(vocab, generator=g)
    train, val = draw(g, vocab, r.randint(3, 4), b, t), draw(g, vocab, 2, b, t)
    epochs, eval_freq, eval_iter = 2, r.randint(2, 3), r.randint(1, 2)
    kwargs = {"epochs": epochs, "eval_freq": eval_freq, "eval_iter": eval_iter}
    got, weights = run(probe_loop, fn="train_model_simple", table=table, bias=bias, scale=1.0, train=train, val=val, lr=0.5, kwargs=kwargs)
    expected, w = replay(table, bias, 1.0, train, val, 0.5, epochs, eval_freq, eval_iter)
    expect(len(got) == 3, "train_model_simple(...)", "(train_losses, val_losses, track_tokens_seen)", f"{len(got)} lists")
    same_list(got[2], expected[2], "track_tokens_seen (input_batch.numel() per step, evaluated at steps 0, eval_freq, ...)")
    same_list(got[0], expected[0], "train_losses")
    same_list(got[1], expected[1], "val_losses")
    same_weights(weights, w, "the weights after training (SGD, one step per batch)")


def test_lr_schedule_matches_formula():
    r, g = rng(), torch_gen()
    vocab = r.randint(5, 8)
    table, bias = torch.randn(vocab, vocab, generator=g), torch.randn(vocab, generator=g)
    train, val = draw(g, vocab, r.randint(5, 7), 2, 3), draw(g, vocab, 1, 2, 3)
    epochs, warmup = 2, r.randint(3, 5)
    initial, min_lr, peak = r.uniform(1e-4, 1e-3), r.uniform(1e-5, 1e-4), r.uniform(0.01, 0.05)
    kwargs = {"epochs": epochs, "eval_freq": 100, "eval_iter": 1, "warmup_steps": warmup, "initial_lr": initial, "min_lr": min_lr}
    got, weights = run(probe_loop, fn="train_model", table=table, bias=bias, scale=1.0, train=train, val=val, lr=peak, kwargs=kwargs)
    expect(len(got) == 4, "train_model(...)", "(train_losses, val_losses, track_tokens_seen, track_lrs)", f"{len(got)} lists")
    total = len(train) * epochs
    lrs = [schedule(s, peak, warmup, total, initial, min_lr) for s in range(total)]
    same_list(got[3], lrs, f"track_lrs (peak {peak:.4g}, warmup_steps={warmup}, {total} steps)", atol=1e-12, rtol=1e-9)
    _, w = replay(table, bias, 1.0, train, val, peak, epochs, 100, 1, warmup=warmup, initial=initial, min_lr=min_lr)
    same_weights(weights, w, "the weights after train_model (every param group at the step's rate)")


def test_clipping_after_warmup_recomputed():
    r, g = rng(), torch_gen()
    vocab = r.randint(5, 8)
    table, bias = torch.randn(vocab, vocab, generator=g), torch.randn(vocab, generator=g)
    train, val = draw(g, vocab, r.randint(5, 6), 2, 4), draw(g, vocab, 1, 2, 4)
    epochs, warmup, scale, peak = 1, r.randint(2, 3), 40.0, 0.05
    kwargs = {"epochs": epochs, "eval_freq": 2, "eval_iter": 1, "warmup_steps": warmup}
    got, weights = run(probe_loop, fn="train_model", table=table, bias=bias, scale=scale, train=train, val=val, lr=peak, kwargs=kwargs)
    expected, w = replay(table, bias, scale, train, val, peak, epochs, 2, 1, warmup=warmup)
    expect(len(got) == 4, "train_model(...)", "(train_losses, val_losses, track_tokens_seen, track_lrs)", f"{len(got)} lists")
    same_weights(weights, w, f"the weights after train_model (SGD; clip to norm 1.0 from global_step == {warmup} on)")
    same_list(got[0], expected[0], "train_losses")


def test_accumulation_matches_big_batch():
    r, g = rng(), torch_gen()
    vocab, k = r.randint(5, 8), r.randint(2, 4)
    table, bias = torch.randn(vocab, vocab, generator=g), torch.randn(vocab, generator=g)
    micro = draw(g, vocab, k, 2, r.randint(3, 5))
    loss, weights = run(probe_step, table=table, bias=bias, micro=micro, lr=0.5, scale=3.0)
    x, y = torch.cat([a for a, _ in micro]), torch.cat([b for _, b in micro])  # (k*2, T)
    w, b = table.clone().double().requires_grad_(True), bias.clone().double().requires_grad_(True)
    big = loss_of(w, b, x, y, 3.0)
    gw, gb = torch.autograd.grad(big, (w, b))
    same_weights(weights, ((w - 0.5 * gw).detach(), (b - 0.5 * gb).detach()),
                 f"the weights after train_step on {k} micro-batches (one batch {k} times as large)")  # fmt: skip
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
    table, other, bias = torch.randn(vocab, vocab, generator=g), torch.randn(vocab, vocab, generator=g), torch.randn(vocab, generator=g)
    batches, split = draw(g, vocab, 6, 2, 4), r.randint(2, 3)
    straight, resumed, final, fresh, step = run(probe_resume, table=table, bias=bias, other=other, batches=batches, split=split,
                                                seed=r.randint(0, 10**6))  # fmt: skip
    expect(step == split, "load_checkpoint(...)['step']", split, step)
    expect(len(straight) == len(resumed) and all(a == b for a, b in zip(straight, resumed)),
           "losses after resuming (dropout on, momentum on, the RNG state restored)", short(straight), short(resumed))  # fmt: skip
    for name, a, b in zip(("table", "bias"), final, fresh):
        expect(bool(torch.equal(a, b)), f"the {name} after resuming", "bit-for-bit that of the run that never stopped",
               f"largest difference {float((a - b).abs().max()):.3g}")  # fmt: skip


def test_tiny_model_overfits():
    r, g = rng(), torch_gen()
    vocab = r.randint(5, 8)
    perm = torch.randperm(vocab, generator=g)
    x = torch.randint(0, vocab, (2, 6), generator=g)
    y = perm[x]  # (2, 6): each token has one next token, so the loss can go to 0
    table = torch.randn(vocab, vocab, generator=g) * 0.1
    loss = run(probe_overfit, table=table, batch=(x, y), steps=40)
    expect(isinstance(loss, float) and loss < 0.1, "the loss after 40 train_step calls (SGD, lr 5, momentum 0.9) on one batch", "below 0.1", short(loss))


def test_epoch_batches_seeded_and_resumable():
    r = rng()
    t, batch_size, n_batches = r.randint(3, 5), r.randint(2, 3), r.randint(4, 5)
    n = batch_size * n_batches + r.randint(1, batch_size - 1)  # the windows left over wait for another epoch
    ids = r.sample(range(10_000), 2 * n * t)
    windows = [(ids[2 * i * t : (2 * i + 1) * t], ids[(2 * i + 1) * t : (2 * i + 2) * t]) for i in range(n)]
    seed, epoch, start = r.randint(0, 10**6), r.randint(0, 5), r.randint(1, n_batches - 1)
    calls = [(seed, epoch, 0), (seed, epoch, 0), (seed, epoch, start), (seed, epoch + 1, 0), (seed + 1, epoch, 0)]
    after_seed = r.randint(0, 10**6)
    got, after = run(probe_epoch_batches, windows=windows, batch_size=batch_size, calls=calls, after_seed=after_seed)
    expect(isinstance(got, list) and len(got) == len(calls), "epoch_batches results", len(calls), short(got, 60))
    what = [f"epoch_batches(dataset of {n} windows, batch_size={batch_size}, seed={s}, epoch={e}, start={st})" for s, e, st in calls]
    orders = [window_order(batches, windows, batch_size, w) for batches, w in zip(got, what)]
    expect(len(orders[0]) == n_batches, f"{what[0]}: the number of batches", f"{n_batches} (full batches only)", len(orders[0]))
    expect(orders[1] == orders[0], f"{what[1]} again, the global generator in another state",
           f"the same batches (windows {orders[0]})", f"windows {orders[1]}")  # fmt: skip
    expect(orders[2] == orders[0][start:], what[2], f"batches {start} on of the epoch: windows {orders[0][start:]}", f"windows {orders[2]}")
    expect(orders[3] != orders[0], f"{what[3]} against epoch {epoch}", "another order", f"the same windows {orders[3]}")
    expect(orders[4] != orders[0], f"{what[4]} against seed {seed}", "another order", f"the same windows {orders[4]}")
    g = torch.Generator().manual_seed(after_seed)
    expect(after == torch.rand(4, generator=g).tolist(), "torch.rand(4) after torch.manual_seed(s) and an epoch of epoch_batches",
           "the numbers torch.manual_seed(s) alone gives (the order never draws from the global generator)", short(after, 80))  # fmt: skip
