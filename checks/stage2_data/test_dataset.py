"""Graded checks for stage 2: the sliding-window data set and its loader (lessons/stage2_data.md).

Each check's points, lesson idea and hint live in curriculum.toml. The oracle is `windows` below:
an independent statement of the rule (windows start at 0, stride, 2 * stride, ... while
start + max_length < number of ids; targets are the inputs moved one id right). The checks never
download GPT-2's tokenizer: they pass tokenizers of their own, which need no network.
"""

import torch

from learn.checking import expect, expect_equal, short

EOT = "<|endoftext|>"


class FixedTokenizer:
    """Encodes any text as the given ids, so that a window's ids say where it starts."""

    def __init__(self, ids):
        self.ids = list(ids)

    def encode(self, txt, allowed_special=frozenset(), **kwargs):
        return list(self.ids)


class CharTokenizer:
    """One token per character (its code point); <|endoftext|> is the single token 0.

    Like tiktoken's encode, it refuses a text that holds <|endoftext|> unless allowed_special
    lets it through ("all", or a set holding it).
    """

    EOT_ID = 0

    def encode(self, txt, allowed_special=frozenset(), **kwargs):
        parts = txt.split(EOT)
        if len(parts) > 1 and not (allowed_special == "all" or EOT in allowed_special):
            raise ValueError(f"the text holds {EOT} but encode() was called without allowed_special={{{EOT!r}}}")
        ids = []
        for k, part in enumerate(parts):
            if k:
                ids.append(self.EOT_ID)
            ids.extend(ord(c) for c in part)
        return ids


def windows(ids, max_length, stride):
    """The (inputs, targets) pairs a correct data set holds, in order, as lists of ids."""
    out, start = [], 0
    while start + max_length < len(ids):
        out.append((ids[start : start + max_length], ids[start + 1 : start + max_length + 1]))
        start += stride
    return out


def scrambled(n):
    """n distinct ids in no arithmetic order (so that targets cannot be faked as inputs + 1)."""
    return [(37 * k + 11) % 101 for k in range(n)]


def as_ids(t, what, length=None):
    """A 1-D integer tensor as a list of ints; fails with a clear message otherwise."""
    expect(isinstance(t, torch.Tensor), f"{what}: type", "a torch.Tensor of token ids", type(t).__name__)
    expect(t.dim() == 1, f"{what}: shape", "(max_length,)" if length is None else (length,), tuple(t.shape))
    if length is not None:
        expect_equal(tuple(t.shape), (length,), f"{what}: shape")
    return t.tolist()


def dataset_pairs(learner, ids, max_length, stride):
    """What the learner's data set holds, read through len() and [i], as lists of ids."""
    ds = learner.GPTDatasetV1("text", FixedTokenizer(ids), max_length, stride)
    pairs = []
    for i in range(len(ds)):
        item = ds[i]
        expect(isinstance(item, (tuple, list)) and len(item) == 2, f"dataset[{i}]", "a pair (inputs, targets)", short(item))
        x, y = item
        pairs.append((as_ids(x, f"dataset[{i}] inputs"), as_ids(y, f"dataset[{i}] targets")))
    return pairs


def loader_rows(loader, what):
    """Every batch of a loader as (batch size, [(input row, target row), ...])."""
    batches = []
    try:
        all_batches = list(loader)
    except RuntimeError as e:  # the DataLoader cannot stack windows of different lengths into a batch
        expect(False, f"{what}: making batches", "windows that all hold max_length ids", f"RuntimeError: {str(e).splitlines()[0]}")
    for b, batch in enumerate(all_batches):
        expect(isinstance(batch, (tuple, list)) and len(batch) == 2, f"{what}: batch {b}", "a pair (inputs, targets)", short(batch))
        x, y = batch
        for name, t in (("inputs", x), ("targets", y)):
            expect(isinstance(t, torch.Tensor) and t.dim() == 2, f"{what}: batch {b} {name}", "a 2-D tensor (batch_size, max_length)",
                   tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__)  # fmt: skip
        batches.append((x.shape[0], list(zip(x.tolist(), y.tolist()))))
    return batches


def test_windows_follow_max_length_and_stride(learner):
    # (number of ids, max_length, stride): overlapping, touching, gaps, stride 1, and both sides of
    # the last-window boundary (a window needs one id after it for its last target).
    for n, max_length, stride in [(10, 4, 2), (11, 4, 2), (12, 4, 3), (9, 4, 4), (16, 5, 5), (20, 3, 5), (5, 4, 1), (30, 5, 1)]:
        ids = list(range(100, 100 + n))
        expected = [x for x, _ in windows(ids, max_length, stride)]
        got = [x for x, _ in dataset_pairs(learner, ids, max_length, stride)]
        what = f"ids {ids[0]}..{ids[-1]} ({n} ids), max_length={max_length}, stride={stride}"
        expect_equal(len(got), len(expected), f"number of windows for {what}")
        expect_equal(got, expected, f"input windows for {what}")


def test_targets_are_inputs_shifted_by_one(learner):
    for n, max_length, stride in [(10, 4, 2), (13, 3, 3), (8, 7, 1)]:
        ids = scrambled(n)
        what = f"{n} ids, max_length={max_length}, stride={stride}"
        got, expected = dataset_pairs(learner, ids, max_length, stride), windows(ids, max_length, stride)
        expect_equal(len(got), len(expected), f"number of (inputs, targets) windows ({what})")
        for i, ((x, y), (ex, ey)) in enumerate(zip(got, expected)):
            expect_equal(x, ex, f"inputs of window {i} ({what})")
            expect_equal(y, ey, f"targets of window {i} ({what}): the inputs moved one id to the right")


def test_dataset_items_are_token_id_tensors(learner):
    ids = scrambled(12)
    ds = learner.GPTDatasetV1("text", FixedTokenizer(ids), 4, 3)
    expect_equal(len(ds), 3, "len(GPTDatasetV1(...)) for 12 ids, max_length=4, stride=3")
    for name in ("input_ids", "target_ids"):
        got = getattr(ds, name, None)
        expect(isinstance(got, (list, tuple)), f"dataset.{name}", "a list of tensors, one per window", type(got).__name__)
        expect_equal(len(got), len(ds), f"len(dataset.{name})")
    for i in range(len(ds)):
        x, y = ds[i]
        for name, t, stored in (("inputs", x, ds.input_ids[i]), ("targets", y, ds.target_ids[i])):
            expect(isinstance(t, torch.Tensor), f"dataset[{i}] {name}: type", "torch.Tensor", type(t).__name__)
            expect_equal(t.dtype, torch.long, f"dataset[{i}] {name}: dtype (ids for nn.Embedding and targets for cross_entropy are int64)")
            expect_equal(tuple(t.shape), (4,), f"dataset[{i}] {name}: shape (max_length,)")
            expect(isinstance(stored, torch.Tensor) and torch.equal(stored, t), f"dataset.{name[:-1]}_ids[{i}] vs dataset[{i}]",
                   t.tolist(), stored.tolist() if isinstance(stored, torch.Tensor) else short(stored))  # fmt: skip


def test_endoftext_stays_one_token(learner):
    text = "ab" + EOT + "cd" + EOT + "ef"
    ids = CharTokenizer().encode(text, allowed_special={EOT})  # [97, 98, 0, 99, 100, 0, 101, 102]
    try:
        ds = learner.GPTDatasetV1(text, CharTokenizer(), 3, 1)
    except ValueError as e:
        expect(False, f"GPTDatasetV1({text!r}, tokenizer, 3, 1)", f"tokenizer.encode(txt, allowed_special={{{EOT!r}}})", f"ValueError: {e}")
    got = [as_ids(ds[i][0], f"dataset[{i}] inputs") for i in range(len(ds))]
    expect_equal(got, [x for x, _ in windows(ids, 3, 1)], f"input windows of {text!r} ({EOT} is the one token 0)")


def test_too_short_text_raises_value_error(learner):
    for n in (0, 3, 4):
        ids = list(range(n))
        what = f"GPTDatasetV1 on {n} token ids with max_length=4"
        try:
            ds = learner.GPTDatasetV1("text", FixedTokenizer(ids), 4, 2)
        except ValueError as e:
            expect(str(e).strip() != "", f"{what}: the ValueError's message", "a line saying what is wrong and what to do", "an empty message")
            continue
        try:
            got = f"a data set of {len(ds)} windows"
        except Exception as e:  # a data set in a broken state is no answer either
            got = f"a data set whose len() raised {type(e).__name__}"
        expect(False, what, "ValueError: too short for one window (it needs max_length + 1 ids)", got)
    try:
        learner.create_dataloader_v1("text", batch_size=1, max_length=4, stride=2, tokenizer=FixedTokenizer(range(4)))
    except ValueError:
        pass
    else:
        expect(False, "create_dataloader_v1 on 4 token ids with max_length=4", "ValueError", "a loader (with no batches)")
    expect_equal(len(dataset_pairs(learner, list(range(5)), 4, 2)), 1, "windows from 5 ids with max_length=4 (exactly enough)")


def test_loader_batches_have_shape_batch_by_max_length(learner):
    # 20 ids, max_length=5, stride=2: 8 windows -> 2 full batches of 3 (drop_last drops the other 2).
    loader = learner.create_dataloader_v1("text", batch_size=3, max_length=5, stride=2, shuffle=False,
                                          drop_last=True, tokenizer=FixedTokenizer(scrambled(20)))  # fmt: skip
    batches = list(loader)
    expect_equal(len(batches), 2, "number of batches (8 windows, batch_size=3, drop_last=True)")
    for b, batch in enumerate(batches):
        expect(isinstance(batch, (tuple, list)) and len(batch) == 2, f"batch {b}", "a pair (inputs, targets)", short(batch))
        for name, t in zip(("inputs", "targets"), batch):
            expect(isinstance(t, torch.Tensor), f"batch {b} {name}: type", "torch.Tensor", type(t).__name__)
            expect_equal(tuple(t.shape), (3, 5), f"batch {b} {name}: shape (batch_size, max_length)")
            expect_equal(t.dtype, torch.long, f"batch {b} {name}: dtype")
    # The book's defaults: batch_size=4, max_length=256, stride=128, drop_last=True.
    # 1000 ids give windows at 0, 128, ..., 640 (6 of them): one full batch of 4.
    loader = learner.create_dataloader_v1("text", tokenizer=FixedTokenizer(range(1000)))
    shapes = [(size, len(rows[0][0])) for size, rows in loader_rows(loader, "loader with the default arguments")]
    expect_equal(shapes, [(4, 256)], "batch shapes (batch_size, max_length) with the default arguments on 1000 ids")


def test_loader_keeps_window_order_without_shuffle(learner):
    ids = scrambled(23)
    for batch_size, max_length, stride in [(2, 4, 3), (4, 3, 1)]:
        loader = learner.create_dataloader_v1("text", batch_size=batch_size, max_length=max_length, stride=stride,
                                              shuffle=False, drop_last=False, tokenizer=FixedTokenizer(ids))  # fmt: skip
        got = [row for _, rows in loader_rows(loader, "loader") for row in rows]
        expected = windows(ids, max_length, stride)
        what = f"batch_size={batch_size}, max_length={max_length}, stride={stride}, shuffle=False, drop_last=False"
        expect_equal(len(got), len(expected), f"windows in all batches ({len(ids)} ids, {what})")
        for i, (g, e) in enumerate(zip(got, expected)):
            expect_equal(g, e, f"(inputs, targets) of window {i}, in order ({what})")


def test_drop_last_drops_the_short_batch(learner):
    ids = list(range(10))  # max_length=3, stride=1: 7 windows
    sizes = {}
    for drop_last in (True, False):
        loader = learner.create_dataloader_v1("text", batch_size=3, max_length=3, stride=1, shuffle=False,
                                              drop_last=drop_last, tokenizer=FixedTokenizer(ids))  # fmt: skip
        sizes[drop_last] = [size for size, _ in loader_rows(loader, f"drop_last={drop_last}")]
    expect_equal(sizes[True], [3, 3], "batch sizes for 7 windows, batch_size=3, drop_last=True")
    expect_equal(sizes[False], [3, 3, 1], "batch sizes for 7 windows, batch_size=3, drop_last=False")


def test_shuffle_permutes_the_same_windows(learner):
    ids = scrambled(26)  # max_length=3, stride=2: 12 windows
    expected = [(tuple(x), tuple(y)) for x, y in windows(ids, 3, 2)]
    orders = []
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        loader = learner.create_dataloader_v1("text", batch_size=4, max_length=3, stride=2, shuffle=True,
                                              drop_last=False, tokenizer=FixedTokenizer(ids))  # fmt: skip
        got = [(tuple(x), tuple(y)) for _, rows in loader_rows(loader, f"shuffle=True, seed {seed}") for x, y in rows]
        expect_equal(sorted(got), sorted(expected), f"the (inputs, targets) pairs with shuffle=True (torch.manual_seed({seed})), in any order")
        orders.append(got)
    expect(any(order != expected for order in orders), "window order with shuffle=True, for torch.manual_seed(0), (1) and (2)",
           "a random order (12 windows)", "the windows in their original order every time")  # fmt: skip
