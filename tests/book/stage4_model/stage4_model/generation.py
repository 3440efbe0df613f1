"""generate_text_simple (chapter 4) and generate (chapter 5), as the book writes them."""

import torch


def generate_text_simple(model, idx, max_new_tokens, context_size):
    """Greedy: a model predicting last id + 1, idx [[5, 6]], 3 new tokens -> [[5, 6, 7, 8, 9]]"""
    # idx is (batch, n_tokens) array of indices in the current context
    for _ in range(max_new_tokens):
        # Crop current context if it exceeds the supported context size
        idx_cond = idx[:, -context_size:]  # (batch, min(n_tokens, context_size))

        # Get the predictions
        with torch.no_grad():
            logits = model(idx_cond)  # (batch, n_tokens, vocab_size)

        # Focus only on the last time step
        logits = logits[:, -1, :]  # (batch, vocab_size)

        # Apply softmax to get probabilities
        probas = torch.softmax(logits, dim=-1)  # (batch, vocab_size)

        # Get the idx of the vocab entry with the highest probability value
        idx_next = torch.argmax(probas, dim=-1, keepdim=True)  # (batch, 1)

        # Append sampled index to the running sequence
        idx = torch.cat((idx, idx_next), dim=1)  # (batch, n_tokens+1)

    return idx


def generate(model, idx, max_new_tokens, context_size, temperature=0.0, top_k=None, eos_id=None):
    """With top-k, temperature and eos_id: logits [2., 1., 0., 3.], top_k=2 -> [2., -inf, -inf, 3.]"""
    finished = torch.zeros(idx.shape[0], 1, dtype=torch.bool, device=idx.device)  # (batch, 1)
    # For-loop is the same as before: Get logits, and only focus on last time step
    for _ in range(max_new_tokens):
        idx_cond = idx[:, -context_size:]  # (batch, min(n_tokens, context_size))
        with torch.no_grad():
            logits = model(idx_cond)  # (batch, n_tokens, vocab_size)
        logits = logits[:, -1, :]  # (batch, vocab_size)

        # New: Filter logits with top_k sampling
        if top_k is not None:
            # Keep only top_k values
            top_logits, _ = torch.topk(logits, top_k)  # (batch, top_k)
            min_val = top_logits[:, -1:]  # (batch, 1); the book's [:, -1] is (batch,) and fits a batch of one only
            logits = torch.where(logits < min_val, torch.tensor(float("-inf")).to(logits.device), logits)

        # New: Apply temperature scaling
        if temperature > 0.0:
            logits = logits / temperature

            # Apply softmax to get probabilities
            probs = torch.softmax(logits, dim=-1)  # (batch_size, context_len)

            # Sample from the distribution
            idx_next = torch.multinomial(probs, num_samples=1)  # (batch_size, 1)

        # Otherwise same as before: get idx of the vocab entry with the highest logits value
        else:
            idx_next = torch.argmax(logits, dim=-1, keepdim=True)  # (batch_size, 1)

        # The book's `if idx_next == eos_id: break` raises on a batch: each row ends on its own.
        if eos_id is not None:
            finished |= idx_next == eos_id  # (batch, 1)
            if finished.all():
                break
            idx_next = idx_next.masked_fill(finished, eos_id)  # (batch, 1)

        # Same as before: append sampled index to the running sequence
        idx = torch.cat((idx, idx_next), dim=1)  # (batch_size, num_tokens+1)

    return idx
