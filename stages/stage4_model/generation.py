"""Turning next-token logits into text: greedy decoding, then temperature, top-k and end-of-text.

Both functions take and return token ids of shape (B, T); the model is any module that maps ids
(B, T) to logits (B, T, vocab_size), such as GPTModel.
"""

from __future__ import annotations

import torch


def generate_text_simple(model, idx: torch.Tensor, max_new_tokens: int, context_size: int) -> torch.Tensor:
    """Append max_new_tokens ids, each time the most likely next token (greedy decoding).

    The model only sees the last context_size ids. Example: a model whose logits for the last
    position are highest at (last id + 1), idx = [[5, 6]], max_new_tokens=3, context_size=4
    -> [[5, 6, 7, 8, 9]]  (the model saw [5, 6], [5, 6, 7], [5, 6, 7, 8]).
    """
    # TODO: loop: crop to the last context_size ids, logits of the last position, argmax, append
    raise NotImplementedError('loop: crop to the last context_size ids, logits of the last position, argmax, append')


def generate(
    model,
    idx: torch.Tensor,
    max_new_tokens: int,
    context_size: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    eos_id: int | None = None,
) -> torch.Tensor:
    """Like generate_text_simple, with top-k filtering, temperature sampling and early stopping.

    top_k: keep only the k largest logits (the rest become -inf).
    temperature > 0: sample from softmax(logits / temperature) with torch.multinomial;
    temperature == 0: argmax, as in generate_text_simple.
    eos_id: each row ends at its first eos_id. An ended row holds eos_id while the others go on,
    and the loop stops, without appending, once every row has ended: for one prompt, as soon as
    the next token would be eos_id (the book's rule).

    Example: last-position logits [2., 1., 0., 3.], top_k=2 -> [2., -inf, -inf, 3.];
    temperature=0.5 -> softmax([4., -inf, -inf, 6.]) = [0.12, 0., 0., 0.88]; a draw picks id 3
    about 88 times in 100. With temperature=0.0 it is always id 3; with eos_id=3 nothing is
    appended and idx comes back as it went in. A batch, with a model that predicts (last id + 1)
    and eos_id=3: [[1], [2]] -> [[1, 2], [2, 3]] (row 2 ended at once and holds 3; then row 1's
    next id is 3 too: every row has ended).
    """
    # TODO: crop, last logits, top-k mask, then sample (temperature > 0) or argmax; stop at eos_id
    raise NotImplementedError('crop, last logits, top-k mask, then sample (temperature > 0) or argmax; stop at eos_id')
