"""Graded checks for stage 2: the sliding-window data set and its loader (lessons/stage2_data.md).

Each check's points, lesson idea and hint live in curriculum.toml. Probes (`probe_*`) run in the
worker on the learner's code and send back plain data (windows and batches as tensors); the checks
(`test_*`) run in the judge. They choose the token ids, max_length, stride and batch size (the
book's examples, and more drawn from the run's seed) and compute every expected value with
`windows` below: an independent statement of the rule (windows start at 0, stride, 2 * stride, ...
while start + max_length < number of ids; targets are the inputs moved one id right).

The checks never download GPT-2's tokenizer: the probes hand the learner's code the tokenizers
below (course code, made in the worker from the ids or text the judge sends), which need no
network. The judge never imports torch (a third of a second at start and again at exit): the
probes send each tensor as {"dtype", "shape", "values"}, read back here by `tensor`.
"""

from __future__ import annotations


from learn.shared.checking import expect, expect_equal, expect_type, plain_tensor, rng, run, short, tensor_data

if __name__.startswith("learn_probes_"):  # the worker (learn/worker/main.py): load torch while the judge starts
    import torch  # noqa: F401  (the judge never needs it: the probes send tensors as plain lists)

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


# ------------------------------------------------------------------------------------ oracles


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


def drawn_ids(r, n):
    """n distinct ids in a drawn order: a window's ids say where it starts, and nothing else does."""
    return r.sample(range(1, 5000), n)


def drawn_case(r, max_max_length=9, max_stride=9, max_windows=6):
    """(ids, max_length, stride) drawn for this run, the ids ending on either side of the boundary
    (the last window needs one id after it for its last target)."""
    max_length, stride = r.randint(1, max_max_length), r.randint(1, max_stride)
    n_windows = r.randint(1, max_windows)
    extra = r.randint(0 if n_windows > 1 else 1, stride + 1)  # 0: one id short of one more window
    n = (n_windows - 1) * stride + max_length + extra
    return drawn_ids(r, n), max_length, stride


def loader_case(r, min_windows, max_windows):
    """(ids, batch_size, max_length, stride) drawn for this run, giving min..max_windows windows."""
    max_length, stride = r.randint(2, 6), r.randint(1, 5)
    n_windows = r.randint(min_windows, max_windows)
    n = (n_windows - 1) * stride + max_length + r.randint(1, stride)
    return drawn_ids(r, n), r.randint(2, 5), max_length, stride


# ------------------------------------------------------------------------------------- probes


def _pair(item, what):
    """A data set item or a batch as the plain list [inputs, targets]."""
    expect(isinstance(item, (tuple, list)) and len(item) == 2, what, "a pair (inputs, targets)", short(item))
    return [plain_tensor(item[0], f"{what} inputs"), plain_tensor(item[1], f"{what} targets")]


def _read(ds, cap):
    """What a data set holds, read through len() and [i] (at most `cap` items)."""
    n = len(ds)
    return {"len": n, "items": [_pair(ds[i], f"dataset[{i}]") for i in range(min(n, cap))]}


def probe_datasets(learner, cases):
    """GPTDatasetV1("text", FixedTokenizer(ids), max_length=..., stride=...) for each case, read back:
    by the book's keywords, as learn pretrain calls it."""
    made = [learner.GPTDatasetV1("text", FixedTokenizer(ids), max_length=m, stride=s) for ids, m, s in cases]
    return [_read(ds, len(ids) + 1) for ds, (ids, _, _) in zip(made, cases)]


def probe_dataset_attributes(learner, cases):
    """As probe_datasets, with the lists dataset.input_ids and dataset.target_ids besides."""
    out = []
    for ids, max_length, stride in cases:
        ds = learner.GPTDatasetV1("text", FixedTokenizer(ids), max_length, stride)
        got = _read(ds, len(ids) + 1)
        for name in ("input_ids", "target_ids"):
            stored = getattr(ds, name, None)
            expect(isinstance(stored, (list, tuple)), f"dataset.{name}", "a list of tensors, one per window", type(stored).__name__)
            got[name] = [plain_tensor(t, f"dataset.{name}[{i}]") for i, t in enumerate(list(stored)[: len(ids) + 1])]
        out.append(got)
    return out


def probe_char_dataset(learner, text, max_length, stride):
    """GPTDatasetV1 on a text holding <|endoftext|>, with a tokenizer that refuses it unless allowed."""
    try:
        ds = learner.GPTDatasetV1(text, CharTokenizer(), max_length, stride)
    except ValueError as e:
        return {"raised": f"ValueError: {e}"}
    return _read(ds, len(text) + 1)


def probe_too_short(learner, cases):
    """For each (ids, max_length, stride, what): {"raised": message} or what was made instead."""
    out = []
    for ids, max_length, stride, what in cases:
        try:
            if what == "loader":
                learner.create_dataloader_v1("text", batch_size=1, max_length=max_length, stride=stride, tokenizer=FixedTokenizer(ids))
            else:
                ds = learner.GPTDatasetV1("text", FixedTokenizer(ids), max_length, stride)
        except ValueError as e:
            out.append({"raised": str(e)})
            continue
        if what == "loader":
            out.append({"made": "a loader (with no batches)"})
            continue
        try:
            out.append(_read(ds, len(ids) + 1))
        except AssertionError:  # an item that is no pair of tensors: the probe's own message
            raise
        except Exception as e:  # a data set in a broken state is no answer either
            out.append({"made": f"a data set whose len() or [i] raised {type(e).__name__}"})
    return out


def probe_loaders(learner, cases):
    """For each case {"ids", "seed" (or None), **arguments of create_dataloader_v1}: every batch."""
    out = []
    for case in cases:
        args = dict(case)
        ids, seed = args.pop("ids"), args.pop("seed")
        if seed is not None:
            import torch

            torch.manual_seed(seed)
        loader = learner.create_dataloader_v1("text", tokenizer=FixedTokenizer(ids), **args)
        batches = []
        try:
            for b, batch in enumerate(loader):
                if b > len(ids):  # more batches than there are ids: enough to judge
                    break
                batches.append(_pair(batch, f"batch {b}"))
        except RuntimeError as e:  # the DataLoader cannot stack windows of different lengths into a batch
            expect(False, "making batches", "windows that all hold max_length ids", f"RuntimeError: {str(e).splitlines()[0]}")
        out.append(batches)
    return out


# ---------------------------------------------------------------------- reading the answers


def as_ids(t, what):
    """A 1-D tensor of ids from the worker, as a list (the dtype is judged where it matters)."""
    t = tensor_data(t, what)
    expect(len(t.shape) == 1, f"{what}: shape", "(max_length,)", str(t.shape))
    return t.values


def item_pair(item, what):
    """[inputs, targets] from the worker (each read by `tensor`)."""
    expect(type(item) is list and len(item) == 2, what, "a pair (inputs, targets)", short(item, 80))
    return item


def dataset_answer(got, what):
    """(len(dataset), [(inputs, targets), ...] as lists of ids) from a probe's reading of a data set."""
    got = expect_type(got, dict, f"the reading of {what}")
    n = expect_type(got.get("len"), int, f"len(...) of {what}")
    items = expect_type(got.get("items"), list, f"the items of {what}")
    pairs = []
    for i, item in enumerate(items):
        x, y = item_pair(item, f"dataset[{i}] of {what}")
        pairs.append((as_ids(x, f"dataset[{i}] inputs ({what})"), as_ids(y, f"dataset[{i}] targets ({what})")))
    return n, pairs


def batch_answer(batches, what):
    """[(inputs, targets) as 2-D `TensorData`s, ...] from a probe's reading of a loader."""
    batches = expect_type(batches, list, f"the batches of {what}")
    out = []
    for b, batch in enumerate(batches):
        x, y = (tensor_data(t, f"{what}: batch {b} {name}") for t, name in zip(item_pair(batch, f"{what}: batch {b}"), ("inputs", "targets")))
        for name, t in (("inputs", x), ("targets", y)):
            expect(len(t.shape) == 2, f"{what}: batch {b} {name}", "a 2-D tensor (batch_size, max_length)", f"shape {t.shape}")
        expect_equal(x.shape[0], y.shape[0], f"{what}: batch {b}, rows of targets vs rows of inputs")
        out.append((x, y))
    return out


def rows(batches):
    """Every (input row, target row) of the batches, in order."""
    return [(xr, yr) for x, y in batches for xr, yr in zip(x.values, y.values)]


def expect_slices(inputs, ids, max_length, what):
    """Each input row is max_length consecutive ids of the text: a light check of the contents where
    a check judges something else (a shape, a dtype, a batch size), so that rows made up to fit
    earn nothing, while a mistake in the windows themselves is left to the checks that grade them."""
    slices = {tuple(ids[s : s + max_length]) for s in range(len(ids) - max_length + 1)}
    for k, row in enumerate(inputs):
        expect(tuple(row) in slices, f"input row {k} of {what}", f"{max_length} consecutive ids of the text", short(row, 80))


def describe(ids, max_length, stride):
    head = f"{ids[0]}, {ids[1]}, ..." if len(ids) > 2 else str(ids)[1:-1]
    return f"{len(ids)} ids ({head}), max_length={max_length}, stride={stride}"


# ------------------------------------------------------------------------------------- checks


def test_windows_follow_max_length_and_stride():
    # (number of ids, max_length, stride): overlapping, touching, gaps, stride 1, and both sides of
    # the last-window boundary (a window needs one id after it for its last target).
    book = [(10, 4, 2), (11, 4, 2), (12, 4, 3), (9, 4, 4), (16, 5, 5), (20, 3, 5), (5, 4, 1), (30, 5, 1)]
    r = rng()
    cases = [(list(range(100, 100 + n)), m, s) for n, m, s in book] + [drawn_case(r) for _ in range(10)]
    got = expect_type(run(probe_datasets, cases=cases), list, "the data sets read back")
    expect_equal(len(got), len(cases), "number of data sets read back")
    for (ids, max_length, stride), answer in zip(cases, got):
        what = describe(ids, max_length, stride)
        expected = [x for x, _ in windows(ids, max_length, stride)]
        n, pairs = dataset_answer(answer, what)
        expect_equal(n, len(expected), f"number of windows, len(dataset), for {what}")
        expect_equal([x for x, _ in pairs], expected, f"input windows for {what}")


def test_targets_are_inputs_shifted_by_one():
    r = rng()
    cases = [(scrambled(n), m, s) for n, m, s in [(10, 4, 2), (13, 3, 3), (8, 7, 1)]] + [drawn_case(r) for _ in range(6)]
    got = expect_type(run(probe_datasets, cases=cases), list, "the data sets read back")
    expect_equal(len(got), len(cases), "number of data sets read back")
    for (ids, max_length, stride), answer in zip(cases, got):
        what = describe(ids, max_length, stride)
        expected = windows(ids, max_length, stride)
        n, pairs = dataset_answer(answer, what)
        expect_equal(len(pairs), len(expected), f"number of (inputs, targets) windows ({what})")
        for i, ((x, y), (ex, ey)) in enumerate(zip(pairs, expected)):
            expect_equal(x, ex, f"inputs of window {i} ({what})")
            expect_equal(y, ey, f"targets of window {i} ({what}): the inputs moved one id to the right")


def test_dataset_items_are_token_id_tensors():
    r = rng()
    cases = [(scrambled(12), 4, 3), drawn_case(r, max_windows=5), drawn_case(r, max_windows=5)]
    got = expect_type(run(probe_dataset_attributes, cases=cases), list, "the data sets read back")
    expect_equal(len(got), len(cases), "number of data sets read back")
    for (ids, max_length, stride), answer in zip(cases, got):
        call = f"GPTDatasetV1(...) for {describe(ids, max_length, stride)}"
        n_windows = len(windows(ids, max_length, stride))
        n, pairs = dataset_answer(answer, call)
        expect_equal(n, n_windows, f"len({call})")
        expect_equal(len(pairs), n, f"items of {call}")
        expect_slices([x for x, _ in pairs], ids, max_length, f"{call} (dataset[i][0])")
        for name in ("input_ids", "target_ids"):
            stored = expect_type(answer.get(name), list, f"dataset.{name} of {call}")
            expect_equal(len(stored), n, f"len(dataset.{name}) of {call}")
        for i in range(n):
            item = item_pair(answer["items"][i], f"dataset[{i}]")
            for k, (name, attr) in enumerate((("inputs", "input_ids"), ("targets", "target_ids"))):
                t, stored = tensor_data(item[k], f"dataset[{i}] {name}"), tensor_data(answer[attr][i], f"dataset.{attr}[{i}]")
                expect(t.dtype == "int64", f"dataset[{i}] {name}: dtype (ids for nn.Embedding and targets for cross_entropy are int64)",
                       "torch.int64", f"torch.{t.dtype}")  # fmt: skip
                expect_equal(t.shape, (max_length,), f"dataset[{i}] {name}: shape (max_length,), for max_length={max_length}")
                expect(stored == t, f"dataset.{attr}[{i}] vs dataset[{i}] {name} ({call})",
                       f"the same tensor: {short(t.values)} ({t.dtype})", f"{short(stored.values)} ({stored.dtype}, shape {stored.shape})")  # fmt: skip


def test_endoftext_stays_one_token():
    r = rng()
    words = ["".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(1, 4))) for _ in range(r.randint(3, 5))]
    drawn = (EOT if r.random() < 0.5 else "") + EOT.join(words)
    for text, max_length, stride in [("ab" + EOT + "cd" + EOT + "ef", 3, 1), (drawn, r.randint(2, 4), r.randint(1, 2))]:
        ids = CharTokenizer().encode(text, allowed_special={EOT})  # the book's text: [97, 98, 0, 99, 100, 0, 101, 102]
        call = f"GPTDatasetV1({text!r}, tokenizer, {max_length}, {stride})"
        got = expect_type(run(probe_char_dataset, text=text, max_length=max_length, stride=stride), dict, call)
        if "raised" in got:
            expect(False, call, f"tokenizer.encode(txt, allowed_special={{{EOT!r}}})", short(got["raised"], 300))
        n, pairs = dataset_answer(got, call)
        expected = [x for x, _ in windows(ids, max_length, stride)]
        expect_equal([x for x, _ in pairs], expected, f"input windows of {text!r}, max_length={max_length}, stride={stride} ({EOT} is the one token 0)")
        expect_equal(n, len(expected), f"len({call})")


def test_too_short_text_raises_value_error():
    r = rng()
    m = r.randint(2, 12)  # a drawn max_length besides the book's 4
    cases = [(list(range(n)), 4, 2, "dataset") for n in (0, 3, 4)]
    cases += [(drawn_ids(r, n), m, r.randint(1, 4), "dataset") for n in (0, r.randint(1, m - 1), m)]
    cases += [(list(range(4)), 4, 2, "loader"), (drawn_ids(r, m), m, 1, "loader")]
    cases += [(list(range(5)), 4, 2, "dataset"), (drawn_ids(r, m + 1), m, r.randint(1, 4), "dataset")]  # exactly enough
    got = expect_type(run(probe_too_short, cases=cases), list, "the answers")
    expect_equal(len(got), len(cases), "number of answers")
    for (ids, max_length, stride, kind), answer in zip(cases, got):
        answer = expect_type(answer, dict, "an answer")
        name = "GPTDatasetV1" if kind == "dataset" else "create_dataloader_v1"
        what = f"{name} on {len(ids)} token ids with max_length={max_length}"
        if len(ids) > max_length:
            made = f"ValueError: {short(answer['raised'])}" if "raised" in answer else answer.get("made")
            expect(made is None, f"{what} (exactly enough for one window)", "a data set of one window", str(made)[:300])
            n, pairs = dataset_answer(answer, what)
            expect_equal((n, len(pairs)), (1, 1), f"(len(dataset), windows read) from {what} (exactly enough)")
            continue
        if "raised" in answer:
            message = expect_type(answer["raised"], str, f"{what}: the ValueError's message")
            expect(message.strip() != "", f"{what}: the ValueError's message", "a line saying what is wrong and what to do", "an empty message")
            continue
        made = answer.get("made")
        if made is None:
            n = answer.get("len")
            made = f"a data set of {n} windows" if type(n) is int else "a data set"
        expect(False, what, f"ValueError: too short for one window (it needs max_length + 1 = {max_length + 1} ids)", str(made)[:200])


def test_loader_batches_have_shape_batch_by_max_length():
    # 20 ids, max_length=5, stride=2: 8 windows -> 2 full batches of 3 (drop_last drops the other 2).
    r = rng()
    ids, batch_size, max_length, stride = loader_case(r, 5, 14)
    cases = [
        {"ids": scrambled(20), "batch_size": 3, "max_length": 5, "stride": 2},
        {"ids": ids, "batch_size": batch_size, "max_length": max_length, "stride": stride},
    ]
    for case in cases:
        case.update(shuffle=False, drop_last=True, seed=None)
    # The book's defaults: batch_size=4, max_length=256, stride=128, shuffle=True, drop_last=True.
    # 1000 ids give windows at 0, 128, ..., 640 (6 of them): one full batch of 4.
    n_default = r.randint(1200, 2600)
    cases += [{"ids": list(range(1000)), "seed": 0}, {"ids": drawn_ids(r, n_default), "seed": 0}]
    got = expect_type(run(probe_loaders, cases=cases), list, "the loaders read back")
    expect_equal(len(got), len(cases), "number of loaders read back")
    for case, answer in zip(cases[:2], got):
        n_windows = len(windows(case["ids"], case["max_length"], case["stride"]))
        bs, ml = case["batch_size"], case["max_length"]
        what = f"create_dataloader_v1 on {len(case['ids'])} ids, batch_size={bs}, max_length={ml}, stride={case['stride']}, drop_last=True"
        batches = batch_answer(answer, what)
        expect_equal(len(batches), n_windows // bs, f"number of batches ({n_windows} windows, batch_size={bs}, drop_last=True) from {what}")
        for b, (x, y) in enumerate(batches):
            for name, t in (("inputs", x), ("targets", y)):
                expect_equal(t.shape, (bs, ml), f"batch {b} {name}: shape (batch_size, max_length) from {what}")
                expect(t.dtype == "int64", f"batch {b} {name}: dtype from {what}", "torch.int64", f"torch.{t.dtype}")
        expect_slices([x for x, _ in rows(batches)], case["ids"], ml, f"the batches from {what}")
    for case, answer in zip(cases[2:], got[2:]):
        ids = case["ids"]
        what = f"create_dataloader_v1 with the default arguments on {len(ids)} ids"
        n_windows = len(windows(ids, 256, 128))
        batches = batch_answer(answer, what)
        shapes = [x.shape for x, _ in batches]
        expect_equal(shapes, [(4, 256)] * (n_windows // 4), f"batch shapes (batch_size, max_length) from {what} ({n_windows} windows)")
        # shuffle=True by default: the inputs are distinct windows of the text, in any order.
        allowed, seen = {tuple(x) for x, _ in windows(ids, 256, 128)}, set()
        for x, _ in rows(batches):
            x = tuple(x)
            expect(x in allowed and x not in seen, f"an input row of the batches from {what}",
                   "one of the windows ids[0:256], ids[128:384], ... (max_length=256, stride=128), each once",
                   "that window a second time" if x in seen else f"{len(x)} ids starting {list(x[:3])}, which is no such window")  # fmt: skip
            seen.add(x)


def test_loader_keeps_window_order_without_shuffle():
    r = rng()
    cases = [(scrambled(23), bs, m, s) for bs, m, s in [(2, 4, 3), (4, 3, 1)]] + [loader_case(r, 3, 12) for _ in range(2)]
    requests = [{"ids": ids, "batch_size": bs, "max_length": m, "stride": s, "shuffle": False, "drop_last": False, "seed": None}
                for ids, bs, m, s in cases]  # fmt: skip
    got = expect_type(run(probe_loaders, cases=requests), list, "the loaders read back")
    expect_equal(len(got), len(cases), "number of loaders read back")
    for (ids, batch_size, max_length, stride), answer in zip(cases, got):
        what = f"{describe(ids, max_length, stride)}, batch_size={batch_size}, shuffle=False, drop_last=False"
        got_rows = rows(batch_answer(answer, f"loader on {what}"))
        expected = [(list(x), list(y)) for x, y in windows(ids, max_length, stride)]
        expect_equal(len(got_rows), len(expected), f"windows in all batches ({what})")
        for i, (g, e) in enumerate(zip(got_rows, expected)):
            expect_equal(g, e, f"(inputs, targets) of window {i}, in order ({what})")


def test_drop_last_drops_the_short_batch():
    r = rng()
    ids, batch_size, max_length, stride = loader_case(r, 5, 14)
    while len(windows(ids, max_length, stride)) % batch_size == 0:  # a short last batch, to keep or drop
        ids, batch_size, max_length, stride = loader_case(r, 5, 14)
    cases = [(list(range(10)), 3, 3, 1), (ids, batch_size, max_length, stride)]  # the book's: 7 windows
    requests = [{"ids": ids, "batch_size": bs, "max_length": m, "stride": s, "shuffle": False, "drop_last": drop, "seed": None}
                for ids, bs, m, s in cases for drop in (True, False)]  # fmt: skip
    got = expect_type(run(probe_loaders, cases=requests), list, "the loaders read back")
    expect_equal(len(got), len(requests), "number of loaders read back")
    for request, answer in zip(requests, got):
        bs, drop = request["batch_size"], request["drop_last"]
        n_windows = len(windows(request["ids"], request["max_length"], request["stride"]))
        sizes = [bs] * (n_windows // bs) + ([] if drop else [n_windows % bs])
        what = f"{n_windows} windows, batch_size={bs}, drop_last={drop}"
        batches = batch_answer(answer, f"loader with {what}")
        expect_equal([x.shape[0] for x, _ in batches], sizes, f"batch sizes for {what}")
        expect_slices([x for x, _ in rows(batches)], request["ids"], request["max_length"], f"the batches for {what}")


def test_shuffle_permutes_the_same_windows():
    r = rng()
    ids, batch_size, max_length, stride = loader_case(r, 10, 16)
    seeds = r.sample(range(1, 10**6), 3)
    # The book's: 26 ids, max_length=3, stride=2: 12 windows, torch.manual_seed(0), (1) and (2).
    configs = [((scrambled(26), 4, 3, 2), (0, 1, 2)), ((ids, batch_size, max_length, stride), tuple(seeds))]
    requests = [{"ids": ids, "batch_size": bs, "max_length": m, "stride": s, "shuffle": True, "drop_last": False, "seed": seed}
                for (ids, bs, m, s), seeds in configs for seed in seeds]  # fmt: skip
    got = expect_type(run(probe_loaders, cases=requests), list, "the loaders read back")
    expect_equal(len(got), len(requests), "number of loaders read back")
    answers = iter(got)
    for (ids, bs, m, s), seeds in configs:
        expected = [(tuple(x), tuple(y)) for x, y in windows(ids, m, s)]
        what = f"shuffle=True on {describe(ids, m, s)}, batch_size={bs}"
        orders = []
        for seed in seeds:
            order = [(tuple(x), tuple(y)) for x, y in rows(batch_answer(next(answers), f"loader with {what}"))]
            seeded = f"{what} (torch.manual_seed({seed}))"
            expect_equal(len(order), len(expected), f"number of (inputs, targets) pairs in all batches with {seeded}")
            for pair in order:
                expect(pair in expected, f"an (inputs, targets) pair of the batches with {seeded}",
                       "one of the windows of the text, whole (shuffle moves whole pairs)", short(pair))  # fmt: skip
            missing = [pair for pair in expected if pair not in order]
            expect(not missing, f"the (inputs, targets) pairs with {seeded}: each window once, in any order",
                   f"also {short(missing[:1])[1:-1]}" if missing else "", "some windows twice, that one never")  # fmt: skip
            orders.append(order)
        seeds_text = ", ".join(f"({seed})" for seed in seeds)
        expect(any(order != expected for order in orders), f"window order with {what}, for torch.manual_seed{seeds_text}",
               f"a random order ({len(expected)} windows)", "the windows in their original order every time")  # fmt: skip
        expect(len(set(map(tuple, orders))) > 1, f"window order with {what}, for torch.manual_seed{seeds_text}",
               "a different random order for each seed (the order follows torch's random generator)",
               "the same order for every seed")  # fmt: skip
