"""Graded checks for stage 5, the training loops, one good step and resuming (lessons/stage5_pretrain.md, §4-§9).

Probes (`probe_*`) run in the worker on the learner's code and send back plain data: losses,
learning rates, the final weights, batches. The checks (`test_*`) run in the judge, which replays
the same training itself with plain SGD on a stub model whose logits are scale * table[idx] + bias
(the gradient of the loss is all it needs), and compares. Clipping is judged by that recomputation
alone, never by an observer in the worker. The table and the bias are two param groups, so that a
rate written into the first group only shows in the weights.

The optimizer is SGD below, with torch.optim's interface, since the first use of a torch.optim
optimizer imports torch._dynamo: most of a second. The judge never imports torch (most of a
second again): it draws tables in multiples of 1/256 (exact in float32) and batches as lists, the
probes make the tensors and send tensors back as plain lists, and the judge's loss, gradients,
SGD and even torch's random numbers (`torch_rand`) are written here in plain Python.
"""

from __future__ import annotations

import math
import random

from learn.shared.checking import (answers, emulated_device, expect, expect_close_data, expect_equal, expect_near,
                                  expect_near_list, expect_type, flat, plain_tensor, rng, run, short, tensor_data)

PKG = "stage5_pretrain"

if __name__.startswith("learn_probes_"):  # the worker (learn/worker/main.py): torch, the stub models and SGD
    import torch
    import torch.nn as nn

    class Table(nn.Module):
        """logits[b, t] = scale * table[idx[b, t]] + bias, with dropout on the logits if drop > 0.

        pos_emb is there for generate_and_print_sample, which reads the context length from it."""

        def __init__(self, table, bias, scale=1.0, drop=0.0, context=8):
            super().__init__()
            self.table = nn.Parameter(torch.tensor(table))  # (V, V), float32
            self.bias = nn.Parameter(torch.tensor(bias))  # (V,)
            self.pos_emb = nn.Embedding(context, 1)
            self.pos_emb.weight.requires_grad_(False)
            self.scale = scale
            self.drop = nn.Dropout(drop)

        def forward(self, idx):
            return self.drop(self.scale * self.table[idx] + self.bias)  # (B, T, V)

        def groups(self):
            return [[self.table], [self.bias]]

        def weights(self):
            return [plain_tensor(self.table, "the table"), plain_tensor(self.bias, "the bias")]

    class SGD(torch.optim.Optimizer):
        """torch.optim.SGD's update (momentum as torch's: the first buffer is the gradient, then
        buffer = momentum * buffer + gradient) for `groups`, lists of parameters, one param group
        each. An Optimizer, so that a learning-rate scheduler takes it too; it sets up
        param_groups, defaults and state itself, since Optimizer.__init__ imports torch._dynamo."""

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

    class Wrapped(nn.Module):
        """What learn pretrain may hand train_step instead of the model: DistributedDataParallel
        (--nproc) forwards calls to .module and hides the model's own attributes (pos_emb, cfg, ...)."""

        def __init__(self, module):
            super().__init__()
            self.module = module

        def forward(self, *args, **kwargs):
            return self.module(*args, **kwargs)

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
    """In a probe: a list of numbers the learner's code returned (floats, ints or one-element tensors)."""
    expect(isinstance(values, (list, tuple)), what, "a list of numbers", short(values, 60))
    out = []
    for v in values:
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            v = v.item()
        expect(isinstance(v, (int, float)), what, "a list of numbers", short(values, 60))
        out.append(float(v))
    return out


def loader(batches):
    """In a probe: the judge's batches as a loader, a list of (inputs, targets) int64 tensors (B, T)."""
    return [(torch.tensor(x), torch.tensor(y)) for x, y in batches]


# ------------------------------------------------------------------------------------- probes


def probe_schedule(learner, calls):
    """warmup_cosine_lr(step, peak, warmup, total, initial_lr=..., min_lr=...) for each call, as
    learn pretrain and finetune call it, every step."""
    fn = need_fn(learner, "warmup_cosine_lr")
    return [fn(s, peak, warmup, total, initial_lr=initial, min_lr=low) for s, peak, warmup, total, initial, low in calls]


def probe_loop(learner, fn, table, bias, scale, train, val, lr, kwargs):
    """Run train_model_simple or train_model with SGD(lr) on Table(table, bias, scale)."""
    loop = need_fn(learner, fn)
    model = Table(table, bias, scale)
    optimizer = SGD(model.groups(), lr=lr)
    out = loop(model, loader(train), loader(val), optimizer, "cpu", kwargs.pop("epochs"), tokenizer=Letters(len(bias)),
               start_context="ab", **kwargs)  # fmt: skip
    expect(isinstance(out, tuple), f"{fn}(...)", "a tuple of lists", short(out, 60))
    return [[floats(v, f"{fn}(...)") for v in out], model.weights()]


def probe_step(learner, table, bias, micro, lr, scale):
    """train_step as learn pretrain calls it in warm-up: precision positional, max_norm=None, the model wrapped;
    on the CPU, then with the model on cuda (emulated) and the batches on the CPU, as learn pretrain gives them."""
    step = need_fn(learner, "train_step")
    out = []
    for device in ("cpu", "cuda"):
        what = f"train_step(model, CPU micro-batches, optimizer, {device!r}, 'fp32', max_norm=None)"
        with emulated_device(device, what):
            model = Table(table, bias, scale).to(device)
            optimizer = SGD(model.groups(), lr=lr)
            loss = step(Wrapped(model), loader(micro), optimizer, device, "fp32", max_norm=None)
            out.append([floats([loss], "train_step(...)")[0], model.weights()])
    return out


def probe_clipped_step(learner, table, bias, micro, lr, scale):
    """train_step as learn pretrain calls it after warm-up: precision positional, max_norm=1.0, the model wrapped."""
    step = need_fn(learner, "train_step")
    model = Table(table, bias, scale)
    step(Wrapped(model), loader(micro), SGD(model.groups(), lr=lr), "cpu", "fp32", max_norm=1.0)
    return model.weights()


def probe_autocast(learner, vocab, emb, x, y, devices):
    """For each device (cuda and mps emulated, the device a str as learn pretrain passes it): the logits' dtype
    inside autocast_context(device, "bf16") and (device, "fp32"), and inside train_step(..., precision="bf16")
    on CPU batches, and the weights' dtypes after."""
    ctx, step = need_fn(learner, "autocast_context"), need_fn(learner, "train_step")
    out = []
    for device in devices:
        what = f"autocast_context({device!r}, ...) and train_step(..., {device!r}, precision='bf16')"
        with emulated_device(device, what):
            torch.manual_seed(0)
            model = Linear(vocab, emb).to(device)
            ((x_cpu, y_cpu),) = loader([(x, y)])
            ids = x_cpu.to(device)
            with ctx(device, "bf16"):
                bf16 = str(model(ids).dtype)
            with ctx(device, "fp32"):
                fp32 = str(model(ids).dtype)
            model.seen.clear()
            optimizer = SGD([list(model.parameters())], lr=0.1)
            step(model, [(x_cpu, y_cpu)], optimizer, device, precision="bf16")
            out.append([bf16, fp32, list(model.seen), sorted({str(p.dtype) for p in model.parameters()})])
    return out


def probe_resume(learner, table, bias, other, batches, split, seed, extra):
    """Train with dropout and momentum, checkpoint after `split` steps and go on; then resume in a
    fresh model and optimizer, after other draws from every generator. Saved as learn pretrain saves:
    a str path of an existing file, config and the run's other entries as keywords; the file read
    back as learn generate reads it (torch.load, weights_only, mmap): its "model" and "config"."""
    import tempfile
    from pathlib import Path

    step = need_fn(learner, "train_step")
    save, load = need_fn(learner, "save_checkpoint"), need_fn(learner, "load_checkpoint")
    path, batches = Path(tempfile.mkdtemp()) / "ckpt.pt", loader(batches)
    path.touch()
    torch.manual_seed(seed)
    model = Table(table, bias, 1.0, drop=0.5)
    optimizer = SGD(model.groups(), lr=0.1, momentum=0.9)
    for b in batches[:split]:
        step(model, [b], optimizer, "cpu")
    at_save = {k: plain_tensor(v, k) for k, v in model.state_dict().items()}
    save(str(path), model, optimizer, split, **extra)
    stored = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    expect(isinstance(stored, dict) and isinstance(stored.get("model"), dict),
           "the file save_checkpoint wrote, read by torch.load", 'a dict whose "model" is model.state_dict()',
           short(stored, 60))  # fmt: skip
    kept = {k: stored["model"].get(k) for k in at_save}
    kept = {k: plain_tensor(v, k) if isinstance(v, torch.Tensor) else None for k, v in kept.items()}
    stored = [kept, at_save, stored.get("config")]
    straight = floats([step(model, [b], optimizer, "cpu") for b in batches[split:]], "train_step(...)")

    torch.manual_seed(seed + 1)
    random.seed(seed + 1)
    fresh = Table(other, [-v for v in bias], 1.0, drop=0.5)
    optimizer = SGD(fresh.groups(), lr=0.1, momentum=0.9)
    torch.rand(7)
    ckpt = load(str(path), fresh, optimizer)
    resumed = floats([step(fresh, [b], optimizer, "cpu") for b in batches[split:]], "train_step(...)")
    expect(isinstance(ckpt, dict), "load_checkpoint(...)", "the checkpoint's dict", short(ckpt, 60))
    return [straight, resumed, model.weights(), fresh.weights(), {k: ckpt.get(k) for k in ["step", *extra]}, stored]


def probe_overfit(learner, table, batch, steps):
    step, loss_fn = need_fn(learner, "train_step"), need_fn(learner, "calc_loss_batch")
    model = Table(table, [0.0] * len(table), 1.0)
    optimizer = SGD(model.groups(), lr=5.0, momentum=0.9)
    (batch,) = loader([batch])
    for _ in range(steps):
        step(model, [batch], optimizer, "cpu")
    return float(loss_fn(batch[0], batch[1], model, "cpu").detach())


def probe_epoch_batches(learner, windows, batch_size, calls, after_seed):
    """epoch_batches(dataset, batch_size, seed, epoch, start) for each [seed, epoch, start] (as learn pretrain calls it)
    of `calls`, the global generator seeded differently before each; then one more epoch after
    torch.manual_seed(after_seed), and torch.rand(4) drawn after it."""
    fn = need_fn(learner, "epoch_batches")
    dataset = loader(windows)  # (T,) each
    out = []
    for k, (seed, epoch, start) in enumerate(calls):
        torch.manual_seed(1000 + k)
        batches = []
        for item in fn(dataset, batch_size, seed, epoch, start):
            expect(isinstance(item, (tuple, list)) and len(item) == 2, "an item of epoch_batches(...)", "a pair (inputs, targets)", short(item, 60))
            batches.append([plain_tensor(item[0], "the inputs of a batch"), plain_tensor(item[1], "the targets of a batch")])
            if len(batches) > len(dataset):
                break
        out.append(batches)
    torch.manual_seed(after_seed)
    for _ in fn(dataset, batch_size, calls[0][0], calls[0][1]):
        pass
    return [out, torch.rand(4).tolist()]


# ----------------------------------------------------------------------------- inputs, oracles


def drawn_table(r, rows, cols, sd=1.0):
    """A (rows, cols) table of normal draws, in multiples of 1/256 (exact in float32)."""
    return [[round(r.gauss(0.0, sd) * 256) / 256 for _ in range(cols)] for _ in range(rows)]


def drawn_ids(r, vocab, b, t):
    return [[r.randrange(vocab) for _ in range(t)] for _ in range(b)]


def drawn_batches(r, vocab, n, b, t):
    """n (inputs, targets) batches of shape (b, t), as lists of ids."""
    return [(drawn_ids(r, vocab, b, t), drawn_ids(r, vocab, b, t)) for _ in range(n)]


def loss_and_grads(w, bias, x, y, scale):
    """The mean cross-entropy of logits scale * w[x] + bias against y over every position, and its
    gradients with respect to w and bias: for each position, d loss / d logits = (softmax - onehot) / N."""
    n = sum(len(row) for row in x)
    gw, gb, total = [[0.0] * len(bias) for _ in w], [0.0] * len(bias), 0.0
    for row_x, row_y in zip(x, y):
        for i, j in zip(row_x, row_y):
            z = [scale * a + b for a, b in zip(w[i], bias)]
            m = max(z)
            e = [math.exp(v - m) for v in z]
            s = sum(e)
            total += m + math.log(s) - z[j]
            for k, ek in enumerate(e):
                d = (ek / s - (k == j)) / n
                gw[i][k] += scale * d
                gb[k] += d
    return total / n, gw, gb


def mean_loss(w, bias, batches, eval_iter, scale):
    """calc_loss_loader's answer: the mean loss of the first eval_iter batches."""
    used = batches[:eval_iter]
    return sum(loss_and_grads(w, bias, x, y, scale)[0] for x, y in used) / len(used)


def schedule(step, peak, warmup, total, initial, min_lr):
    """Appendix D: linear warm-up from initial to peak, then cosine from peak to min_lr."""
    if step < warmup:
        return initial + step * (peak - initial) / warmup
    progress = (step - warmup) / (total - warmup)
    return min_lr + (peak - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def sgd_step(w, bias, gw, gb, rate):
    return [[a - rate * g for a, g in zip(row, grow)] for row, grow in zip(w, gw)], [b - rate * g for b, g in zip(bias, gb)]


def replay(table, bias, scale, train, val, lr, epochs, eval_freq, eval_iter, warmup=None, initial=3e-5, min_lr=1e-6):
    """The book's loop, replayed with SGD: (train_losses, val_losses, tokens_seen[, lrs]), final (table, bias)."""
    w, b = table, bias
    tl, vl, seen, lrs = [], [], [], []
    tokens, step, total = 0, -1, len(train) * epochs
    for _ in range(epochs):
        for x, y in train:
            step += 1
            rate = lr if warmup is None else schedule(step, lr, warmup, total, initial, min_lr)
            lrs.append(rate)
            _, gw, gb = loss_and_grads(w, b, x, y, scale)
            if warmup is not None and step >= warmup:  # clip the norm of both gradients together to 1.0
                norm = math.sqrt(sum(g * g for row in gw for g in row) + sum(g * g for g in gb))
                factor = min(1.0, 1.0 / (norm + 1e-6))
                gw, gb = [[g * factor for g in row] for row in gw], [g * factor for g in gb]
            w, b = sgd_step(w, b, gw, gb, rate)
            tokens += len(x) * len(x[0])
            if step % eval_freq == 0:
                tl.append(mean_loss(w, b, train, eval_iter, scale))
                vl.append(mean_loss(w, b, val, eval_iter, scale))
                seen.append(tokens)
    return ([tl, vl, seen] if warmup is None else [tl, vl, seen, lrs]), (w, b)


def torch_rand(seed, n):
    """torch.manual_seed(seed); torch.rand(n).tolist(), in plain Python: torch's CPU generator is
    MT19937 started as init_genrand(seed) (Python's random module runs the same MT19937 from a
    state it is given), and a float32 draw is the low 24 bits of one 32-bit output, over 2**24."""
    state = [seed & 0xFFFFFFFF]
    for i in range(1, 624):
        state.append((1812433253 * (state[-1] ^ (state[-1] >> 30)) + i) & 0xFFFFFFFF)
    mt = random.Random()
    mt.setstate((3, (*state, 624), None))
    return [(mt.getrandbits(32) & 0xFFFFFF) / 2**24 for _ in range(n)]


def same_weights(got, expected, what):
    """The [table, bias] the probe sent against the judge's, both param groups named."""
    for name, v, e in zip(("the table (param group 0)", "the bias (param group 1)"), answers(got, 2, f"{what}: [table, bias]"), expected):
        shape = (len(e), len(e[0])) if type(e[0]) is list else (len(e),)
        expect_close_data(tensor_data(v, f"{what}: {name}"), e, shape, f"{what}: {name}")


def window_order(batches, windows, batch_size, what):
    """The windows' numbers, batch by batch, after checking that each batch is (batch_size, T)
    inputs and targets of distinct windows of the dataset."""
    expect(type(batches) is list, what, "batches", short(batches, 60))
    inputs = {tuple(x): i for i, (x, _) in enumerate(windows)}
    t = len(windows[0][0])
    order, seen = [], set()
    for k, pair in enumerate(batches):
        pair = answers(pair, 2, f"{what}: batch {k}, (inputs, targets)")
        x, y = tensor_data(pair[0], f"{what}: batch {k}, inputs"), tensor_data(pair[1], f"{what}: batch {k}, targets")
        expect(x.shape == y.shape == (batch_size, t), f"{what}: batch {k}, shape", f"inputs and targets ({batch_size}, {t})", f"{x.shape}, {y.shape}")
        rows = []
        for row_x, row_y in zip(x.values, y.values):
            i = inputs.get(tuple(row_x))
            expect(i is not None and list(windows[i][1]) == row_y, f"{what}: batch {k}", "rows that are (inputs, targets) windows of the dataset",
                   short((row_x, row_y), 80))  # fmt: skip
            expect(i not in seen, f"{what}: batch {k}", "each window at most once per epoch", f"window {i} again")
            seen.add(i)
            rows.append(i)
        order.append(rows)
    return order


# ------------------------------------------------------------------------------------- checks


def test_simple_loop_cadence_and_tokens_seen():
    r = rng()
    vocab, b, t = r.randint(5, 8), r.randint(2, 3), r.randint(3, 5)
    table, bias = drawn_table(r, vocab, vocab), drawn_table(r, 1, vocab)[0]
    train, val = drawn_batches(r, vocab, r.randint(3, 4), b, t), drawn_batches(r, vocab, 2, b, t)
    epochs, eval_freq, eval_iter = 2, r.randint(2, 3), r.randint(1, 2)
    kwargs = {"epochs": epochs, "eval_freq": eval_freq, "eval_iter": eval_iter}
    got = run(probe_loop, fn="train_model_simple", table=table, bias=bias, scale=1.0, train=train, val=val, lr=0.5, kwargs=kwargs)
    got, weights = answers(got, 2, "the probe's results")
    expected, w = replay(table, bias, 1.0, train, val, 0.5, epochs, eval_freq, eval_iter)
    got = answers(got, 3, "train_model_simple(...): (train_losses, val_losses, track_tokens_seen)")
    expect_near_list(got[2], expected[2], "track_tokens_seen (input_batch.numel() per step, evaluated at steps 0, eval_freq, ...)")
    expect_near_list(got[0], expected[0], "train_losses")
    expect_near_list(got[1], expected[1], "val_losses")
    same_weights(weights, w, "the weights after training (SGD, one step per batch)")


def test_lr_schedule_matches_formula():
    r = rng()
    vocab = r.randint(5, 8)
    table, bias = drawn_table(r, vocab, vocab), drawn_table(r, 1, vocab)[0]
    train, val = drawn_batches(r, vocab, r.randint(5, 7), 2, 3), drawn_batches(r, vocab, 1, 2, 3)
    epochs, warmup = 2, r.randint(3, 5)
    initial, min_lr, peak = r.uniform(1e-4, 1e-3), r.uniform(1e-5, 1e-4), r.uniform(0.01, 0.05)
    kwargs = {"epochs": epochs, "eval_freq": 100, "eval_iter": 1, "warmup_steps": warmup, "initial_lr": initial, "min_lr": min_lr}
    got = run(probe_loop, fn="train_model", table=table, bias=bias, scale=1.0, train=train, val=val, lr=peak, kwargs=kwargs)
    got, weights = answers(got, 2, "the probe's results")
    got = answers(got, 4, "train_model(...): (train_losses, val_losses, track_tokens_seen, track_lrs)")
    total = len(train) * epochs
    lrs = [schedule(s, peak, warmup, total, initial, min_lr) for s in range(total)]
    expect_near_list(got[3], lrs, f"track_lrs (peak {peak:.4g}, warmup_steps={warmup}, {total} steps)", atol=1e-12, rtol=1e-9)
    _, w = replay(table, bias, 1.0, train, val, peak, epochs, 100, 1, warmup=warmup, initial=initial, min_lr=min_lr)
    same_weights(weights, w, "the weights after train_model (every param group at the step's rate)")
    # called directly too, as the engine does; 10**9 steps while a timed run measures its pace
    calls = [[s, peak, warmup, t, initial, min_lr] for t in (total, 10**9) for s in (0, warmup - 1, warmup, total - 1)]
    got = answers(run(probe_schedule, calls=calls), len(calls), "warmup_cosine_lr results")
    for (s, _, _, t, _, _), lr in zip(calls, got):
        expect_near(lr, schedule(s, peak, warmup, t, initial, min_lr), f"warmup_cosine_lr({s}, {peak:.4g}, {warmup}, {t})",
                    atol=1e-12, rtol=1e-9)  # fmt: skip


def test_clipping_after_warmup_recomputed():
    r = rng()
    vocab = r.randint(5, 8)
    table, bias = drawn_table(r, vocab, vocab), drawn_table(r, 1, vocab)[0]
    train, val = drawn_batches(r, vocab, r.randint(5, 6), 2, 4), drawn_batches(r, vocab, 1, 2, 4)
    epochs, warmup, scale, peak = 1, r.randint(2, 3), 40.0, 0.05
    kwargs = {"epochs": epochs, "eval_freq": 2, "eval_iter": 1, "warmup_steps": warmup}
    got = run(probe_loop, fn="train_model", table=table, bias=bias, scale=scale, train=train, val=val, lr=peak, kwargs=kwargs)
    got, weights = answers(got, 2, "the probe's results")
    expected, w = replay(table, bias, scale, train, val, peak, epochs, 2, 1, warmup=warmup)
    got = answers(got, 4, "train_model(...): (train_losses, val_losses, track_tokens_seen, track_lrs)")
    same_weights(weights, w, f"the weights after train_model (SGD; clip to norm 1.0 from global_step == {warmup} on)")
    expect_near_list(got[0], expected[0], "train_losses")
    # train_step itself, as learn pretrain calls it after warm-up: the sum of k micro-batches' gradients clipped once
    micro = drawn_batches(r, vocab, r.randint(2, 3), 2, 4)
    x, y = [row for a, _ in micro for row in a], [row for _, b in micro for row in b]  # (k*2, T): the whole batch
    _, gw, gb = loss_and_grads(table, bias, x, y, scale)
    norm = math.sqrt(sum(g * g for row in gw for g in row) + sum(g * g for g in gb))
    factor = min(1.0, 1.0 / (norm + 1e-6))
    expected = sgd_step(table, bias, [[g * factor for g in row] for row in gw], [g * factor for g in gb], peak)
    got = run(probe_clipped_step, table=table, bias=bias, micro=micro, lr=peak, scale=scale)
    same_weights(got, expected, f"the weights after train_step(model, {len(micro)} micro-batches, optimizer, 'cpu', "
                 f"'fp32', max_norm=1.0) (SGD; the summed gradients, norm {norm:.3g}, clipped to 1.0 once, after the "
                 "last backward)")  # fmt: skip


def test_accumulation_matches_big_batch():
    r = rng()
    vocab, k = r.randint(5, 8), r.randint(2, 4)
    table, bias = drawn_table(r, vocab, vocab), drawn_table(r, 1, vocab)[0]
    micro = drawn_batches(r, vocab, k, 2, r.randint(3, 5))
    got = answers(run(probe_step, table=table, bias=bias, micro=micro, lr=0.5, scale=3.0), 2, "the probe's results")
    x, y = [row for a, _ in micro for row in a], [row for _, b in micro for row in b]  # (k*2, T): one batch k times as large
    big, gw, gb = loss_and_grads(table, bias, x, y, 3.0)
    for on, result in zip(("", ", the model on cuda (emulated), the batches on the CPU"), got):
        loss, weights = answers(result, 2, "train_step's loss and the weights")
        same_weights(weights, sgd_step(table, bias, gw, gb, 0.5),
                     f"the weights after train_step on {k} micro-batches (one batch {k} times as large){on}")
        expect_near(loss, big, f"train_step(...), the mean loss{on}", atol=1e-4)


def test_autocast_bf16_keeps_fp32_weights():
    r = rng()
    vocab = r.randint(5, 8)
    ((x, y),) = drawn_batches(r, vocab, 1, 2, 3)
    devices = ["cpu", "cuda", "mps"]  # learn pretrain's --device auto; cuda and mps emulated
    got = run(probe_autocast, vocab=vocab, emb=4, x=x, y=y, devices=devices)
    got = answers(got, len(devices), "the probe's results")
    for device, result in zip(devices, got):
        bf16, fp32, seen, params = answers(result, 4, f"the dtypes on {device}")
        on = "" if device == "cpu" else f", the model on {device} (emulated)"
        inside = f"model(x) inside autocast_context({device!r}"
        expect(bf16 == "torch.bfloat16", f"{inside}, 'bf16'){on}", "torch.bfloat16 logits", bf16)
        expect(fp32 == "torch.float32", f"{inside}, 'fp32'){on}", "torch.float32 logits", fp32)
        expect(seen == ["torch.bfloat16"], f"the logits inside train_step(..., {device!r}, precision='bf16'){on}",
               ["torch.bfloat16"], seen)  # fmt: skip
        expect(params == ["torch.float32"], f"the weights after a bf16 step{on}", ["torch.float32"], params)


def test_resume_is_bit_exact():
    r = rng()
    vocab = r.randint(5, 8)
    table, other, bias = drawn_table(r, vocab, vocab), drawn_table(r, vocab, vocab), drawn_table(r, 1, vocab)[0]
    batches, split = drawn_batches(r, vocab, 6, 2, 4), r.randint(2, 3)
    config = {"vocab_size": vocab, "context_length": 4, "emb_dim": 8, "n_heads": 2, "n_layers": 1, "drop_rate": 0.0,
              "qkv_bias": False}  # fmt: skip
    extra = {"config": config, "tokens_seen": split * 8, "total_steps": None, "warmup_steps": r.randint(1, 5),
             "train_seconds": r.uniform(1, 99), "losses": [round(r.uniform(1, 5), 4) for _ in range(split)],
             "evals": [[0, 0, 4.5, 4.75]], "lrs": [round(r.uniform(0, 1e-3), 6) for _ in range(split)]}  # fmt: skip
    got = run(probe_resume, table=table, bias=bias, other=other, batches=batches, split=split, seed=r.randint(0, 10**6),
              extra=extra)  # fmt: skip
    straight, resumed, final, fresh, loaded, stored = answers(got, 6, "the probe's results")
    loaded = expect_type(loaded, dict, "load_checkpoint(...)")
    for key, value in {"step": split, **extra}.items():  # learn pretrain --resume goes on from these
        expect_equal(loaded.get(key), value, f"load_checkpoint(...)[{key!r}] (saved as learn pretrain saves it: "
                     f"save_checkpoint(path, model, optimizer, {split}, {key}=...))")  # fmt: skip
    file_model, at_save, file_config = answers(stored, 3, "the file's entries")
    file_model = expect_type(file_model, dict, 'the file\'s "model"')
    at_save = expect_type(at_save, dict, "model.state_dict()")
    for key, value in at_save.items():  # learn generate and learn finetune read the file themselves
        expect(file_model.get(key) is not None and tensor_data(file_model[key], key) == tensor_data(value, key),
               f'torch.load(the file)["model"][{key!r}]', "model.state_dict() at the save",
               short(file_model.get(key), 60))  # fmt: skip
    expect_equal(file_config, extra["config"], 'torch.load(the file)["config"], the config= it was given')
    for losses in (straight, resumed):
        answers(losses, len(batches) - split, "the losses of train_step(...) after the checkpoint")
    expect(straight == resumed, "losses after resuming (dropout on, momentum on, the RNG state restored)", short(straight), short(resumed))
    shapes = {"table": (vocab, vocab), "bias": (vocab,)}
    for name, a, b in zip(shapes, answers(final, 2, "the weights"), answers(fresh, 2, "the weights after resuming")):
        a, b = tensor_data(a, f"the {name}"), tensor_data(b, f"the {name} after resuming")
        for t in (a, b):
            expect_equal(t.shape, shapes[name], f"the {name}'s shape after training")
        differences = [abs(p - q) for p, q in zip(flat(a.values), flat(b.values))]
        expect(a == b, f"the {name} after resuming", "bit-for-bit that of the run that never stopped", f"largest difference {max(differences):.3g}")


def test_tiny_model_overfits():
    r = rng()
    vocab = r.randint(5, 8)
    successor = r.sample(range(vocab), vocab)
    x = drawn_ids(r, vocab, 2, 6)
    y = [[successor[i] for i in row] for row in x]  # (2, 6): each token has one next token, so the loss can go to 0
    table = drawn_table(r, vocab, vocab, sd=0.1)
    loss = run(probe_overfit, table=table, batch=(x, y), steps=40)
    expect(type(loss) is float and loss < 0.1, "the loss after 40 train_step calls (SGD, lr 5, momentum 0.9) on one batch", "below 0.1", short(loss))


def test_epoch_batches_seeded_and_resumable():
    r = rng()
    t, batch_size, n_batches = r.randint(3, 5), r.randint(2, 3), r.randint(4, 5)
    n = batch_size * n_batches + r.randint(1, batch_size - 1)  # the windows left over wait for another epoch
    ids = r.sample(range(10_000), 2 * n * t)
    windows = [(ids[2 * i * t : (2 * i + 1) * t], ids[(2 * i + 1) * t : (2 * i + 2) * t]) for i in range(n)]
    seed, epoch, start = r.randint(0, 10**6), r.randint(0, 5), r.randint(1, n_batches - 1)
    calls = [(seed, epoch, 0), (seed, epoch, 0), (seed, epoch, start), (seed, epoch + 1, 0), (seed + 1, epoch, 0)]
    after_seed = r.randint(0, 10**6)
    got, after = answers(run(probe_epoch_batches, windows=windows, batch_size=batch_size, calls=calls, after_seed=after_seed), 2,
                         "the probe's results")  # fmt: skip
    got = answers(got, len(calls), "epoch_batches results")
    what = [f"epoch_batches(dataset of {n} windows, batch_size={batch_size}, seed={s}, epoch={e}, start={st})" for s, e, st in calls]
    orders = [window_order(batches, windows, batch_size, w) for batches, w in zip(got, what)]
    expect(len(orders[0]) == n_batches, f"{what[0]}: the number of batches", f"{n_batches} (full batches only)", len(orders[0]))
    expect(orders[1] == orders[0], f"{what[1]} again, the global generator in another state",
           f"the same batches (windows {orders[0]})", f"windows {orders[1]}")  # fmt: skip
    expect(orders[2] == orders[0][start:], what[2], f"batches {start} on of the epoch: windows {orders[0][start:]}", f"windows {orders[2]}")
    for k in (3, 4):
        expect(len(orders[k]) == n_batches, f"{what[k]}: the number of batches", f"{n_batches} (full batches only)", len(orders[k]))
    expect(orders[3] != orders[0], f"{what[3]} against epoch {epoch}", "another order", f"the same windows {orders[3]}")
    expect(orders[4] != orders[0], f"{what[4]} against seed {seed}", "another order", f"the same windows {orders[4]}")
    expect_equal(after, torch_rand(after_seed, 4),
                 "torch.rand(4) after torch.manual_seed(s) and an epoch of epoch_batches (the order never draws from the global generator)")  # fmt: skip
