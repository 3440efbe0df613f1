"""Stage 3: self-attention, causal masking, multi-head attention (lessons/stage3_attention.md)."""

from .attention import CausalAttention, MultiHeadAttention

__all__ = ["CausalAttention", "MultiHeadAttention"]
