"""Stage 4: the GPT model and text generation (lessons/stage4_model.md)."""

from .generation import generate, generate_text_simple
from .model import GELU, GPT_CONFIG_124M, FeedForward, GPTModel, LayerNorm, TransformerBlock

__all__ = [
    "GELU",
    "GPT_CONFIG_124M",
    "FeedForward",
    "GPTModel",
    "LayerNorm",
    "TransformerBlock",
    "generate",
    "generate_text_simple",
]
