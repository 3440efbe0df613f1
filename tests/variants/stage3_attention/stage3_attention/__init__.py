"""Stage 3 variant: the same public API, written independently (einsum and torch's SDPA kernel)."""

from .layers import CausalAttention, MultiHeadAttention

__all__ = ["CausalAttention", "MultiHeadAttention"]
