"""Graded checks for stage 5, the loss and its measurement (lessons/stage5_pretrain.md, §1-§3).

Probes (`probe_*`) run in the worker on the learner's code and send back plain data; the checks
(`test_*`) run in the judge and compute every expected value themselves. The models are stubs
whose logits the judge knows: Table gives logits = table[idx], the judge's table. The tokenizer is
a stub too, one id per character from a table the judge draws (Chars).

The judge never imports torch (most of a second at start, and the stage's checks should take
about twice a bare `import torch`): it draws the tables and the batches as plain lists (tables in
multiples of 1/256, which float32 holds exactly), the probes make the tensors, and the judge's
cross-entropy is written here in plain Python.
"""

from __future__ import annotations

import math
import operator

from learn.shared.checking import (
    answers, emulated_device, expect, expect_equal, expect_near, one_device, plain_tensor, rng, run, short, tensor_data
)

PKG = "stage5_pretrain"
EOT = "<|endoftext|>"

if __name__.startswith("learn_probes_"):  # the worker (learn/worker/main.py): torch and the stub model
    import torch
    import torch.nn as nn

    class Table(nn.Module):
        """logits[b, t] = table[idx[b, t]]; records (training, grad enabled) at each call."""

        def __init__(self, table):
            super().__init__()
            self.table = nn.Parameter(torch.tensor(table))  # (V, V), float32
            self.seen = []

        def forward(self, idx):
            self.seen.append((self.training, torch.is_grad_enabled()))
            return self.table[idx]  # (B, T, V)


class Chars:
    """A tokenizer with tiktoken's encode and decode: one id per character, from the judge's
    table {character: id}, and <|endoftext|> as one id. Like tiktoken, encode refuses a text that
    holds <|endoftext|> unless allowed_special lets it through, and decode wants a sequence of ints."""

    def __init__(self, ids, eot_id):
        self.ids, self.eot_id = dict(ids), eot_id
        self.chars = {i: c for c, i in self.ids.items()}

    def encode(self, text, allowed_special=frozenset(), **kwargs):
        parts = text.split(EOT)
        if len(parts) > 1 and not (allowed_special == "all" or EOT in allowed_special):
            raise ValueError(f"the text holds {EOT} but encode() was called without allowed_special={{{EOT!r}}}")
        out = []
        for k, part in enumerate(parts):
            out += [self.eot_id] * (k > 0) + [self.ids[c] for c in part]
        return out

    def decode(self, tokens):
        ids = [operator.index(i) for i in tokens]  # TypeError for a list of lists, as tiktoken's
        return "".join(EOT if i == self.eot_id else self.chars[i] for i in ids)


def need_fn(learner, name):
    fn = getattr(learner, name, None)
    expect(callable(fn), f"{PKG} should define {name} (the book's name)", name, "no such function")
    return fn


def as_float(value, what):
    """In a probe: a number the learner's code returned (a float, an int or a one-element tensor)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.detach())
    expect(isinstance(value, (int, float)), what, "a number", short(value, 60))
    return float(value)


def loader(batches):
    """In a probe: the judge's batches as a loader, a list of (inputs, targets) int64 tensors (B, T)."""
    return [(torch.tensor(x), torch.tensor(y)) for x, y in batches]


# ------------------------------------------------------------------------------------- probes


def probe_batch_loss(learner, table, cases):
    """calc_loss_batch on each case with device "cpu", then on the first with the stub moved to meta and
    device "meta", its batches on the CPU, as learn pretrain gives them on cuda or mps (`one_device`)."""
    fn = need_fn(learner, "calc_loss_batch")
    out = []
    for x, y in loader(cases):
        loss = fn(x, y, Table(table), "cpu")
        expect(isinstance(loss, torch.Tensor) and loss.numel() == 1, "calc_loss_batch(...)", "a scalar tensor", short(loss, 60))
        expect(loss.requires_grad, "calc_loss_batch(...)", "a loss that can be back-propagated", "requires_grad=False")
        out.append(float(loss.detach()))
    return {"losses": out, "on_meta": loss_on_meta(fn, *loader(cases)[0], Table(table).to("meta"))}


def loss_on_meta(fn, x, y, model):
    """In a probe: fn(x, y, model, "meta") under one_device(): the loss's shape, device and requires_grad
    (meta has no values), or the error."""
    try:
        with one_device():
            loss = fn(x, y, model, "meta")
    except RuntimeError as e:  # a CPU batch meets the model's meta weights
        return {"error": short(str(e), 160)}
    expect(isinstance(loss, torch.Tensor), "calc_loss_batch(..., device='meta')", "a tensor", short(loss, 60))
    return {"shape": list(loss.shape), "device": loss.device.type, "requires_grad": loss.requires_grad}


def probe_token_ids(learner, ids, eot_id, texts, batches):
    """text_to_token_ids(text, Chars(...)) for each text, and token_ids_to_text on each (1, T)
    batch of ids, on what text_to_token_ids gave, and on each batch on cuda (emulated), as learn
    pretrain decodes what generate gave on a GPU."""
    to_ids, to_text = need_fn(learner, "text_to_token_ids"), need_fn(learner, "token_ids_to_text")
    tokenizer = Chars(ids, eot_id)
    encoded = [to_ids(text, tokenizer) for text in texts]
    decoded = [to_text(torch.tensor(batch), tokenizer) for batch in batches]
    back = [to_text(t, tokenizer) for t in encoded]
    with emulated_device("cuda", "token_ids_to_text(ids on cuda, tokenizer)"):
        on_device = [to_text(torch.tensor(batch).to("cuda"), tokenizer) for batch in batches]
    encoded = [plain_tensor(t, f"text_to_token_ids({short(text, 30)}, tokenizer)") for t, text in zip(encoded, texts)]
    return [encoded, decoded, back, on_device]


def probe_loader_loss(learner, table, batches, calls):
    fn = need_fn(learner, "calc_loss_loader")
    model, batches = Table(table), loader(batches)
    return [as_float(fn(batches[:n_loader], model, "cpu", num_batches=nb), "calc_loss_loader(...)") for n_loader, nb in calls]


def probe_evaluate(learner, table, train, val, eval_iter):
    """evaluate_model on the CPU, then with the model on cuda (emulated) and the batches on the CPU, as learn
    pretrain evaluates on a GPU: the two losses, what the stub recorded at each forward pass, model.training after."""
    fn = need_fn(learner, "evaluate_model")
    out = []
    for device in ("cpu", "cuda"):
        with emulated_device(device, f"evaluate_model(model, CPU batches, CPU batches, {device!r}, {eval_iter})"):
            model = Table(table).to(device)
            model.train()
            got = fn(model, loader(train), loader(val), device, eval_iter)
            expect(isinstance(got, tuple) and len(got) == 2, "evaluate_model(...)", "(train_loss, val_loss)",
                   short(got, 60))  # fmt: skip
            out.append([[as_float(v, "evaluate_model(...)") for v in got], model.seen, model.training])
    return out


def probe_measures(learner, losses, sizes):
    ppl, bpb = need_fn(learner, "perplexity"), need_fn(learner, "bits_per_byte")
    return [[as_float(ppl(v), f"perplexity({v})") for v in losses],
            [as_float(bpb(v, n, m), f"bits_per_byte({v}, {n}, {m})") for v, n, m in sizes]]  # fmt: skip


# ----------------------------------------------------------------------------- inputs, oracles


def drawn_table(r, vocab, sd=2.0):
    """A (vocab, vocab) table of normal draws, in multiples of 1/256 (exact in float32)."""
    return [[round(r.gauss(0.0, sd) * 256) / 256 for _ in range(vocab)] for _ in range(vocab)]


def drawn_ids(r, vocab, b, t):
    return [[r.randrange(vocab) for _ in range(t)] for _ in range(b)]


def drawn_batches(r, vocab, n, b, t):
    """n (inputs, targets) batches of shape (b, t), as lists of ids."""
    return [(drawn_ids(r, vocab, b, t), drawn_ids(r, vocab, b, t)) for _ in range(n)]


def cross_entropy(table, x, y):
    """The mean over every position of -log softmax(table[x])[y], x and y lists of lists (B, T)."""
    losses = []
    for row_x, row_y in zip(x, y):
        for i, j in zip(row_x, row_y):
            z = table[i]
            m = max(z)
            losses.append(m + math.log(sum(math.exp(v - m) for v in z)) - z[j])
    return sum(losses) / len(losses)


def pieces(text):
    """The characters of text, with each <|endoftext|> as one piece."""
    out = []
    for k, part in enumerate(text.split(EOT)):
        out += [EOT] * (k > 0) + list(part)
    return out


# ------------------------------------------------------------------------------------- checks


def test_loss_matches_cross_entropy():
    r = rng()
    vocab = r.randint(5, 9)
    table = drawn_table(r, vocab)
    cases = drawn_batches(r, vocab, 1, r.randint(2, 4), r.randint(3, 6)) + drawn_batches(r, vocab, 1, 1, r.randint(2, 5))
    got = run(probe_batch_loss, table=table, cases=cases)
    losses = got.get("losses") if type(got) is dict else None
    expect(type(losses) is list and len(losses) == len(cases), "calc_loss_batch results", len(cases), short(got, 60))
    for (x, y), v in zip(cases, losses):
        expect_near(v, cross_entropy(table, x, y), f"calc_loss_batch on inputs of shape ({len(x)}, {len(x[0])})")
    expect_loss_on_meta(got.get("on_meta"))


def expect_loss_on_meta(got):
    """The judge's side of loss_on_meta: a 0-dim loss on meta that back-propagates."""
    what = "calc_loss_batch(CPU batches, model on meta, device='meta'), as on cuda or mps"
    expect(type(got) is dict and "error" not in got, f"{what}: move both batches to `device` (§1)",
           "a loss on meta", got.get("error") if type(got) is dict else got)  # fmt: skip
    expect_equal([got.get("shape"), got.get("device"), got.get("requires_grad")], [[], "meta", True],
                 f"{what}: shape, device, requires_grad")  # fmt: skip


def test_text_token_ids_round_trip():
    r = rng()
    alphabet = list("abcdefghij XYZ.,\n") + ["é", "ß", "中", "文", "😀"]
    chars = r.sample(alphabet, r.randint(8, len(alphabet)))
    ids = dict(zip(chars, r.sample(range(1, 5000), len(chars))))
    eot_id = r.randrange(5000, 5100)
    words = ["".join(r.choice(chars) for _ in range(r.randint(2, 6))) for _ in range(4)]
    texts = [words[0] + EOT + words[1], words[2], EOT + words[3] + EOT, r.choice(chars)]  # the last: one token, (1, 1)
    tokenizer_ids = [[eot_id if piece == EOT else ids[piece] for piece in pieces(text)] for text in texts]
    decode = [(tokenizer_ids[i], texts[i]) for i in (0, 1, 3)]
    batches = [[tokens] for tokens, _ in decode]  # (1, T) each
    got = answers(run(probe_token_ids, ids=ids, eot_id=eot_id, texts=texts, batches=batches), 4, "the probe's results")
    encoded = answers(got[0], len(texts), "text_to_token_ids results")
    decoded = answers(got[1], len(decode), "token_ids_to_text results")
    back = answers(got[2], len(texts), "token_ids_to_text(text_to_token_ids(...)) results")
    on_device = answers(got[3], len(decode), "token_ids_to_text results for ids on cuda")
    for text, tokens, v in zip(texts, tokenizer_ids, encoded):
        what = f"text_to_token_ids({short(text, 40)}, tokenizer)"
        t = tensor_data(v, what)
        expect(t.shape == (1, len(tokens)), f"{what}: shape", f"(1, {len(tokens)}): a batch of one", str(t.shape))
        expect(t.dtype in ("int64", "int32"), f"{what}: dtype", "int64 (token ids)", t.dtype)
        expect_equal(t.values, [tokens], what)
    for (tokens, text), got in zip(decode, decoded):
        expect_equal(got, text, f"token_ids_to_text(tensor({short([tokens], 40)}), tokenizer)")
    for text, got in zip(texts, back):
        expect_equal(got, text, f"token_ids_to_text(text_to_token_ids({short(text, 40)}, tokenizer), tokenizer)")
    for (tokens, text), got in zip(decode, on_device):
        expect_equal(got, text, f"token_ids_to_text(tensor({short([tokens], 40)}) on cuda (emulated), tokenizer)")


def test_loader_loss_mean_cap_and_empty():
    r = rng()
    vocab = r.randint(5, 9)
    table = drawn_table(r, vocab)
    batches = drawn_batches(r, vocab, 4, 2, r.randint(3, 5))
    calls = [(4, None), (4, 2), (3, 10), (0, None)]
    got = run(probe_loader_loss, table=table, batches=batches, calls=calls)
    expect(type(got) is list and len(got) == len(calls), "calc_loss_loader results", len(calls), short(got, 60))
    for (n_loader, nb), v in zip(calls, got):
        what = f"calc_loss_loader(a loader of {n_loader} batches, num_batches={nb})"
        if n_loader == 0:
            expect(type(v) is float and math.isnan(v), what, "nan (no batch to average)", v)
            continue
        n = n_loader if nb is None else min(nb, n_loader)
        expect_near(v, sum(cross_entropy(table, x, y) for x, y in batches[:n]) / n, what)


def test_evaluate_restores_train_mode():
    r = rng()
    vocab = r.randint(5, 9)
    table = drawn_table(r, vocab)
    # eval_iter 3: the first 3 of 4 training batches, and every validation batch of 2 (learn pretrain's
    # final evaluation asks for more batches than one loader holds)
    train, val, eval_iter = drawn_batches(r, vocab, 4, 2, 4), drawn_batches(r, vocab, 2, 2, 4), 3
    got = answers(run(probe_evaluate, table=table, train=train, val=val, eval_iter=eval_iter), 2, "the probe's results")
    for on, result in zip(("", " (the model on cuda, emulated; the batches on the CPU)"), got):
        losses, seen, training = answers(result, 3, f"evaluate_model's results{on}")
        losses = answers(losses, 2, f"evaluate_model(...){on}")
        expect_near(losses[0], sum(cross_entropy(table, x, y) for x, y in train[:eval_iter]) / eval_iter,
                    f"evaluate_model(...)[0], the train loss{on}")  # fmt: skip
        expect_near(losses[1], sum(cross_entropy(table, x, y) for x, y in val) / len(val),
                    f"evaluate_model(...)[1], the val loss (eval_iter 3, 2 batches: both){on}")  # fmt: skip
        expect_modes(seen, training, eval_iter + len(val), on)


def expect_modes(seen, training, passes, on):
    """What the stub recorded at each forward pass of evaluate_model: eval mode, no gradients; train mode after."""
    expect(type(seen) is list and len(seen) == passes, f"forward passes during evaluate_model{on}", passes,
           len(seen) if type(seen) is list else short(seen, 60))  # fmt: skip
    expect(all(type(call) in (list, tuple) and len(call) == 2 and all(type(v) is bool for v in call) for call in seen),
           "what the model recorded at each forward pass", "(model.training, grad enabled) pairs", short(seen, 60))  # fmt: skip
    expect(all(not tr for tr, _ in seen), f"model.training during evaluation{on}", "False (model.eval())",
           [tr for tr, _ in seen])  # fmt: skip
    expect(all(not gr for _, gr in seen), f"gradients during evaluation{on}", "off (torch.no_grad())",
           [gr for _, gr in seen])  # fmt: skip
    expect(training is True, f"model.training after evaluate_model{on}", True, training)


def test_perplexity_and_bits_per_byte():
    r = rng()
    losses = [0.0, 2.0, r.uniform(0.5, 6.0), r.uniform(0.5, 6.0)]
    sizes = [(3.0, 1000, 3000)]  # the lesson's example: 1.4427
    for _ in range(3):
        tokens = r.randint(50, 5000)
        sizes.append((r.uniform(0.5, 6.0), tokens, int(tokens * r.uniform(1.5, 5.0))))
    ppl, bpb = answers(run(probe_measures, losses=losses, sizes=sizes), 2, "perplexity and bits_per_byte results")
    ppl, bpb = answers(ppl, len(losses), "perplexity results"), answers(bpb, len(sizes), "bits_per_byte results")
    for loss, v in zip(losses, ppl):
        expect_near(v, math.exp(loss), f"perplexity({loss:.6g}) (e to the loss in nats)")
    for (loss, tokens, size), v in zip(sizes, bpb):
        expect_near(v, loss * tokens / size / math.log(2), f"bits_per_byte({loss:.6g}, num_tokens={tokens}, num_bytes={size})")
