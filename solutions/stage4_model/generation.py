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
    # BEGIN SOLUTION: loop: crop to the last context_size ids, logits of the last position, argmax, append
    for _ in range(max_new_tokens):
        idx_cond = idx[:, -context_size:]  # (B, min(T, context_size)): the model's window
        with torch.no_grad():
            logits = model(idx_cond)  # (B, T', vocab_size)
        logits = logits[:, -1, :]  # (B, vocab_size): only the last position predicts what comes next
        probas = torch.softmax(logits, dim=-1)  # (B, vocab_size)
        idx_next = torch.argmax(probas, dim=-1, keepdim=True)  # (B, 1)
        idx = torch.cat((idx, idx_next), dim=1)  # (B, T + 1)
    return idx
    # END SOLUTION


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
    # BEGIN SOLUTION: crop, last logits, top-k mask, then sample (temperature > 0) or argmax; stop at eos_id
    ended = torch.zeros(idx.shape[0], 1, dtype=torch.bool, device=idx.device)  # (B, 1): rows past their eos_id
    for _ in range(max_new_tokens):
        idx_cond = idx[:, -context_size:]  # (B, min(T, context_size)): crop to the context window
        with torch.no_grad():
            logits = model(idx_cond)  # (B, T', vocab_size)
        logits = logits[:, -1, :]  # (B, vocab_size)

        if top_k is not None:
            top_logits, _ = torch.topk(logits, top_k)  # (B, top_k), largest first
            min_val = top_logits[:, -1:]  # (B, 1): the k-th largest logit of each row
            logits = torch.where(logits < min_val, torch.full_like(logits, float("-inf")), logits)

        if temperature > 0.0:
            logits = logits / temperature
            probs = torch.softmax(logits, dim=-1)  # (B, vocab_size)
            idx_next = torch.multinomial(probs, num_samples=1)  # (B, 1)
        else:
            idx_next = torch.argmax(logits, dim=-1, keepdim=True)  # (B, 1)

        if eos_id is not None:
            ended |= idx_next == eos_id  # (B, 1)
            if bool(ended.all()):
                break  # every row has ended: eos_id is not appended
            idx_next = torch.where(ended, torch.full_like(idx_next, eos_id), idx_next)  # (B, 1): ended rows hold eos_id
        idx = torch.cat((idx, idx_next), dim=1)  # (B, T + 1)
    return idx
    # END SOLUTION
