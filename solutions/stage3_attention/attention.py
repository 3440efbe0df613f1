"""Causal self-attention: one head (CausalAttention) and many at once (MultiHeadAttention).

Shapes below: B is the batch size, T the number of tokens (num_tokens, at most context_length),
d_in the width of each input vector and d_out the width of each context vector. Every name here is
the book's (chapter 3), so a state_dict saved by the book's classes loads into these and back.
"""

from __future__ import annotations

import torch
from torch import nn


class CausalAttention(nn.Module):
    """One head of causal, scaled dot-product self-attention with dropout on the weights.

    Attributes (the book's names; the checks and `learn show attention` use them):
        d_out: the width of each context vector
        W_query, W_key, W_value: nn.Linear(d_in, d_out, bias=qkv_bias)
        dropout: nn.Dropout(dropout), applied to the attention weights
        mask: a buffer (context_length, context_length), 1 above the diagonal (the future), else 0
    """

    def __init__(self, d_in: int, d_out: int, context_length: int, dropout: float, qkv_bias: bool = False):
        """Make the three projections, the dropout and the causal mask.

        Example: CausalAttention(d_in=3, d_out=2, context_length=4, dropout=0.0).mask ->
            tensor([[0., 1., 1., 1.],
                    [0., 0., 1., 1.],
                    [0., 0., 0., 1.],
                    [0., 0., 0., 0.]])        (row i: the tokens that query i may NOT see)
        and its W_query.weight has shape (2, 3): nn.Linear stores (d_out, d_in).
        """
        super().__init__()
        # BEGIN SOLUTION: W_query/W_key/W_value = nn.Linear(d_in, d_out, bias=qkv_bias); self.dropout; register_buffer("mask", torch.triu(ones, diagonal=1))
        self.d_out = d_out
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(dropout)
        # A buffer, not a parameter: it moves with .to(device) and is saved, but is never trained.
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), diagonal=1))
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, d_in), T <= context_length -> context vectors (B, T, d_out).

        Token t's context vector mixes the values of tokens 0..t, weighted by
        softmax(query_t . key_j / sqrt(d_out)); the future (j > t) gets weight exactly 0.

        Example (W_query, W_key and W_value set to the 2x2 identity, so queries = keys = values = x):
            x = [[[1., 0.], [0., 1.], [1., 1.]]]
            scores / sqrt(2), future -> -inf = [[0.7071, -inf, -inf], [0., 0.7071, -inf], [0.7071, 0.7071, 1.4142]]
            weights (softmax of each row)     = [[1., 0., 0.], [0.3302, 0.6698, 0.], [0.2483, 0.2483, 0.5035]]
            forward(x) = weights @ values     -> [[[1.0000, 0.0000], [0.3302, 0.6698], [0.7517, 0.7517]]]
        """
        # BEGIN SOLUTION: queries, keys, values; scores = queries @ keys^T; future -> -inf; softmax(scores / sqrt(d_out)); dropout; @ values
        b, num_tokens, d_in = x.shape
        keys = self.W_key(x)  # (B, T, d_out)
        queries = self.W_query(x)  # (B, T, d_out)
        values = self.W_value(x)  # (B, T, d_out)

        attn_scores = queries @ keys.transpose(1, 2)  # (B, T, d_out) @ (B, d_out, T) -> (B, T, T)
        # The mask is built for context_length tokens: cut it to the T tokens we have.
        attn_scores.masked_fill_(self.mask.bool()[:num_tokens, :num_tokens], -torch.inf)
        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)  # (B, T, T), rows sum to 1
        attn_weights = self.dropout(attn_weights)  # (B, T, T), only in train() mode

        context_vec = attn_weights @ values  # (B, T, T) @ (B, T, d_out) -> (B, T, d_out)
        return context_vec
        # END SOLUTION


class MultiHeadAttention(nn.Module):
    """num_heads causal attention heads computed at once, then mixed by out_proj.

    The d_out columns of each projection are split into num_heads slices of head_dim columns:
    head h uses columns h * head_dim .. (h + 1) * head_dim - 1 of W_query, W_key and W_value.

    Attributes (the book's names; the checks and `learn show attention` use them):
        d_out, num_heads, head_dim (= d_out // num_heads)
        W_query, W_key, W_value: nn.Linear(d_in, d_out, bias=qkv_bias)
        out_proj: nn.Linear(d_out, d_out), mixes the heads' outputs
        dropout: nn.Dropout(dropout), applied to the attention weights
        mask: a buffer (context_length, context_length), 1 above the diagonal (the future), else 0
    state_dict keys: W_query.weight, W_key.weight, W_value.weight (and their .bias if qkv_bias),
    out_proj.weight, out_proj.bias, mask.
    """

    def __init__(self, d_in: int, d_out: int, context_length: int, dropout: float, num_heads: int, qkv_bias: bool = False):
        """Check that the heads split d_out evenly; make the projections, out_proj, dropout and mask.

        Example: MultiHeadAttention(d_in=3, d_out=4, context_length=6, dropout=0.0, num_heads=2).head_dim -> 2
                 MultiHeadAttention(d_in=3, d_out=5, context_length=6, dropout=0.0, num_heads=2)
                     -> AssertionError: d_out must be divisible by num_heads
        """
        super().__init__()
        # BEGIN SOLUTION: assert d_out % num_heads == 0; d_out, num_heads, head_dim; W_query/W_key/W_value; out_proj; dropout; the mask buffer
        assert d_out % num_heads == 0, f"d_out must be divisible by num_heads (got d_out={d_out}, num_heads={num_heads})"
        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads  # each head's share of d_out
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)  # combines the heads' outputs
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), diagonal=1))
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, d_in), T <= context_length -> context vectors (B, T, d_out).

        Each head attends causally, like CausalAttention, with its own head_dim-wide slice of the
        queries, keys and values and the scaling 1 / sqrt(head_dim); the heads' outputs are put
        side by side again (B, T, num_heads * head_dim = d_out) and mixed by out_proj.

        Example (d_in=3, d_out=4, num_heads=2, so head_dim=2):
            x of shape (2, 6, 3) -> queries (2, 6, 4) -> split (2, 6, 2, 2) -> transposed (2, 2, 6, 2)
            -> scores (2, 2, 6, 6) -> weights @ values (2, 2, 6, 2) -> merged (2, 6, 4) -> out_proj (2, 6, 4)
            With out_proj the identity (weight = eye(4), bias = 0), output[..., :2] is head 0's
            CausalAttention over columns 0..1 and output[..., 2:] is head 1's over columns 2..3.
        """
        # BEGIN SOLUTION: project; view (B, T, num_heads, head_dim) and transpose to (B, num_heads, T, head_dim); masked scaled softmax; dropout; @ values; transpose back, merge, out_proj
        b, num_tokens, d_in = x.shape
        keys = self.W_key(x)  # (B, T, d_out)
        queries = self.W_query(x)  # (B, T, d_out)
        values = self.W_value(x)  # (B, T, d_out)

        # Split the last axis into heads, then move the head axis next to the batch axis so that
        # every head is an independent batch of (T, head_dim) matrices.
        keys = keys.view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)  # (B, num_heads, T, head_dim)
        queries = queries.view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)  # (B, num_heads, T, head_dim)
        values = values.view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)  # (B, num_heads, T, head_dim)

        attn_scores = queries @ keys.transpose(2, 3)  # (B, num_heads, T, head_dim) @ (B, num_heads, head_dim, T) -> (B, num_heads, T, T)
        mask_bool = self.mask.bool()[:num_tokens, :num_tokens]  # (T, T), broadcast over batch and heads
        attn_scores.masked_fill_(mask_bool, -torch.inf)
        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)  # (B, num_heads, T, T), scaled by sqrt(head_dim)
        attn_weights = self.dropout(attn_weights)  # (B, num_heads, T, T), only in train() mode

        context_vec = (attn_weights @ values).transpose(1, 2)  # (B, num_heads, T, head_dim) -> (B, T, num_heads, head_dim)
        context_vec = context_vec.contiguous().view(b, num_tokens, self.d_out)  # (B, T, d_out): heads side by side
        context_vec = self.out_proj(context_vec)  # (B, T, d_out)
        return context_vec
        # END SOLUTION
