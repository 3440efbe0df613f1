"""Graded checks for stage 6, classification fine-tuning (lessons/stage6_finetune.md, §1-§4).

Probes (`probe_*`) run in the worker on the learner's code and send back plain data; the checks
(`test_*`) run in the judge and compute every expected value themselves:
  * SpamDataset reads a CSV file that the judge writes (the probe saves the judge's text to a
    temporary file), with a word tokenizer whose ids the judge knows;
  * the model is a stub whose logits the judge knows for every token and position,
    logits[b, t] = table[idx[b, t]] + pos[t], so that reading the first token's or the
    mean of all tokens' logits instead of the last token's gives another loss, accuracy or label.
    The judge draws its inputs until every such mistake gives a different answer from the right one.
"""

from __future__ import annotations

import csv
import io

import torch
import torch.nn as nn
import torch.nn.functional as F

from learn.shared.checking import (
    answers, emulated_device, expect, expect_close, expect_equal, expect_near, expect_near_list, expect_type,
    one_device, rng, run, short, torch_gen
)

PKG = "stage6_finetune"
WORDS = ["win", "cash", "now", "call", "me", "later", "free", "prize", "ok", "see", "you", "soon", "txt", "lunch", "claim", "urgent!", ","]
FIRST_ID = 100  # the word tokenizer's ids: FIRST_ID + the word's place in the vocabulary
ON = ("", " (the model on cuda, emulated)")  # what a probe's two calls, on the CPU and on cuda, are said to be


class Words:
    """The checks' tokenizer: one id per word of a vocabulary, a comma being a word of its own."""

    def __init__(self, vocab):
        self.ids = {w: FIRST_ID + i for i, w in enumerate(vocab)}

    def encode(self, text, **kwargs):
        return [self.ids[w] for w in text.replace(",", " , ").split()]


class PosTable(nn.Module):
    """logits[b, t] = table[idx[b, t]] + pos[t]: C classes, the context length pos_emb's rows. The table is
    looked up as GPTModel's nn.Embedding looks up ids, which must be on its device (table[idx] would move them).

    pos is the first C columns of pos_emb.weight, which is WIDTH wide, as a GPT's is emb_dim wide:
    the print book's classify_review reads the context length from pos_emb.weight.shape[1] by
    mistake (its repository fixed it to shape[0]), harmless when that width is large."""

    WIDTH = 16

    def __init__(self, table, pos):
        super().__init__()
        self.table = nn.Parameter(torch.as_tensor(table, dtype=torch.float32).clone())
        self.pos_emb = nn.Embedding(pos.shape[0], self.WIDTH)
        with torch.no_grad():
            self.pos_emb.weight.zero_()
            self.pos_emb.weight[:, : pos.shape[1]] = pos
        self.classes = pos.shape[1]

        self.seen = []  # (model.training, grad enabled) at each forward pass

    def forward(self, idx):
        self.seen.append((self.training, torch.is_grad_enabled()))
        return F.embedding(idx, self.table) + self.pos_emb.weight[: idx.shape[1], : self.classes]  # (B, T, C)


class PlainSGD:
    """SGD by hand, with what the loop calls (zero_grad, step): torch.optim's first step imports
    torch._dynamo, a second of the check's time spent on nothing the learner wrote."""

    def __init__(self, params, lr):
        self.param_groups = [{"params": list(params), "lr": lr}]

    def zero_grad(self, set_to_none=True):
        for p in self.param_groups[0]["params"]:
            p.grad = None

    def step(self):
        group = self.param_groups[0]
        with torch.no_grad():
            for p in group["params"]:
                if p.grad is not None:
                    p -= group["lr"] * p.grad


def need_fn(learner, name, module="classify"):
    """The learner's function by the book's name, from stage6_finetune.<module>."""
    import importlib

    fn = getattr(importlib.import_module(f"{learner.__name__}.{module}"), name, None)
    expect(callable(fn), f"{PKG}.{module} should define {name} (the book's name)", name, "no such function")
    return fn


def number(value, what):
    """A Python number from a number or a one-element tensor."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.detach())
    expect(isinstance(value, (int, float)) and not isinstance(value, bool), what, "a number", short(value, 60))
    return float(value)


# ------------------------------------------------------------------------------------- probes


def probe_dataset(learner, csv_text, vocab, cases):
    """SpamDataset on the judge's CSV text (saved to a file) for each set of keyword arguments:
    len(), .max_length and every item (ids, label)."""
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "spam.csv"
    path.write_text(csv_text, encoding="utf-8")
    results = []
    for kwargs in cases:
        ds = learner.SpamDataset(str(path), Words(vocab), **kwargs)
        items = []
        for i in range(len(ds)):
            item = ds[i]
            expect(isinstance(item, tuple) and len(item) == 2, f"SpamDataset(...)[{i}]", "a tuple (token ids, label)", short(item, 60))
            items.append(list(item))
        results.append({"len": len(ds), "max_length": getattr(ds, "max_length", None), "items": items})
    return results


def probe_loss(learner, table, pos, cases):
    """calc_loss_batch on each case with device "cpu", then on the first with the stub moved to meta and
    device "meta", its batches on the CPU, as a DataLoader gives them for a model on cuda (`one_device`)."""
    fn = need_fn(learner, "calc_loss_batch")
    out = []
    for x, y in cases:
        loss = fn(x, y, PosTable(table, pos), "cpu")
        expect(isinstance(loss, torch.Tensor) and loss.numel() == 1, "calc_loss_batch(...)", "a scalar tensor", short(loss, 60))
        expect(loss.requires_grad, "calc_loss_batch(...)", "a loss that can be back-propagated", "requires_grad=False")
        out.append(float(loss.detach()))
    model = PosTable(table, pos).to("meta")
    try:
        with one_device():
            loss = fn(*cases[0], model, "meta")
    except RuntimeError as e:  # a CPU batch meets the model's meta weights
        return {"losses": out, "on_meta": {"error": short(str(e), 160)}}
    expect(isinstance(loss, torch.Tensor), "calc_loss_batch(..., device='meta')", "a tensor", short(loss, 60))
    on_meta = {"shape": list(loss.shape), "device": loss.device.type, "requires_grad": loss.requires_grad}
    return {"losses": out, "on_meta": on_meta}


def probe_accuracy(learner, table, pos, batches, calls):
    """calc_accuracy_loader for each num_batches of `calls`, on the CPU, then with the stub on cuda (emulated) and
    the batches on the CPU, as a DataLoader gives them for a model on a GPU."""
    fn = need_fn(learner, "calc_accuracy_loader")
    out = []
    for device in ("cpu", "cuda"):
        with emulated_device(device, f"calc_accuracy_loader(CPU batches, model, {device!r}, num_batches=...)"):
            model = PosTable(table, pos).to(device)
            out.append([number(fn(list(batches), model, device, num_batches=n), "calc_accuracy_loader(...)")
                        for n in calls])  # fmt: skip
    return out


def probe_evaluate(learner, table, pos, train, val, eval_iter):
    """classify.evaluate_model(model, train_loader, val_loader, device, eval_iter) as learn finetune
    calls it, on DataLoaders of the batches' texts and a stub in train mode, for device "cpu" and then
    "cuda" (emulated, the stub there): the two losses, what the stub recorded at each forward pass, and
    model.training after."""
    from torch.utils.data import DataLoader

    def loader(batches):
        return DataLoader([(x[i], y[i]) for x, y in batches for i in range(len(y))], batch_size=len(batches[0][1]))

    out = []
    for device in ("cpu", "cuda"):
        with emulated_device(device, f"evaluate_model(model, train_loader, val_loader, {device!r}, {eval_iter})"):
            model = PosTable(table, pos).to(device)
            model.train()
            got = need_fn(learner, "evaluate_model")(model, loader(train), loader(val), device, eval_iter)
            expect(isinstance(got, tuple) and len(got) == 2, "evaluate_model(...)", "(train_loss, val_loss)",
                   short(got, 60))  # fmt: skip
            out.append([[number(v, "evaluate_model(...)") for v in got], model.seen, model.training])
    return out


def probe_loop(learner, table, pos, train, val, lr, epochs, eval_freq, eval_iter):
    """train_classifier_simple with SGD(lr) on the stub: its five results and the weights after;
    then evaluate_model on DataLoaders (probe_evaluate)."""
    fn = need_fn(learner, "train_classifier_simple")
    model = PosTable(table, pos)
    optimizer = PlainSGD(model.parameters(), lr=lr)
    out = fn(model, list(train), list(val), optimizer, "cpu", num_epochs=epochs, eval_freq=eval_freq, eval_iter=eval_iter)
    expect(isinstance(out, tuple) and len(out) == 5, "train_classifier_simple(...)",
           "(train_losses, val_losses, train_accs, val_accs, examples_seen)", short(out, 80))  # fmt: skip
    lists = [[number(v, "train_classifier_simple(...)") for v in values] for values in out[:4]]
    weights = [model.table.detach().clone(), model.pos_emb.weight[:, : model.classes].detach().clone()]
    evaluated = probe_evaluate(learner, table, pos, train, val, eval_iter)
    return [lists, number(out[4], "examples_seen"), *weights, evaluated]


def probe_review(learner, table, pos, vocab, texts, max_length, pad_token_id):
    """classify_review of each text on the CPU, then with the stub on cuda (emulated), as learn classify would
    run it on a GPU: the labels of both."""
    fn = need_fn(learner, "classify_review")
    out = []
    for device in ("cpu", "cuda"):
        with emulated_device(device, f"classify_review(text, model, tokenizer, {device!r}, max_length={max_length})"):
            model = PosTable(table, pos).to(device)
            tokenizer = Words(vocab)
            out.append([fn(text, model, tokenizer, device, max_length=max_length, pad_token_id=pad_token_id)
                        for text in texts])  # fmt: skip
    return out


# ----------------------------------------------------------------------------- inputs, oracles


def csv_text(rows: list[tuple[int, str]]) -> str:
    """The CSV file the book writes with pandas: a header Label,Text, texts quoted where needed."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["Label", "Text"])
    writer.writerows(rows)
    return buf.getvalue()


def draw_text(r, n: int) -> str:
    """n different words (so a text's first k tokens are never its last k); now and then a comma,
    so that the file needs quoting as the SMS data does."""
    words = r.sample(WORDS[:-1], n)
    if n > 1 and r.random() < 0.4:
        words[0] += ","
    return " ".join(words)


def logits_of(table, pos, x):
    return table.double()[x] + pos.double()[: x.shape[1]]  # (B, T, C)


def readings(table, pos, x) -> dict[str, torch.Tensor]:
    """The logits a classifier reads, the right way and the known wrong ways: (B, C) each."""
    logits = logits_of(table, pos, x)
    return {"last": logits[:, -1, :], "the first token's logits": logits[:, 0, :], "the mean of every token's logits": logits.mean(dim=1)}


def draw_stub(g, vocab: int, classes: int, context: int):
    return torch.randn(vocab, classes, generator=g) * 2, torch.randn(context, classes, generator=g) * 2


def draw_batches(g, n, b, t, vocab, classes):
    return [(torch.randint(0, vocab, (b, t), generator=g), torch.randint(0, classes, (b,), generator=g)) for _ in range(n)]


def accuracy(table, pos, batches, n, reading="last"):
    used = batches if n is None else batches[:n]
    hits = sum(int((readings(table, pos, x)[reading].argmax(-1) == y).sum()) for x, y in used)
    return hits / sum(len(y) for _, y in used)


def batch_mean_accuracy(table, pos, batches) -> float:
    return sum(float((readings(table, pos, x)["last"].argmax(-1) == y).double().mean()) for x, y in batches) / len(batches)


def review_ids(ids: list[int], max_length: int, context: int, pad: int) -> list[int]:
    """What classify_review feeds the model: cut to min(max_length, context), padded to max_length."""
    ids = ids[: min(max_length, context)]
    return ids + [pad] * (max_length - len(ids))


def label_of(table, pos, ids: list[int]) -> str:
    last = logits_of(table, pos, torch.tensor([ids]))[0, -1]  # (C,)
    return "spam" if int(last.argmax()) == 1 else "not spam"


# ------------------------------------------------------------------------------------- checks


def test_spam_dataset_truncates_and_pads():
    r = rng()
    lengths = [r.randint(1, 2), r.randint(6, 8)] + [r.randint(1, 8) for _ in range(r.randint(2, 4))]
    r.shuffle(lengths)
    rows = [(r.randint(0, 1), draw_text(r, n)) for n in lengths]
    vocab = list(WORDS)
    r.shuffle(vocab)
    tok = Words(vocab)
    encoded = [tok.encode(text) for _, text in rows]
    cut = r.randint(3, 5)  # shorter than the longest text, whose first and last `cut` ids differ
    longest = max(len(e) for e in encoded)
    cases = [{}, {"max_length": None}, {"max_length": cut}, {"max_length": longest + 2, "pad_token_id": r.choice([0, 7, 99])}]
    got = expect_type(run(probe_dataset, csv_text=csv_text(rows), vocab=vocab, cases=cases), list, "the probe's results")
    expect_equal(len(got), len(cases), "number of data sets")
    for kwargs, res in zip(cases, got):
        what = f"SpamDataset(csv_file, tokenizer{''.join(f', {k}={v}' for k, v in kwargs.items())})"
        res = expect_type(res, dict, what)
        max_length = kwargs.get("max_length") or longest
        pad = kwargs.get("pad_token_id", 50256)
        expect_equal(res.get("len"), len(rows), f"len({what}) for a file of {len(rows)} rows")
        expect_equal(res.get("max_length"), max_length, f"{what}.max_length" + (" (None: the longest text's length)" if kwargs.get("max_length") is None else ""))
        items = expect_type(res.get("items"), list, f"the items of {what}")
        expect_equal(len(items), len(rows), f"number of items of {what}")
        for i, ((label, text), ids, item) in enumerate(zip(rows, encoded, items)):
            item = expect_type(item, list, f"{what}[{i}]")
            expect(len(item) == 2, f"{what}[{i}]", "(token ids, label)", short(item, 60))
            x, y = item
            expected = ids[:max_length] + [pad] * (max_length - len(ids[:max_length]))
            item_what = f"{what}[{i}] for the text {text!r} (ids {ids})"
            expect(isinstance(x, torch.Tensor) and x.dtype == torch.long and tuple(x.shape) == (max_length,),
                   f"{item_what}: the token ids", f"an int64 tensor of shape ({max_length},)", short(x, 80))  # fmt: skip
            expect_equal(x.tolist(), expected, f"{item_what}: the token ids, cut to max_length={max_length} then padded on the right with {pad}")
            expect(isinstance(y, torch.Tensor) and y.dtype == torch.long and y.dim() == 0, f"{item_what}: the label",
                   f"an int64 tensor of shape () holding {label}", short(y, 60))  # fmt: skip
            expect_equal(int(y), label, f"{item_what}: the label")


def test_classifier_loss_uses_last_token():
    r, g = rng(), torch_gen()
    while True:
        vocab, classes, context = r.randint(6, 12), r.randint(2, 4), 8
        table, pos = draw_stub(g, vocab, classes, context)
        cases = draw_batches(g, 1, r.randint(2, 4), r.randint(3, 6), vocab, classes) + draw_batches(g, 1, 3, context, vocab, classes)
        losses = [{k: float(F.cross_entropy(v, y.long())) for k, v in readings(table, pos, x).items()} for x, y in cases]
        if all(abs(v - ls["last"]) > 1e-2 for ls in losses for k, v in ls.items() if k != "last"):
            break
    got = expect_type(run(probe_loss, table=table, pos=pos, cases=cases), dict, "the probe's results")
    on_meta = got.get("on_meta")
    got = expect_type(got.get("losses"), list, "the losses")
    expect_equal(len(got), len(cases), "number of losses")
    for (x, y), ls, v in zip(cases, losses, got):
        what = f"calc_loss_batch on inputs of shape {tuple(x.shape)}, {classes} classes"
        if type(v) is float and not abs(v - ls["last"]) <= 1e-5 + 1e-4 * ls["last"]:
            for name, wrong in ls.items():
                expect(name == "last" or abs(v - wrong) > 1e-5 + 1e-4 * wrong, f"{what}: the loss is that of {name}",
                       "cross-entropy of the LAST token's logits, model(x)[:, -1, :]", f"{v:.6g}")  # fmt: skip
        expect_near(v, ls["last"], f"{what}: cross-entropy of model(x)[:, -1, :] against the labels")
    what = "calc_loss_batch(CPU batches, model on meta, device='meta'), as on cuda or mps"
    expect(type(on_meta) is dict and "error" not in on_meta, f"{what}: move both batches to `device` (§1)",
           "a loss on meta", on_meta.get("error") if type(on_meta) is dict else on_meta)  # fmt: skip
    expect_equal([on_meta.get("shape"), on_meta.get("device"), on_meta.get("requires_grad")], [[], "meta", True],
                 f"{what}: shape, device, requires_grad")  # fmt: skip


def test_accuracy_on_last_token_over_num_batches():
    r, g = rng(), torch_gen()
    calls = [None, 2, 10]
    for _ in range(200):
        vocab, classes, context = r.randint(6, 12), r.randint(2, 4), 8
        table, pos = draw_stub(g, vocab, classes, context)
        batches = draw_batches(g, r.randint(3, 4), r.randint(3, 4), r.randint(3, 6), vocab, classes)
        batches[-1] = (batches[-1][0][:1], batches[-1][1][:1])  # a shorter last batch, as a DataLoader's often is
        for x, y in batches:  # most labels the last token's prediction, so the accuracy is not chance
            hit = torch.rand(len(y), generator=g) < 0.7
            y[hit] = readings(table, pos, x)["last"].argmax(-1)[hit]
        right = [accuracy(table, pos, batches, n) for n in calls]
        wrong = [accuracy(table, pos, batches, n, k) for n in calls for k in ("the first token's logits", "the mean of every token's logits")]
        averaged = batch_mean_accuracy(table, pos, batches)  # a mean of the batches' accuracies weighs texts unequally
        if all(abs(w - a) > 1e-9 for w in wrong + [averaged] for a in right) and abs(right[1] - right[0]) > 1e-9:
            break
    got = answers(run(probe_accuracy, table=table, pos=pos, batches=batches, calls=calls), 2, "the probe's results")
    for on, accuracies in zip(ON, got):
        check_accuracies(answers(accuracies, len(calls), "the accuracies"), table, pos, batches, calls, right, on)


def check_accuracies(got, table, pos, batches, calls, right, on):
    """One probe call's accuracies (`on` names the device) against the judge's `right` ones."""
    for n, v, expected in zip(calls, got, right):
        what = f"calc_accuracy_loader(a loader of {len(batches)} batches, num_batches={n}){on}"
        for k in ("the first token's logits", "the mean of every token's logits") if type(v) is float else ():
            expect(abs(v - accuracy(table, pos, batches, n, k)) > 1e-9 or abs(v - expected) < 1e-9, f"{what}: the accuracy of {k}",
                   f"{expected:.6g}, from the argmax of the LAST token's logits", f"{v:.6g}")  # fmt: skip
        expect_near(v, expected, f"{what}: the share of texts whose last-token argmax is their label", atol=1e-9, rtol=0)


def replay(table, pos, train, val, lr, epochs, eval_freq, eval_iter):
    """The book's loop, replayed with SGD on the stub: its five results and the weights after."""
    w = [table.clone().double(), pos.clone().double()]

    def loss(x, y, params):
        return F.cross_entropy((params[0][x] + params[1][: x.shape[1]])[:, -1, :], y)  # (B, C) vs (B,)

    def mean_loss(batches):
        used = batches[: min(eval_iter, len(batches))]
        return sum(float(loss(x, y, w)) for x, y in used) / len(used)

    def acc(batches):
        return accuracy(w[0], w[1], batches, min(eval_iter, len(batches)))

    tl, vl, ta, va, seen, step = [], [], [], [], 0, -1
    for _ in range(epochs):
        for x, y in train:
            params = [p.clone().requires_grad_(True) for p in w]
            grads = torch.autograd.grad(loss(x, y, params), params)
            w = [(p - lr * gr).detach() for p, gr in zip(w, grads)]
            seen += x.shape[0]
            step += 1
            if step % eval_freq == 0:
                tl.append(mean_loss(train))
                vl.append(mean_loss(val))
        ta.append(acc(train))
        va.append(acc(val))
    return [tl, vl, ta, va], seen, w


def test_classifier_loop_counts_examples():
    r, g = rng(), torch_gen()
    vocab, classes, b, t = r.randint(6, 10), r.randint(2, 3), r.randint(2, 4), r.randint(3, 5)
    table, pos = draw_stub(g, vocab, classes, 8)
    train, val = draw_batches(g, r.randint(3, 4), b, t, vocab, classes), draw_batches(g, 2, b + 1, t, vocab, classes)
    epochs, eval_freq, eval_iter, lr = 2, r.randint(2, 3), r.randint(1, 2), 0.5
    got = run(probe_loop, table=table, pos=pos, train=train, val=val, lr=lr, epochs=epochs, eval_freq=eval_freq, eval_iter=eval_iter)
    lists, seen, w_table, w_pos, evaluated = answers(got, 5, "the probe's results")
    expected, expected_seen, w = replay(table, pos, train, val, lr, epochs, eval_freq, eval_iter)
    names = ["train_losses", "val_losses", "train_accs", "val_accs"]
    expect_near(seen, expected_seen, f"examples_seen after {epochs} epochs of {len(train)} batches of {b} texts (texts, not tokens)", atol=0, rtol=0)
    for name, got_list, exp_list in zip(names, answers(lists, 4, "train_classifier_simple(...)"), expected):
        when = "evaluated at global_step 0, eval_freq, 2 * eval_freq, ..." if "loss" in name else "one per epoch, over eval_iter batches"
        expect_near_list(got_list, exp_list, f"{name} ({when}; eval_freq={eval_freq}, eval_iter={eval_iter})")
    expect_close(w_table, w[0].float(), "the stub's weights after training (SGD, one step per batch, loss of the last token)")
    expect_close(w_pos, w[1].float(), "the stub's position weights after training")
    check_evaluate(evaluated, table, pos, train, val, eval_iter)


def check_evaluate(got, table, pos, train, val, eval_iter):
    """evaluate_model on DataLoaders, as learn finetune calls it: mean losses over eval_iter batches, in eval
    mode without gradients, and train mode after."""
    for device, result in zip(("cpu", "cuda"), answers(got, 2, "evaluate_model's results on cpu and cuda")):
        check_evaluate_on(result, table, pos, train, val, eval_iter, device)


def check_evaluate_on(got, table, pos, train, val, eval_iter, device):
    """check_evaluate's part for one device."""
    losses, seen, training = answers(got, 3, "evaluate_model's results")
    losses = answers(losses, 2, "evaluate_model(...)")
    for name, v, batches in zip(("train", "val"), losses, (train, val)):
        used = batches[: min(eval_iter, len(batches))]
        expected = sum(float(F.cross_entropy(readings(table, pos, x)["last"], y)) for x, y in used) / len(used)
        expect_near(v, expected, f"evaluate_model(model, train_loader, val_loader, {device!r}, eval_iter={eval_iter}): "
                    f"the {name} loss, the mean last-token loss of the loader's first {len(used)} batches")  # fmt: skip
    passes = sum(min(eval_iter, len(b)) for b in (train, val))
    expect(type(seen) is list and len(seen) == passes, "forward passes during evaluate_model", passes,
           len(seen) if type(seen) is list else short(seen, 60))  # fmt: skip
    expect(all(type(call) in (list, tuple) and len(call) == 2 and all(type(v) is bool for v in call) for call in seen),
           "what the model recorded at each forward pass", "(model.training, grad enabled) pairs",
           short(seen, 60))  # fmt: skip
    expect(all(not tr for tr, _ in seen), "model.training during evaluate_model", "False (model.eval())",
           [tr for tr, _ in seen])  # fmt: skip
    expect(all(not gr for _, gr in seen), "gradients during evaluate_model", "off (torch.no_grad())",
           [gr for _, gr in seen])  # fmt: skip
    expect(training is True, "model.training after evaluate_model (the loop trains on)", True, training)


def test_classify_review_pads_like_the_dataset():
    r, g = rng(), torch_gen()
    vocab = list(WORDS)
    tok = Words(vocab)
    context, pad = 10, r.randrange(300, 50256)  # a learner's own tokenizer's <|endoftext|> id, as learn classify passes
    max_length = r.randint(4, 6)
    texts = [draw_text(r, n) for n in [max_length + 2, max_length + 3, 1, 2, max_length - 1, max_length]]
    rows = 50257  # the stub's table covers the pad id
    for _ in range(200):
        table, pos = draw_stub(g, rows, 2, context)
        ids = [tok.encode(t) for t in texts]
        right = [label_of(table, pos, review_ids(i, max_length, context, pad)) for i in ids]
        unpadded = [label_of(table, pos, i[:max_length]) for i in ids]
        from_end = [label_of(table, pos, review_ids(i[-max_length:], max_length, context, pad)) for i in ids]
        default_pad = [label_of(table, pos, review_ids(i, max_length, context, 50256)) for i in ids]
        if right != unpadded and right != from_end and right != default_pad and len(set(right)) == 2:
            break
    got = run(probe_review, table=table, pos=pos, vocab=vocab, texts=texts, max_length=max_length, pad_token_id=pad)
    for on, labels in zip(ON, answers(got, 2, "the labels on cpu and cuda")):
        for text, i, label, v in zip(texts, ids, right, answers(labels, len(texts), "the labels")):
            fed = review_ids(i, max_length, context, pad)
            expect_equal(v, label, f"classify_review({text!r}, max_length={max_length}){on}: the model's last-token "
                         f"argmax on {fed} (1 is 'spam')")  # fmt: skip
    # max_length=None: cut to the context length (pos_emb's rows; its width, shape[1], is 16 here), never padded
    texts = [draw_text(r, 12) + " " + draw_text(r, 8), draw_text(r, 3)]
    got = run(probe_review, table=table, pos=pos, vocab=vocab, texts=texts, max_length=None, pad_token_id=pad)
    for on, labels in zip(ON, answers(got, 2, "the labels on cpu and cuda")):
        for text, v in zip(texts, answers(labels, len(texts), "the labels")):
            fed = tok.encode(text)[:context]
            expect_equal(v, label_of(table, pos, fed),
                         f"classify_review({short(text, 40)!r}, max_length=None){on}: the label of {fed}")
