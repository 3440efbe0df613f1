"""Chapter 4's GPT as the book's listings write it: LayerNorm, GELU, FeedForward, TransformerBlock, GPTModel."""

import torch
import torch.nn as nn

from stage3_attention import MultiHeadAttention

GPT_CONFIG_124M = {
    "vocab_size": 50257,  # Vocabulary size
    "context_length": 1024,  # Context length
    "emb_dim": 768,  # Embedding dimension
    "n_heads": 12,  # Number of attention heads
    "n_layers": 12,  # Number of layers
    "drop_rate": 0.1,  # Dropout rate
    "qkv_bias": False,  # Query-Key-Value bias
}


class LayerNorm(nn.Module):
    """scale * (x - mean) / sqrt(var + eps) + shift over the last dimension."""

    def __init__(self, emb_dim):
        """LayerNorm(4): eps 1e-5, scale ones(4), shift zeros(4)"""
        super().__init__()
        self.eps = 1e-5
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))

    def forward(self, x):
        """[[1., 3.]] -> [[-1., 1.]] (to 5 digits)"""
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        norm_x = (x - mean) / torch.sqrt(var + self.eps)
        return self.scale * norm_x + self.shift


class GELU(nn.Module):
    """The tanh approximation of GELU."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        """[-1., 0., 1., 2.] -> [-0.1588, 0.0000, 0.8412, 1.9546]"""
        return 0.5 * x * (1 + torch.tanh(torch.sqrt(torch.tensor(2.0 / torch.pi)) * (x + 0.044715 * torch.pow(x, 3))))


class FeedForward(nn.Module):
    """Linear(emb_dim, 4 * emb_dim), GELU, Linear(4 * emb_dim, emb_dim)."""

    def __init__(self, cfg):
        """FeedForward({"emb_dim": 768}).layers: Linear(768, 3072), GELU(), Linear(3072, 768)"""
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(cfg["emb_dim"], 4 * cfg["emb_dim"]),
            GELU(),
            nn.Linear(4 * cfg["emb_dim"], cfg["emb_dim"]),
        )

    def forward(self, x):
        """(2, 3, 768) -> (2, 3, 768)"""
        return self.layers(x)


class TransformerBlock(nn.Module):
    """Pre-LayerNorm attention and feed-forward, each with dropout and a shortcut connection."""

    def __init__(self, cfg):
        """TransformerBlock(GPT_CONFIG_124M): att, ff, norm1, norm2, drop_shortcut"""
        super().__init__()
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

    def forward(self, x):
        """(2, 4, 768) -> (2, 4, 768)"""
        # Shortcut connection for attention block
        shortcut = x
        x = self.norm1(x)
        x = self.att(x)  # Shape [batch_size, num_tokens, emb_size]
        x = self.drop_shortcut(x)
        x = x + shortcut  # Add the original input back

        # Shortcut connection for feed forward block
        shortcut = x
        x = self.norm2(x)
        x = self.ff(x)
        x = self.drop_shortcut(x)
        x = x + shortcut  # Add the original input back

        return x


class GPTModel(nn.Module):
    """Embeddings, n_layers TransformerBlocks, final_norm and out_head."""

    def __init__(self, cfg):
        """GPTModel(GPT_CONFIG_124M): 163,009,536 parameters"""
        super().__init__()
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])

        self.trf_blocks = nn.Sequential(*[TransformerBlock(cfg) for _ in range(cfg["n_layers"])])

        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)

    def forward(self, in_idx):
        """(batch_size, seq_len) ids -> (batch_size, seq_len, vocab_size) logits"""
        batch_size, seq_len = in_idx.shape
        tok_embeds = self.tok_emb(in_idx)  # (batch_size, seq_len, emb_dim)
        pos_embeds = self.pos_emb(torch.arange(seq_len, device=in_idx.device))  # (seq_len, emb_dim)
        x = tok_embeds + pos_embeds  # Shape [batch_size, num_tokens, emb_size]
        x = self.drop_emb(x)
        x = self.trf_blocks(x)
        x = self.final_norm(x)
        logits = self.out_head(x)  # (batch_size, seq_len, vocab_size)
        return logits
