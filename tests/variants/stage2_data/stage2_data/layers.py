"""Token + position embeddings, with the position rows made (1, T, D) explicitly."""

import torch
import torch.nn as nn


class GPTEmbedding(nn.Module):
    def __init__(self, vocab_size, output_dim, context_length):
        super().__init__()
        self.tok_emb = nn.Embedding(num_embeddings=vocab_size, embedding_dim=output_dim)
        self.pos_emb = nn.Embedding(num_embeddings=context_length, embedding_dim=output_dim)

    def forward(self, in_idx):
        batch, T = in_idx.size()
        positions = torch.arange(T, dtype=torch.long, device=in_idx.device).unsqueeze(0)  # (1, T)
        return self.tok_emb(in_idx) + self.pos_emb(positions)  # (B, T, D) + (1, T, D) -> (B, T, D)
