"""Graded checks for stage 2: token and position embeddings (lessons/stage2_data.md, §5-§7).

Each check's points, lesson idea and hint live in curriculum.toml. Probes (`probe_*`) run in the
worker on the learner's GPTEmbedding and send back plain data; the checks (`test_*`) run in the
judge. The judge chooses the sizes (the book's, and more drawn from the run's seed), the token ids
and the tables themselves: it draws tok_emb.weight and pos_emb.weight, the probe loads them into
the learner's module by those names, and the judge computes tok[ids] + pos[0..T-1] from the
tables it chose. Where a check reads the learner's own initialisation (any is fine), it judges
properties of it (shapes, a float dtype, finite numbers), never an answer computed from it.

The judge never imports torch (a third of a second at start and again at exit): tensors cross as
{"dtype", "shape", "values"} (nested lists, as tolist() gives them), and the tables it draws are
multiples of 1/256, which float32 holds exactly, so the oracle's sums are exact in plain Python.
"""

from __future__ import annotations

import math

from learn.shared.checking import expect, expect_close_data, expect_equal, expect_type, flat, plain_tensor, rng, run, short, tensor_data

if __name__.startswith("learn_probes_"):  # the worker (learn/worker/main.py): load torch while the judge starts
    import torch  # noqa: F401

VOCAB, DIM, CONTEXT = 20, 8, 6  # the book's small sizes; each check draws other sizes as well
FLOATS = ("float64", "float32", "float16", "bfloat16")


def drawn_sizes(r):
    """(vocab_size, output_dim, context_length) for this run: all different, so none stands in for another."""
    while True:
        vocab, dim, context = r.randint(8, 60), r.randint(2, 12), r.randint(3, 10)
        if len({vocab, dim, context}) == 3:
            return vocab, dim, context


def drawn_ids(r, vocab, shape):
    batch, length = shape
    return [[r.randrange(vocab) for _ in range(length)] for _ in range(batch)]


def drawn_table(r, rows, dim):
    """A (rows, dim) table of normal draws rounded to multiples of 1/256 (exact in float32)."""
    return [[round(r.gauss(0.0, 1.0) * 256) / 256 for _ in range(dim)] for _ in range(rows)]


# ------------------------------------------------------------------------------------- probes


def _table(emb, name, call, shape=None):
    """emb.<name>.weight, checked to be a tensor (of `shape` when given)."""
    import torch

    layer = getattr(emb, name, None)
    weight = getattr(layer, "weight", None)
    expect(isinstance(weight, torch.Tensor), f"{call}.{name}.weight", "an nn.Embedding's weight tensor",
           "no attribute " + name if layer is None else f"{type(layer).__name__} without .weight")  # fmt: skip
    if shape is not None:
        expect(tuple(weight.shape) == shape, f"{call}.{name}.weight.shape", str(shape), str(tuple(weight.shape)))
    return weight


def _forward(emb, ids, call):
    """emb(ids) for ids given as nested lists (B, T), as plain data."""
    import torch

    ids = torch.tensor(ids, dtype=torch.long)
    try:
        with torch.no_grad():
            out = emb(ids)
    except (RuntimeError, IndexError) as e:
        shape = tuple(ids.shape)
        expect(False, f"{call} on ids of shape {shape} (B, T)", f"a tensor of shape (B, T, output_dim), T = {shape[1]}",
               f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")  # fmt: skip
    return plain_tensor(out, f"{call} on ids of shape {tuple(ids.shape)}")


def probe_init_and_shapes(learner, sizes, cases):
    """For each size (vocab_size, output_dim, context_length): the learner's own tables, its
    registered parameters (name, shape) and its outputs on the ids of `cases` (same index)."""
    out = []
    for (vocab, dim, context), ids_list in zip(sizes, cases):
        emb, call = learner.GPTEmbedding(vocab, dim, context), f"GPTEmbedding({vocab}, {dim}, {context})"
        out.append({
            "tok": plain_tensor(_table(emb, "tok_emb", call), f"{call}.tok_emb.weight"),
            "pos": plain_tensor(_table(emb, "pos_emb", call), f"{call}.pos_emb.weight"),
            "params": [[str(name), [int(n) for n in p.shape]] for name, p in emb.named_parameters()],
            "out": [_forward(emb, ids, call) for ids in ids_list],
        })  # fmt: skip
    return out


def probe_forward(learner, configs):
    """For each config {"tok", "pos", "cases"}: GPTEmbedding with those tables loaded, on each ids."""
    import torch

    out = []
    for config in configs:
        tok, pos = torch.tensor(config["tok"]), torch.tensor(config["pos"])
        (vocab, dim), context = tok.shape, pos.shape[0]
        emb, call = learner.GPTEmbedding(vocab, dim, context), f"GPTEmbedding({vocab}, {dim}, {context})"
        with torch.no_grad():
            _table(emb, "tok_emb", call, (vocab, dim)).copy_(tok)
            _table(emb, "pos_emb", call, (context, dim)).copy_(pos)
        out.append([_forward(emb, ids, call) for ids in config["cases"]])
    return out


# ---------------------------------------------------------------------- reading the answers


def check_table(v, name, rows, dim, call):
    """A table of the learner's own initialisation: its shape and properties, not its values."""
    t = tensor_data(v, f"{call}.{name}.weight")
    expect_equal(t.shape, (rows, dim), f"{call}.{name}.weight.shape")
    expect(t.dtype in FLOATS, f"{call}.{name}.weight: dtype", "a float tensor (learned vectors)", f"torch.{t.dtype}")
    expect(all(type(x) is float and math.isfinite(x) for x in flat(t.values)), f"{call}.{name}.weight: values", "finite numbers", "NaN or inf")


# ------------------------------------------------------------------------------------- checks


def test_embedding_shape_is_batch_by_tokens_by_dim():
    r = rng()
    sizes = [(VOCAB, DIM, CONTEXT), drawn_sizes(r), drawn_sizes(r)]
    # (B, T): T equal to context_length, shorter than it, and a single token; B != T throughout.
    shapes = [[(2, CONTEXT), (3, 4), (1, 1), (4, 2)]]
    for _, _, context in sizes[1:]:
        t = r.randint(2, context - 1)
        shapes.append([(r.choice([b for b in range(1, 6) if b != context]), context), (r.choice([b for b in range(2, 6) if b != t]), t), (1, 1)])
    cases = [[drawn_ids(r, vocab, shape) for shape in shape_list] for (vocab, _, _), shape_list in zip(sizes, shapes)]
    got = expect_type(run(probe_init_and_shapes, sizes=sizes, cases=cases), list, "the modules read back")
    expect_equal(len(got), len(sizes), "number of modules read back")
    for (vocab, dim, context), shape_list, answer in zip(sizes, shapes, got):
        call = f"GPTEmbedding({vocab}, {dim}, {context})"
        answer = expect_type(answer, dict, call)
        check_table(answer.get("tok"), "tok_emb", vocab, dim, call)
        check_table(answer.get("pos"), "pos_emb", context, dim, call)
        params = expect_type(answer.get("params"), list, f"the parameters of {call}")
        named = {}
        for item in params:
            expect(type(item) is list and len(item) == 2 and type(item[0]) is str and type(item[1]) is list
                   and len(item[1]) <= 8 and all(type(n) is int and 0 <= n <= 2**20 for n in item[1]),
                   f"a parameter of {call}", "[name, shape]", short(item, 100))  # fmt: skip
            named[item[0]] = tuple(item[1])
        for name, shape in (("tok_emb.weight", (vocab, dim)), ("pos_emb.weight", (context, dim))):
            expect_equal(named.get(name), shape, f"the registered parameter {name} of {call} (both tables are layers of the module)")
        n_params = sum(math.prod(shape) for shape in named.values())
        expect_equal(n_params, (vocab + context) * dim, f"number of trainable parameters of {call}: (vocab_size + context_length) * output_dim")
        outs = expect_type(answer.get("out"), list, f"the outputs of {call}")
        expect_equal(len(outs), len(shape_list), f"number of outputs of {call}")
        for shape, v in zip(shape_list, outs):
            out = tensor_data(v, f"{call} on ids of shape {shape}")
            expect_equal(out.shape, (*shape, dim), f"{call} on ids of shape {shape} (B, T): output shape (B, T, output_dim)")
            expect(out.dtype in FLOATS, f"{call} on ids of shape {shape}: dtype", "a float tensor", f"torch.{out.dtype}")


def test_embedding_adds_token_and_position_vectors():
    r = rng()
    configs = []
    for vocab, dim, context in [(VOCAB, DIM, CONTEXT), drawn_sizes(r)]:
        t, token = r.randint(2, context - 1), r.randrange(vocab)
        configs.append({
            "tok": drawn_table(r, vocab, dim),  # the judge's tables, loaded into the learner's module
            "pos": drawn_table(r, context, dim),
            "cases": [
                drawn_ids(r, vocab, (2, context)),  # T == context_length
                drawn_ids(r, vocab, (3, t)),  # T < context_length: positions 0..T-1 only
                [[token] * min(5, context)] * 2,  # one token everywhere: only the positions tell the vectors apart
                drawn_ids(r, vocab, (1, 1)),  # a single token: position 0
            ],
        })  # fmt: skip
    got = expect_type(run(probe_forward, configs=configs), list, "the outputs read back")
    expect_equal(len(got), len(configs), "number of modules read back")
    for config, outs in zip(configs, got):
        tok, pos = config["tok"], config["pos"]
        vocab, dim, context = len(tok), len(tok[0]), len(pos)
        outs = expect_type(outs, list, "the outputs")
        expect_equal(len(outs), len(config["cases"]), "number of outputs")
        for ids, v in zip(config["cases"], outs):
            T = len(ids[0])
            # (B, T, D): row ids[b][t] of tok plus row t of pos
            expected = [[[tok[i][d] + pos[t][d] for d in range(dim)] for t, i in enumerate(row)] for row in ids]
            call = f"GPTEmbedding({vocab}, {dim}, {context}) with tables the grader chose, on ids {ids}"
            out = tensor_data(v, call)
            expect_close_data(out, expected, (len(ids), T, dim), f"{call}: tok_emb.weight[ids] + pos_emb.weight[0..{T - 1}]")
