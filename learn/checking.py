"""Helpers for writing graded checks (checks/<package>/test_*.py).

A failed check tells the learner three things: what was expected, what came, and which idea of the
lesson it points to. The grader adds the idea and the hint from curriculum.toml; the check itself
says expected vs got through `expect` or `expect_close`.
"""

from __future__ import annotations

from pathlib import Path

from learn import ROOT


def fixture(package: str, name: str) -> Path:
    """The path of a stored reference file, e.g. fixture("stage1_tokenizer", "merges.json")."""
    return ROOT / "fixtures" / package / name


def short(value, limit: int = 160) -> str:
    """repr(value), cut to `limit` characters so that a message stays readable."""
    return _cut(repr(value), limit)


def _cut(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 15] + f" ... ({len(text)} chars)"


def expect(ok: bool, what: str, expected, got) -> None:
    """Fail the check with 'what: expected ..., got ...' unless `ok`.

    A str is shown as it is: checks pass descriptions ("a tensor of shape (2, 3)") and values they
    have formatted already (repr(x), short(x)), which a second repr would quote twice. Any other
    value is shown as short(value). To compare values that are strings, use expect_equal.
    """
    if not ok:
        shown = [_cut(v) if isinstance(v, str) else short(v) for v in (expected, got)]
        raise AssertionError(f"{what}\n  expected: {shown[0]}\n  got:      {shown[1]}")


def expect_equal(got, expected, what: str) -> None:
    """Fail unless got == expected, showing both as short(): a string once quoted."""
    if got != expected:
        expect(False, what, short(expected), short(got))


def expect_close(got, expected, what: str, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Tensors: same shape and values within tolerance; the message names the worst element."""
    import torch  # only the checks of torch stages pay for this import

    if not isinstance(got, torch.Tensor):
        expect(False, what, f"a torch.Tensor of shape {tuple(expected.shape)}", type(got).__name__)
    expect(tuple(got.shape) == tuple(expected.shape), f"{what}: shape", tuple(expected.shape), tuple(got.shape))
    got_f, exp_f = got.detach().double(), expected.detach().double()
    if not torch.allclose(got_f, exp_f, atol=atol, rtol=rtol):
        diff = (got_f - exp_f).abs()
        flat = int(diff.argmax())
        index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), diff.shape))
        raise AssertionError(
            f"{what}: values differ (largest |difference| {diff.max().item():.3g} at index {index})\n"
            f"  expected: {exp_f[index].item():.6g}\n  got:      {got_f[index].item():.6g}"
        )


def as_tiktoken(tok):
    """A tiktoken.Encoding that applies a stage-1 tokenizer's own merges: an independent encoder.

    Token ids 0..255 are the bytes; a merge's id is its rank, so tiktoken's rule (merge the
    adjacent pair whose joined bytes have the lowest rank) is BPE by merge order.
    """
    import tiktoken

    ranks = {tok.vocab[i]: i for i in range(256)}
    for idx in sorted(tok.merges.values()):
        ranks.setdefault(tok.vocab[idx], idx)
    return tiktoken.Encoding(
        name="learner", pat_str=tok.pattern, mergeable_ranks=ranks, special_tokens=dict(tok.special_tokens)
    )
