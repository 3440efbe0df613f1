"""Graded checks for stage 2: token and position embeddings (lessons/stage2_data.md, §5-§7).

Each check's points, lesson idea and hint live in curriculum.toml. The oracle reads the learner's
own embedding tables (tok_emb.weight, pos_emb.weight) and indexes their rows by hand, so any
initialisation is accepted; only the lookup-and-add is graded.
"""

import torch

from learn.checking import expect, expect_close, expect_equal

VOCAB, DIM, CONTEXT = 20, 8, 6


def table(module, name, rows):
    """module.<name>.weight, checked to be a (rows, DIM) tensor."""
    layer = getattr(module, name, None)
    weight = getattr(layer, "weight", None)
    expect(isinstance(weight, torch.Tensor), f"GPTEmbedding.{name}.weight", "an nn.Embedding's weight tensor",
           "no attribute " + name if layer is None else f"{type(layer).__name__} without .weight")  # fmt: skip
    expect_equal(tuple(weight.shape), (rows, DIM), f"GPTEmbedding({VOCAB}, {DIM}, {CONTEXT}).{name}.weight.shape")
    return weight


def test_embedding_shape_is_batch_by_tokens_by_dim(learner):
    emb = learner.GPTEmbedding(VOCAB, DIM, CONTEXT)
    table(emb, "tok_emb", VOCAB)
    table(emb, "pos_emb", CONTEXT)
    n_params = sum(p.numel() for p in emb.parameters())
    expect_equal(n_params, (VOCAB + CONTEXT) * DIM, "number of trainable parameters (both tables are registered layers)")
    gen = torch.Generator().manual_seed(0)
    # (B, T): T equal to context_length, shorter than it, and a single token; B != T throughout.
    for shape in [(2, CONTEXT), (3, 4), (1, 1), (4, 2)]:
        ids = torch.randint(0, VOCAB, shape, generator=gen)
        try:
            out = emb(ids)
        except RuntimeError as e:
            expect(False, f"GPTEmbedding({VOCAB}, {DIM}, {CONTEXT}) on ids of shape {shape}", f"a tensor of shape {(*shape, DIM)}",
                   f"RuntimeError: {str(e).splitlines()[0]}")  # fmt: skip
        expect(isinstance(out, torch.Tensor), f"GPTEmbedding on ids of shape {shape}: type", "torch.Tensor", type(out).__name__)
        expect_equal(tuple(out.shape), (*shape, DIM), f"GPTEmbedding on ids of shape {shape} (B, T): output shape (B, T, output_dim)")
        expect(out.is_floating_point(), f"GPTEmbedding on ids of shape {shape}: dtype", "a float tensor", out.dtype)


def test_embedding_adds_token_and_position_vectors(learner):
    torch.manual_seed(0)
    emb = learner.GPTEmbedding(VOCAB, DIM, CONTEXT)
    tok, pos = table(emb, "tok_emb", VOCAB).detach(), table(emb, "pos_emb", CONTEXT).detach()
    gen = torch.Generator().manual_seed(1)
    cases = [
        torch.randint(0, VOCAB, (2, CONTEXT), generator=gen),  # T == context_length
        torch.randint(0, VOCAB, (3, 4), generator=gen),  # T < context_length: positions 0..3 only
        torch.full((2, 5), 7),  # one token everywhere: only the positions tell the vectors apart
    ]
    for ids in cases:
        T = ids.shape[1]
        expected = tok[ids] + pos[:T]  # (B, T, D): row ids[b, t] of tok plus row t of pos
        with torch.no_grad():
            got = emb(ids)
        expect_close(got, expected, f"GPTEmbedding on ids {ids.tolist()}: tok_emb.weight[ids] + pos_emb.weight[0..{T - 1}]")
