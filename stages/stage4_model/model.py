"""The GPT model of chapter 4: layer norm, GELU, feed-forward, transformer block and GPTModel.

Shapes in the comments: B batch, T tokens (T <= context_length), emb_dim = cfg["emb_dim"],
vocab_size = cfg["vocab_size"]. The attention comes from your stage 3, by package name.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from stage3_attention import MultiHeadAttention

# The smallest GPT-2 ("124M"), with the book's config keys.
GPT_CONFIG_124M = {
    "vocab_size": 50257,  # tokens in GPT-2's BPE vocabulary
    "context_length": 1024,  # the most tokens the model reads at once
    "emb_dim": 768,  # embedding size
    "n_heads": 12,  # attention heads per block
    "n_layers": 12,  # transformer blocks
    "drop_rate": 0.1,  # dropout probability
    "qkv_bias": False,  # bias in the query, key and value projections
}


class LayerNorm(nn.Module):
    """Normalize each token's vector to mean 0 and variance 1, then scale and shift it.

    Parameters: scale (ones), shift (zeros), both of shape (emb_dim,); eps = 1e-5.
    """

    def __init__(self, emb_dim: int):
        """Example: LayerNorm(4) has eps == 1e-5, scale == [1., 1., 1., 1.], shift == [0., 0., 0., 0.],
        and both scale and shift are trainable (nn.Parameter)."""
        super().__init__()
        # TODO: set self.eps = 1e-5, self.scale = ones and self.shift = zeros, as nn.Parameter
        raise NotImplementedError('set self.eps = 1e-5, self.scale = ones and self.shift = zeros, as nn.Parameter')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize over the last dimension with the biased variance (divide by n, not n - 1).

        Example (scale 1, shift 0): [[1., 3.]] -> mean 2, variance 1 -> [[-1.0000, 1.0000]]
        (exactly [[-1, 1]] / sqrt(1 + 1e-5), so -0.999995 and 0.999995).
        """
        # TODO: mean and biased variance over dim=-1 (keepdim), normalize, then scale * x + shift
        raise NotImplementedError('mean and biased variance over dim=-1 (keepdim), normalize, then scale * x + shift')


class GELU(nn.Module):
    """GELU, the tanh approximation GPT-2 was trained with."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3))), elementwise.

        Example: [-1., 0., 1., 2.] -> [-0.1588, 0.0000, 0.8412, 1.9546]
        """
        # TODO: the tanh approximation of GELU, elementwise
        raise NotImplementedError('the tanh approximation of GELU, elementwise')


class FeedForward(nn.Module):
    """Two linear layers with a GELU between, widening each token to 4 * emb_dim and back."""

    def __init__(self, cfg: dict):
        """Example: FeedForward({"emb_dim": 768, ...}).layers is
        Sequential(Linear(768, 3072), GELU(), Linear(3072, 768))."""
        super().__init__()
        # TODO: self.layers = nn.Sequential(Linear(emb_dim, 4 * emb_dim), GELU(), Linear(4 * emb_dim, emb_dim))
        raise NotImplementedError('self.layers = nn.Sequential(Linear(emb_dim, 4 * emb_dim), GELU(), Linear(4 * emb_dim, emb_dim))')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Example (emb_dim 768): x of shape (2, 3, 768) -> (2, 3, 3072) inside -> (2, 3, 768) out."""
        # TODO: run x through self.layers
        raise NotImplementedError('run x through self.layers')


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: x + drop(att(norm1(x))), then x + drop(ff(norm2(x)))."""

    def __init__(self, cfg: dict):
        """Example: TransformerBlock(GPT_CONFIG_124M) has att (MultiHeadAttention 768 -> 768,
        12 heads), ff (FeedForward), norm1 and norm2 (LayerNorm(768)) and drop_shortcut
        (nn.Dropout(0.1)), all built from cfg."""
        super().__init__()
        # TODO: self.att, self.ff, self.norm1, self.norm2, self.drop_shortcut from cfg
        raise NotImplementedError('self.att, self.ff, self.norm1, self.norm2, self.drop_shortcut from cfg')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same shape in and out. Example: x of shape (2, 4, 768) -> a tensor of shape (2, 4, 768);
        with att and ff returning zeros, the block returns x unchanged (the shortcuts carry it)."""
        # TODO: two shortcut connections, each around norm -> sublayer -> dropout
        raise NotImplementedError('two shortcut connections, each around norm -> sublayer -> dropout')


class GPTModel(nn.Module):
    """Token ids in, next-token logits out: embeddings, n_layers blocks, final norm, output head."""

    def __init__(self, cfg: dict):
        """Example: GPTModel(GPT_CONFIG_124M) has tok_emb (Embedding(50257, 768)), pos_emb
        (Embedding(1024, 768)), drop_emb, trf_blocks (nn.Sequential of 12 TransformerBlock),
        final_norm (LayerNorm(768)) and out_head (Linear(768, 50257, bias=False)):
        163,009,536 parameters in all."""
        super().__init__()
        # TODO: tok_emb, pos_emb, drop_emb, trf_blocks, final_norm, out_head from cfg
        raise NotImplementedError('tok_emb, pos_emb, drop_emb, trf_blocks, final_norm, out_head from cfg')

    def forward(self, in_idx: torch.Tensor) -> torch.Tensor:
        """Example (GPT_CONFIG_124M): in_idx of shape (2, 4), ids < 50257 -> logits of shape
        (2, 4, 50257); logits[b, t] scores every possible token after in_idx[b, :t + 1]."""
        # TODO: token + position embeddings (positions 0 .. T - 1), dropout, blocks, final norm, head
        raise NotImplementedError('token + position embeddings (positions 0 .. T - 1), dropout, blocks, final norm, head')
