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
        # BEGIN SOLUTION: set self.eps = 1e-5, self.scale = ones and self.shift = zeros, as nn.Parameter
        self.eps = 1e-5
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize over the last dimension with the biased variance (divide by n, not n - 1).

        Example (scale 1, shift 0): [[1., 3.]] -> mean 2, variance 1 -> [[-1.0000, 1.0000]]
        (exactly [[-1, 1]] / sqrt(1 + 1e-5), so -0.999995 and 0.999995).
        """
        # BEGIN SOLUTION: mean and biased variance over dim=-1 (keepdim), normalize, then scale * x + shift
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        var = x.var(dim=-1, keepdim=True, unbiased=False)  # (..., 1)
        norm_x = (x - mean) / torch.sqrt(var + self.eps)  # (..., emb_dim)
        return self.scale * norm_x + self.shift
        # END SOLUTION


class GELU(nn.Module):
    """GELU, the tanh approximation GPT-2 was trained with."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3))), elementwise.

        Example: [-1., 0., 1., 2.] -> [-0.1588, 0.0000, 0.8412, 1.9546]
        """
        # BEGIN SOLUTION: the tanh approximation of GELU, elementwise
        return 0.5 * x * (1 + torch.tanh(torch.sqrt(torch.tensor(2.0 / torch.pi)) * (x + 0.044715 * torch.pow(x, 3))))
        # END SOLUTION


class FeedForward(nn.Module):
    """Two linear layers with a GELU between, widening each token to 4 * emb_dim and back."""

    def __init__(self, cfg: dict):
        """Example: FeedForward({"emb_dim": 768, ...}).layers is
        Sequential(Linear(768, 3072), GELU(), Linear(3072, 768))."""
        super().__init__()
        # BEGIN SOLUTION: self.layers = nn.Sequential(Linear(emb_dim, 4 * emb_dim), GELU(), Linear(4 * emb_dim, emb_dim))
        self.layers = nn.Sequential(
            nn.Linear(cfg["emb_dim"], 4 * cfg["emb_dim"]),
            GELU(),
            nn.Linear(4 * cfg["emb_dim"], cfg["emb_dim"]),
        )
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Example (emb_dim 768): x of shape (2, 3, 768) -> (2, 3, 3072) inside -> (2, 3, 768) out."""
        # BEGIN SOLUTION: run x through self.layers
        return self.layers(x)  # (B, T, emb_dim) -> (B, T, 4 * emb_dim) -> (B, T, emb_dim)
        # END SOLUTION


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: x + drop(att(norm1(x))), then x + drop(ff(norm2(x)))."""

    def __init__(self, cfg: dict):
        """Example: TransformerBlock(GPT_CONFIG_124M) has att (MultiHeadAttention 768 -> 768,
        12 heads), ff (FeedForward), norm1 and norm2 (LayerNorm(768)) and drop_shortcut
        (nn.Dropout(0.1)), all built from cfg."""
        super().__init__()
        # BEGIN SOLUTION: self.att, self.ff, self.norm1, self.norm2, self.drop_shortcut from cfg
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"],
            d_out=cfg["emb_dim"],
            context_length=cfg["context_length"],
            num_heads=cfg["n_heads"],
            dropout=cfg["drop_rate"],
            qkv_bias=cfg["qkv_bias"],
        )
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(cfg["drop_rate"])
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same shape in and out. Example: x of shape (2, 4, 768) -> a tensor of shape (2, 4, 768);
        with att and ff returning zeros, the block returns x unchanged (the shortcuts carry it)."""
        # BEGIN SOLUTION: two shortcut connections, each around norm -> sublayer -> dropout
        shortcut = x  # the shortcut around attention
        x = self.norm1(x)
        x = self.att(x)  # (B, T, emb_dim)
        x = self.drop_shortcut(x)
        x = x + shortcut  # add the block's input back

        shortcut = x  # the shortcut around the feed-forward
        x = self.norm2(x)
        x = self.ff(x)  # (B, T, emb_dim)
        x = self.drop_shortcut(x)
        x = x + shortcut
        return x
        # END SOLUTION


class GPTModel(nn.Module):
    """Token ids in, next-token logits out: embeddings, n_layers blocks, final norm, output head."""

    def __init__(self, cfg: dict):
        """Example: GPTModel(GPT_CONFIG_124M) has tok_emb (Embedding(50257, 768)), pos_emb
        (Embedding(1024, 768)), drop_emb, trf_blocks (nn.Sequential of 12 TransformerBlock),
        final_norm (LayerNorm(768)) and out_head (Linear(768, 50257, bias=False)):
        163,009,536 parameters in all."""
        super().__init__()
        # BEGIN SOLUTION: tok_emb, pos_emb, drop_emb, trf_blocks, final_norm, out_head from cfg
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        self.trf_blocks = nn.Sequential(*[TransformerBlock(cfg) for _ in range(cfg["n_layers"])])
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)
        # END SOLUTION

    def forward(self, in_idx: torch.Tensor) -> torch.Tensor:
        """Example (GPT_CONFIG_124M): in_idx of shape (2, 4), ids < 50257 -> logits of shape
        (2, 4, 50257); logits[b, t] scores every possible token after in_idx[b, :t + 1]."""
        # BEGIN SOLUTION: token + position embeddings (positions 0 .. T - 1), dropout, blocks, final norm, head
        batch_size, seq_len = in_idx.shape
        tok_embeds = self.tok_emb(in_idx)  # (B, T, emb_dim)
        pos_embeds = self.pos_emb(torch.arange(seq_len, device=in_idx.device))  # (T, emb_dim)
        x = tok_embeds + pos_embeds  # (B, T, emb_dim): positions broadcast over the batch
        x = self.drop_emb(x)
        x = self.trf_blocks(x)  # (B, T, emb_dim)
        x = self.final_norm(x)
        logits = self.out_head(x)  # (B, T, vocab_size)
        return logits
        # END SOLUTION
