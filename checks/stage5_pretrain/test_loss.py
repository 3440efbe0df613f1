"""Graded checks for stage 5, the loss and its measurement (lessons/stage5_pretrain.md, §1-§3).

Probes (`probe_*`) run in the worker on the learner's code and send back plain data; the checks
(`test_*`) run in the judge and compute every expected value themselves. The models are stubs
whose logits the judge knows: Table gives logits = scale * table[idx], the judge's table.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from learn.judge.checking import expect, rng, run, short, torch_gen

PKG = "stage5_pretrain"


class Table(nn.Module):
    """logits[b, t] = scale * table[idx[b, t]]; records (training, grad enabled) at each call."""

    def __init__(self, table, scale=1.0):
        super().__init__()
        self.table = nn.Parameter(torch.as_tensor(table, dtype=torch.float32).clone())
        self.scale = scale
        self.seen = []

    def forward(self, idx):
        self.seen.append((self.training, torch.is_grad_enabled()))
        return self.scale * self.table[idx]  # (B, T, V)


def near(got, expected, what, atol=1e-5, rtol=1e-4):
    """Fail unless the number `got` is within tolerance of `expected`."""
    ok = isinstance(got, (int, float)) and abs(got - expected) <= atol + rtol * abs(expected)
    expect(ok, what, f"{expected:.6g}", got if not isinstance(got, float) else f"{got:.6g}")


def need_fn(learner, name):
    fn = getattr(learner, name, None)
    expect(callable(fn), f"{PKG} should define {name} (the book's name)", name, "no such function")
    return fn


def as_float(value, what):
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.detach())
    expect(isinstance(value, (int, float)), what, "a number", short(value, 60))
    return float(value)


# ------------------------------------------------------------------------------------- probes


def probe_batch_loss(learner, table, cases, losses):
    fn = need_fn(learner, "calc_loss_batch")
    out = []
    for x, y in cases:
        loss = fn(x, y, Table(table), "cpu")
        expect(isinstance(loss, torch.Tensor) and loss.numel() == 1, "calc_loss_batch(...)", "a scalar tensor", short(loss, 60))
        expect(loss.requires_grad, "calc_loss_batch(...)", "a loss that can be back-propagated", "requires_grad=False")
        out.append(float(loss.detach()))
    ppl = need_fn(learner, "perplexity")
    return out, [as_float(ppl(v), "perplexity(loss)") for v in losses]


def probe_loader_loss(learner, table, batches, calls):
    fn = need_fn(learner, "calc_loss_loader")
    model = Table(table)
    return [as_float(fn(list(batches[:n_loader]), model, "cpu", num_batches=nb), "calc_loss_loader(...)") for n_loader, nb in calls]


def probe_evaluate(learner, table, train, val, eval_iter):
    fn = need_fn(learner, "evaluate_model")
    model = Table(table)
    model.train()
    got = fn(model, train, val, "cpu", eval_iter)
    expect(isinstance(got, tuple) and len(got) == 2, "evaluate_model(...)", "(train_loss, val_loss)", short(got, 60))
    return [as_float(v, "evaluate_model(...)") for v in got], model.seen, model.training


# ----------------------------------------------------------------------------- inputs, oracles


def draw(g, vocab, n, b, t):
    return [(torch.randint(0, vocab, (b, t), generator=g), torch.randint(0, vocab, (b, t), generator=g)) for _ in range(n)]


def ce(table, x, y, scale=1.0):
    logits = scale * table[x]  # (B, T, V)
    return float(F.cross_entropy(logits.flatten(0, 1), y.flatten()))  # (B*T, V), (B*T,)


# ------------------------------------------------------------------------------------- checks


def test_loss_matches_cross_entropy():
    r, g = rng(), torch_gen()
    vocab = r.randint(5, 9)
    table = torch.randn(vocab, vocab, generator=g) * 2
    cases = draw(g, vocab, 1, r.randint(2, 4), r.randint(3, 6)) + draw(g, vocab, 1, 1, r.randint(2, 5))
    losses = [0.0, r.uniform(0.5, 4.0)]
    got, ppl = run(probe_batch_loss, table=table, cases=cases, losses=losses)
    for (x, y), v in zip(cases, got):
        near(v, ce(table, x, y), f"calc_loss_batch on inputs of shape {tuple(x.shape)}")
    for loss, v in zip(losses, ppl):
        near(v, math.exp(loss), f"perplexity({loss:.4f})")


def test_loader_loss_mean_cap_and_empty():
    r, g = rng(), torch_gen()
    vocab = r.randint(5, 9)
    table = torch.randn(vocab, vocab, generator=g) * 2
    batches = draw(g, vocab, 4, 2, r.randint(3, 5))
    calls = [(4, None), (4, 2), (3, 10), (0, None)]
    got = run(probe_loader_loss, table=table, batches=batches, calls=calls)
    expect(len(got) == len(calls), "calc_loss_loader results", len(calls), len(got))
    for (n_loader, nb), v in zip(calls, got):
        what = f"calc_loss_loader(a loader of {n_loader} batches, num_batches={nb})"
        if n_loader == 0:
            expect(math.isnan(v), what, "nan (no batch to average)", v)
            continue
        n = n_loader if nb is None else min(nb, n_loader)
        near(v, sum(ce(table, x, y) for x, y in batches[:n]) / n, what)


def test_evaluate_restores_train_mode():
    r, g = rng(), torch_gen()
    vocab = r.randint(5, 9)
    table = torch.randn(vocab, vocab, generator=g) * 2
    train, val = draw(g, vocab, 3, 2, 4), draw(g, vocab, 2, 2, 4)
    eval_iter = r.randint(1, 2)
    losses, seen, training = run(probe_evaluate, table=table, train=train, val=val, eval_iter=eval_iter)
    near(losses[0], sum(ce(table, x, y) for x, y in train[:eval_iter]) / eval_iter, "evaluate_model(...)[0], the train loss")
    near(losses[1], sum(ce(table, x, y) for x, y in val[:eval_iter]) / eval_iter, "evaluate_model(...)[1], the val loss")
    expect(len(seen) == 2 * eval_iter, "forward passes during evaluate_model", 2 * eval_iter, len(seen))
    expect(all(not tr for tr, _ in seen), "model.training during evaluation", "False (model.eval())", [tr for tr, _ in seen])
    expect(all(not gr for _, gr in seen), "gradients during evaluation", "off (torch.no_grad())", [gr for _, gr in seen])
    expect(training is True, "model.training after evaluate_model", True, training)
