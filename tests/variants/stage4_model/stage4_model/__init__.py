"""A second, independently written stage 4: one module, book-literal generate(), inverse-CDF sampling."""

from .gpt import GELU, GPT_CONFIG_124M, FeedForward, GPTModel, LayerNorm, TransformerBlock, generate, generate_text_simple

__all__ = ["GELU", "GPT_CONFIG_124M", "FeedForward", "GPTModel", "LayerNorm", "TransformerBlock", "generate", "generate_text_simple"]
