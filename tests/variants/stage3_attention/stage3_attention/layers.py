"""A second, independent implementation of causal and multi-head attention.

CausalAttention calls torch's fused scaled_dot_product_attention with an explicit boolean mask and
lets it apply the dropout; MultiHeadAttention uses einsum and unflatten/flatten instead of
view/transpose. Same names, arguments, attributes and state_dict keys as the book.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class CausalAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
        super().__init__()
        self.d_out = d_out
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", torch.ones(context_length, context_length).triu(1))

    def forward(self, x):
        n = x.shape[-2]
        allowed = self.mask[:n, :n] == 0  # (T, T): True where a query may look
        p = self.dropout.p if self.training else 0.0
        return F.scaled_dot_product_attention(
            self.W_query(x), self.W_key(x), self.W_value(x), attn_mask=allowed, dropout_p=p
        )  # (B, T, d_out)


class MultiHeadAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        if num_heads <= 0 or d_out % num_heads:
            raise ValueError(f"d_out ({d_out}) must be a multiple of num_heads ({num_heads})")
        self.d_out, self.num_heads, self.head_dim = d_out, num_heads, d_out // num_heads
        for name in ("W_query", "W_key", "W_value"):
            setattr(self, name, nn.Linear(d_in, d_out, bias=qkv_bias))
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), 1))

    def forward(self, x):
        heads = (self.num_heads, self.head_dim)
        q = self.W_query(x).unflatten(-1, heads)  # (B, T, H, hd)
        k = self.W_key(x).unflatten(-1, heads)  # (B, T, H, hd)
        v = self.W_value(x).unflatten(-1, heads)  # (B, T, H, hd)
        n = x.shape[1]
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) * (1.0 / math.sqrt(self.head_dim))  # (B, H, T, T)
        scores = torch.where(self.mask[:n, :n].bool(), float("-inf"), scores)
        weights = self.dropout(scores.softmax(dim=-1))
        mixed = torch.einsum("bhqk,bkhd->bqhd", weights, v).flatten(-2)  # (B, T, d_out)
        return self.out_proj(mixed)
