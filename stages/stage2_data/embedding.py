"""Token and position embeddings: the first layer of the GPT (lessons/stage2_data.md, §5-§7).

Token ids of shape (B, T) become vectors of shape (B, T, output_dim): each id looks up its row of a
token embedding table, and each position 0, 1, ..., T - 1 adds its row of a position embedding table.
Stage 4's GPTModel starts with exactly this step (its attributes are also called tok_emb and pos_emb).
"""

from __future__ import annotations

import torch
from torch import nn


class GPTEmbedding(nn.Module):
    """input_embeddings = tok_emb(token_ids) + pos_emb(arange(T)).

    Attributes (the checks read them):
        tok_emb: nn.Embedding(vocab_size, output_dim), one learned vector per token id
        pos_emb: nn.Embedding(context_length, output_dim), one learned vector per position
    """

    def __init__(self, vocab_size: int, output_dim: int, context_length: int):
        """Make the two embedding tables.

        Example: GPTEmbedding(vocab_size=50257, output_dim=256, context_length=4)
            tok_emb.weight.shape -> (50257, 256);  pos_emb.weight.shape -> (4, 256)
        """
        super().__init__()
        # TODO: self.tok_emb and self.pos_emb, two nn.Embedding tables
        raise NotImplementedError('self.tok_emb and self.pos_emb, two nn.Embedding tables')

    def forward(self, in_idx: torch.Tensor) -> torch.Tensor:
        """Token vectors plus position vectors, for any length T up to context_length.

        Example (output_dim=2, tok_emb rows 0: [1., 1.], 5: [2., 2.]; pos_emb rows 0: [0., 10.], 1: [0., 20.]):
            forward(tensor([[5, 0]])) -> tensor([[[2., 12.], [1., 21.]]])   # (1, 2, 2)
        """
        # TODO: look up the tokens, add the positions 0 .. T - 1 (broadcast over the batch)
        raise NotImplementedError('look up the tokens, add the positions 0 .. T - 1 (broadcast over the batch)')
