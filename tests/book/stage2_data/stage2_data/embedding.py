"""Token plus position embeddings, as chapter 2 ends (token_embedding_layer, pos_embedding_layer)."""

import torch
from torch import nn


class GPTEmbedding(nn.Module):
    """input_embeddings = token_embeddings + pos_embeddings, with the book's tok_emb and pos_emb."""

    def __init__(self, vocab_size, output_dim, context_length):
        """GPTEmbedding(50257, 256, 4): tok_emb (50257, 256), pos_emb (4, 256)"""
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, output_dim)
        self.pos_emb = nn.Embedding(context_length, output_dim)

    def forward(self, inputs):
        """(B, T) ids -> (B, T, output_dim): forward(tensor([[5, 0]])) -> tok rows 5, 0 plus pos rows 0, 1"""
        token_embeddings = self.tok_emb(inputs)  # (B, T, D)
        # The book writes torch.arange(max_length) for a fixed length; here T is the input's.
        pos_embeddings = self.pos_emb(torch.arange(inputs.shape[1], device=inputs.device))  # (T, D)
        return token_embeddings + pos_embeddings  # (B, T, D)
