"""Graded checks for stage 2: token and position embeddings (lessons/stage2_data.md, §5-§7).

Each check's points, lesson idea and hint live in curriculum.toml. Probes (`probe_*`) run in the
worker on the learner's GPTEmbedding and send back plain data; the checks (`test_*`) run in the
judge. The judge chooses the sizes (the book's, and more drawn from the run's seed), the token ids
and the tables themselves: it draws tok_emb.weight and pos_emb.weight, the probe loads them into
the learner's module by those names, and the judge computes tok[ids] + pos[0..T-1] from the
tables it chose. Where a check reads the learner's own initialisation (any is fine), it judges
properties of it (shapes, a float dtype, finite numbers), never an answer computed from it.
"""

from __future__ import annotations

import torch

from learn.judge.checking import expect, expect_close, expect_equal, expect_type, rng, run, torch_gen

VOCAB, DIM, CONTEXT = 20, 8, 6  # the book's small sizes; each check draws other sizes as well


def drawn_sizes(r):
    """(vocab_size, output_dim, context_length) for this run: all different, so none stands in for another."""
    while True:
        vocab, dim, context = r.randint(8, 60), r.randint(2, 12), r.randint(3, 10)
        if len({vocab, dim, context}) == 3:
            return vocab, dim, context


def drawn_shapes(r, context):
    """(B, T) shapes for ids: T equal to context_length, shorter than it, and a single token; B != T."""
    t = r.randint(2, context - 1)
    return [(r.choice([b for b in range(1, 6) if b != context]), context), (r.choice([b for b in range(2, 6) if b != t]), t), (1, 1)]


# ------------------------------------------------------------------------------------- probes


def _table(emb, name, call, shape=None):
    """emb.<name>.weight, checked to be a tensor (of `shape` when given)."""
    layer = getattr(emb, name, None)
    weight = getattr(layer, "weight", None)
    expect(isinstance(weight, torch.Tensor), f"{call}.{name}.weight", "an nn.Embedding's weight tensor",
           "no attribute " + name if layer is None else f"{type(layer).__name__} without .weight")  # fmt: skip
    if shape is not None:
        expect(tuple(weight.shape) == shape, f"{call}.{name}.weight.shape", str(shape), str(tuple(weight.shape)))
    return weight


def _forward(emb, ids, call):
    try:
        with torch.no_grad():
            out = emb(ids)
    except (RuntimeError, IndexError) as e:
        shape = tuple(ids.shape)
        expect(False, f"{call} on ids of shape {shape} (B, T)", f"a tensor of shape (B, T, output_dim), T = {shape[1]}",
               f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")  # fmt: skip
    expect(isinstance(out, torch.Tensor), f"{call} on ids of shape {tuple(ids.shape)}: type", "torch.Tensor", type(out).__name__)
    return out


def probe_init_and_shapes(learner, sizes, cases):
    """For each size (vocab_size, output_dim, context_length): the learner's own tables, its
    registered parameters (name, shape) and its outputs on the ids of `cases` (same index)."""
    out = []
    for (vocab, dim, context), ids_list in zip(sizes, cases):
        emb, call = learner.GPTEmbedding(vocab, dim, context), f"GPTEmbedding({vocab}, {dim}, {context})"
        out.append({
            "tok": _table(emb, "tok_emb", call).detach(),
            "pos": _table(emb, "pos_emb", call).detach(),
            "params": [[str(name), [int(n) for n in p.shape]] for name, p in emb.named_parameters()],
            "out": [_forward(emb, ids, call) for ids in ids_list],
        })  # fmt: skip
    return out


def probe_forward(learner, configs):
    """For each config {"tok", "pos", "cases"}: GPTEmbedding with those tables loaded, on each ids."""
    out = []
    for config in configs:
        tok, pos = config["tok"], config["pos"]
        (vocab, dim), context = tok.shape, pos.shape[0]
        emb, call = learner.GPTEmbedding(vocab, dim, context), f"GPTEmbedding({vocab}, {dim}, {context})"
        with torch.no_grad():
            _table(emb, "tok_emb", call, (vocab, dim)).copy_(tok)
            _table(emb, "pos_emb", call, (context, dim)).copy_(pos)
        out.append([_forward(emb, ids, call) for ids in config["cases"]])
    return out


# ------------------------------------------------------------------------------------- checks


def check_table(t, name, rows, dim, call):
    """A table of the learner's own initialisation: its shape and properties, not its values."""
    expect(type(t) is torch.Tensor, f"{call}.{name}.weight", "a tensor", type(t).__name__)
    expect_equal(tuple(t.shape), (rows, dim), f"{call}.{name}.weight.shape")
    expect(t.is_floating_point(), f"{call}.{name}.weight: dtype", "a float tensor (learned vectors)", str(t.dtype))
    expect(bool(torch.isfinite(t).all()), f"{call}.{name}.weight: values", "finite numbers", "NaN or inf")


def test_embedding_shape_is_batch_by_tokens_by_dim():
    r = rng()
    gen = torch_gen()
    sizes = [(VOCAB, DIM, CONTEXT), drawn_sizes(r), drawn_sizes(r)]
    shapes = [[(2, CONTEXT), (3, 4), (1, 1), (4, 2)]] + [drawn_shapes(r, c) for _, _, c in sizes[1:]]
    cases = [[torch.randint(0, v, shape, generator=gen) for shape in shape_list] for (v, _, _), shape_list in zip(sizes, shapes)]
    got = expect_type(run(probe_init_and_shapes, sizes=sizes, cases=cases), list, "the modules read back")
    expect_equal(len(got), len(sizes), "number of modules read back")
    for (vocab, dim, context), ids_list, answer in zip(sizes, cases, got):
        call = f"GPTEmbedding({vocab}, {dim}, {context})"
        answer = expect_type(answer, dict, call)
        check_table(answer.get("tok"), "tok_emb", vocab, dim, call)
        check_table(answer.get("pos"), "pos_emb", context, dim, call)
        params = expect_type(answer.get("params"), list, f"the parameters of {call}")
        named = {}
        for item in params:
            expect(type(item) is list and len(item) == 2 and type(item[0]) is str and type(item[1]) is list
                   and all(type(n) is int and n >= 0 for n in item[1]), f"a parameter of {call}", "[name, shape]", str(item)[:100])  # fmt: skip
            named[item[0]] = tuple(item[1])
        for name, shape in (("tok_emb.weight", (vocab, dim)), ("pos_emb.weight", (context, dim))):
            expect_equal(named.get(name), shape, f"the registered parameter {name} of {call} (both tables are layers of the module)")
        n_params = sum(torch.Size(shape).numel() for shape in named.values())
        expect_equal(n_params, (vocab + context) * dim, f"number of trainable parameters of {call}: (vocab_size + context_length) * output_dim")
        outs = expect_type(answer.get("out"), list, f"the outputs of {call}")
        expect_equal(len(outs), len(ids_list), f"number of outputs of {call}")
        for ids, out in zip(ids_list, outs):
            shape = tuple(ids.shape)
            expect(type(out) is torch.Tensor, f"{call} on ids of shape {shape}: type", "torch.Tensor", type(out).__name__)
            expect_equal(tuple(out.shape), (*shape, dim), f"{call} on ids of shape {shape} (B, T): output shape (B, T, output_dim)")
            expect(out.is_floating_point(), f"{call} on ids of shape {shape}: dtype", "a float tensor", str(out.dtype))


def test_embedding_adds_token_and_position_vectors():
    r = rng()
    gen = torch_gen()
    configs = []
    for vocab, dim, context in [(VOCAB, DIM, CONTEXT), drawn_sizes(r)]:
        t = r.randint(2, context - 1)
        token = r.randrange(vocab)
        configs.append({
            "tok": torch.randn(vocab, dim, generator=gen),  # the judge's tables, loaded into the learner's module
            "pos": torch.randn(context, dim, generator=gen),
            "cases": [
                torch.randint(0, vocab, (2, context), generator=gen),  # T == context_length
                torch.randint(0, vocab, (3, t), generator=gen),  # T < context_length: positions 0..T-1 only
                torch.full((2, min(5, context)), token),  # one token everywhere: only the positions tell the vectors apart
                torch.randint(0, vocab, (1, 1), generator=gen),  # a single token: position 0
            ],
        })  # fmt: skip
    got = expect_type(run(probe_forward, configs=configs), list, "the outputs read back")
    expect_equal(len(got), len(configs), "number of modules read back")
    for config, outs in zip(configs, got):
        tok, pos = config["tok"], config["pos"]
        outs = expect_type(outs, list, "the outputs")
        expect_equal(len(outs), len(config["cases"]), "number of outputs")
        for ids, out in zip(config["cases"], outs):
            T = ids.shape[1]
            expected = tok[ids] + pos[:T]  # (B, T, D): row ids[b, t] of tok plus row t of pos
            call = f"GPTEmbedding({tok.shape[0]}, {tok.shape[1]}, {pos.shape[0]}) with tables the grader chose, on ids {ids.tolist()}"
            expect_close(out, expected, f"{call}: tok_emb.weight[ids] + pos_emb.weight[0..{T - 1}]")
