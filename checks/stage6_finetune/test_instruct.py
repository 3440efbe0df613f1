"""Graded checks for stage 6, instruction fine-tuning (lessons/stage6_finetune.md, §5-§7).

Probes run in the worker on the learner's code and send back strings and tensors; the checks
run in the judge and compute every expected value here: the book's prompt text, written out, and
an independent collate oracle (pad, shift, ignore, cut) on the book's batch and judge-drawn ones.
"""

from __future__ import annotations

import torch

from learn.shared.checking import answers, expect, expect_equal, expect_type, rng, run, short

PREAMBLE = ("Below is an instruction that describes a task. "
            "Write a response that appropriately completes the request.")  # fmt: skip
WORDS = ["name", "the", "color", "sky", "rewrite", "sentence", "is", "blue", "a", "list", "of", "3", "odd", "numbers", "café", "x: y"]


def byte_encode(text: str) -> list[int]:
    """The toy tokenizer of these checks: one id per UTF-8 byte."""
    return list(text.encode("utf-8"))


class ByteTokenizer:
    def encode(self, text, **kwargs):
        return byte_encode(text)


# ------------------------------------------------------------------------------------- probes


def probe_format(learner, entries):
    """format_input(entry) for each entry, as the learner writes it."""
    return [learner.format_input(dict(e)) for e in entries]


def probe_collate(learner, cases):
    """custom_collate_fn(batch, **kwargs) for each case: the (inputs, targets) tensors."""
    out = []
    for batch, kwargs in cases:
        inputs, targets = learner.custom_collate_fn([list(item) for item in batch], **kwargs)
        expect(isinstance(inputs, torch.Tensor) and isinstance(targets, torch.Tensor),
               "custom_collate_fn should return (inputs, targets) tensors", "two tensors", f"{type(inputs).__name__}, {type(targets).__name__}")  # fmt: skip
        out.append([inputs, targets])
    return out


def probe_dataset(learner, data):
    """InstructionDataset(data, a byte tokenizer): len() and every item as a list of ints."""
    ds = learner.InstructionDataset([dict(e) for e in data], ByteTokenizer())
    return {"len": len(ds), "items": [[int(t) for t in ds[i]] for i in range(len(ds))]}


def probe_prompt_lengths(learner, data):
    """InstructionDataset(data, a byte tokenizer).prompt_lengths as ints (None if it keeps none):
    what `learn finetune instruct --mask-prompt` hands mask_prompt_targets, row by row."""
    lengths = getattr(learner.InstructionDataset([dict(e) for e in data], ByteTokenizer()), "prompt_lengths", None)
    return None if lengths is None else [int(lengths[i]) for i in range(len(data))]


def probe_mask(learner, targets, prompt_lengths, ignore_index):
    """ignore_index None: left to its default, as learn finetune instruct --mask-prompt does."""
    kwargs = {} if ignore_index is None else {"ignore_index": ignore_index}
    return learner.mask_prompt_targets(targets.clone(), list(prompt_lengths), **kwargs)


# ------------------------------------------------------------------------------------- oracles


def oracle_format(e: dict) -> str:
    text = f"{PREAMBLE}\n\n### Instruction:\n{e['instruction']}"
    return text + (f"\n\n### Input:\n{e['input']}" if e["input"] else "")


def oracle_collate(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None):
    """The book's collate, written from its description: (inputs, targets) as lists of rows."""
    longest = max(len(item) for item in batch) + 1
    inputs, targets = [], []
    for item in batch:
        padded = list(item) + [pad_token_id] * (longest - len(item))  # one end-of-text, then padding
        x, y = padded[:-1], padded[1:]
        first_pad = len(item) - 1  # where the first pad sits among the targets
        y = [t if j <= first_pad else ignore_index for j, t in enumerate(y)]
        if allowed_max_length is not None:
            x, y = x[:allowed_max_length], y[:allowed_max_length]
        inputs.append(x)
        targets.append(y)
    return inputs, targets


def draw_entry(r, with_input: bool) -> dict:
    words = lambda n: " ".join(r.choice(WORDS) for _ in range(n))  # noqa: E731
    return {"instruction": words(r.randrange(1, 6)).capitalize() + ".", "input": words(r.randrange(1, 5)) if with_input else "", "output": words(r.randrange(1, 6))}


def draw_batch(r, pad: int) -> list[list[int]]:
    """Token ids that never equal the pad id (the book's collate would mistake them for padding)."""
    return [[r.choice([t for t in range(0, 400) if t != pad]) for _ in range(r.randrange(1, 9))] for _ in range(r.randrange(2, 5))]


def as_rows(t, what: str, shape: tuple) -> list:
    expect(isinstance(t, torch.Tensor) and tuple(t.shape) == shape, f"{what}: shape", shape, tuple(t.shape) if isinstance(t, torch.Tensor) else short(t))
    expect(not t.is_floating_point(), f"{what}: dtype", "an integer tensor (int64)", t.dtype)
    return t.tolist()


def collate_cases(r):
    book = ([[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]], {})
    cases = [book]
    for _ in range(3):
        pad = r.choice([50256, r.randrange(400, 1000)])
        cases.append((draw_batch(r, pad), {"pad_token_id": pad, "ignore_index": r.choice([-100, -1, -7])}))
    return cases


def check_collate(cases, got):
    got = expect_type(got, list, "the probe's results")
    expect_equal(len(got), len(cases), "number of collated batches")
    for (batch, kwargs), pair in zip(cases, got):
        inputs, targets = oracle_collate(batch, **kwargs)
        what = f"custom_collate_fn({batch}{''.join(f', {k}={v}' for k, v in kwargs.items())})"
        shape = (len(inputs), len(inputs[0]))
        pair = answers(pair, 2, f"{what}: (inputs, targets)")
        expect_equal(as_rows(pair[0], f"{what} inputs", shape), inputs, f"{what} inputs")
        expect_equal(as_rows(pair[1], f"{what} targets", shape), targets, f"{what} targets")


# ------------------------------------------------------------------------------------- checks


def test_format_input_matches_the_book():
    r = rng()
    book = [{"instruction": "Identify the correct spelling of the following word.", "input": "Ocassion", "output": "The correct spelling is 'Occasion.'"},
            {"instruction": "What is an antonym of 'complicated'?", "input": "", "output": "An antonym of 'complicated' is 'simple'."}]  # fmt: skip
    entries = book + [draw_entry(r, True), draw_entry(r, False)]
    got = expect_type(run(probe_format, entries=entries), list, "the probe's results")
    expect_equal(len(got), len(entries), "number of prompts")
    for e, text in zip(entries, got):
        expect_equal(text, oracle_format(e), f"format_input({short(e, 60)})")


def test_collate_pads_shifts_and_ignores():
    cases = collate_cases(rng())
    check_collate(cases, run(probe_collate, cases=cases))


def test_collate_truncates_to_allowed_max_length():
    r = rng()
    cases = [([[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]], {"allowed_max_length": 3})]
    for _ in range(2):
        batch = draw_batch(r, 50256)
        cases.append((batch, {"allowed_max_length": r.randrange(1, max(len(b) for b in batch) + 1)}))
    pad = r.randrange(300, 1024)  # as learn finetune instruct calls it: its tokenizer's pad, a context above the batch
    batch = draw_batch(r, pad)
    cases.append((batch, {"pad_token_id": pad, "allowed_max_length": max(len(b) for b in batch) + r.randrange(1, 64)}))
    check_collate(cases, run(probe_collate, cases=cases))


def test_instruction_dataset_encodes_prompt_and_response():
    r = rng()
    data = [draw_entry(r, True), draw_entry(r, False)] + [draw_entry(r, r.random() < 0.5) for _ in range(r.randrange(0, 3))]
    r.shuffle(data)  # entries with an input and without, in any order
    got = expect_type(run(probe_dataset, data=data), dict, "the probe's result")
    expect_equal(got.get("len"), len(data), "len(InstructionDataset(data, tokenizer))")
    items = answers(got.get("items"), len(data), "the data set's items")
    for i, (e, item) in enumerate(zip(data, items)):
        expected = byte_encode(oracle_format(e) + f"\n\n### Response:\n{e['output']}")
        expect_equal(item, expected, f"dataset[{i}] (a one-id-per-byte tokenizer) for {short(e, 60)}")


def test_prompt_mask_ignores_prompt_targets():
    r = rng()
    b, t = r.randrange(2, 5), r.randrange(4, 10)
    targets = torch.tensor([[r.randrange(0, 500) for _ in range(t)] for _ in range(b)])
    prompt_lengths = [r.randrange(1, t + 1) for _ in range(b)]
    ignore = r.choice([-100, -5])
    book = ([[11, 12, 13, 14]], [3], -100)  # the lesson's example
    for tg, pl, ig in (book, (targets.tolist(), prompt_lengths, ignore), (targets.tolist(), prompt_lengths, None)):
        got = run(probe_mask, targets=torch.tensor(tg), prompt_lengths=pl, ignore_index=ig)
        mask = -100 if ig is None else ig  # the default: the collate's and the loss's ignore_index
        expected = [[mask if j < p - 1 else v for j, v in enumerate(row)] for row, p in zip(tg, pl)]
        what = f"mask_prompt_targets({tg}, prompt_lengths={pl}" + (")" if ig is None else f", ignore_index={ig})")
        expect_equal(as_rows(got, what, (len(tg), len(tg[0]))), expected, what)
    data = [draw_entry(r, True), draw_entry(r, False)]
    got = run(probe_prompt_lengths, data=data)
    expect(got is not None, "InstructionDataset.prompt_lengths (what --mask-prompt masks)", "a length per entry", "none kept")
    expected = [len(byte_encode(oracle_format(e))) for e in data]
    expect_equal(answers(got, len(data), "prompt_lengths"), expected, "InstructionDataset(data, a one-id-per-byte tokenizer).prompt_lengths")
