"""GPT-2 in one file, written apart from the reference solution.

Differences on purpose: var_mean and rsqrt in LayerNorm, x ** 3 and math constants in GELU, the
submodules created in another order (so the random init differs), one-line residual blocks whose
dropout is named drop_resid (as in the book's own package, llms-from-scratch; the book's text says
drop_shortcut: a dropout holds no weights, so its name is the learner's choice), a
greedy loop without softmax, the book's literal top-k code (batch of one), an eos stop by
masked_fill on a 1-D mask (the book's `if idx_next == eos_id` fails on a batch: learn finetune
instruct generates 32 rows at once), and sampling by inverse CDF with torch.rand instead of
torch.multinomial (other draws, same distribution).
"""

import math

import torch
from torch import nn

from stage3_attention import MultiHeadAttention

GPT_CONFIG_124M = dict(
    vocab_size=50257, context_length=1024, emb_dim=768, n_heads=12, n_layers=12, drop_rate=0.1, qkv_bias=False
)


class LayerNorm(nn.Module):
    def __init__(self, emb_dim):
        super().__init__()
        self.shift = nn.Parameter(torch.zeros(emb_dim))
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.eps = 1e-5

    def forward(self, x):
        var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.scale + self.shift


class GELU(nn.Module):
    def forward(self, x):
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
        return x * 0.5 * (1.0 + inner.tanh())


class FeedForward(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        e = cfg["emb_dim"]
        self.layers = nn.Sequential(*[nn.Linear(e, 4 * e), GELU(), nn.Linear(4 * e, e)])

    def forward(self, x):
        return self.layers(x)


class TransformerBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_resid = nn.Dropout(cfg["drop_rate"])
        self.ff = FeedForward(cfg)
        self.att = MultiHeadAttention(
            cfg["emb_dim"], cfg["emb_dim"], cfg["context_length"], cfg["drop_rate"], cfg["n_heads"], qkv_bias=cfg["qkv_bias"]
        )

    def forward(self, x):
        x = x + self.drop_resid(self.att(self.norm1(x)))
        return x + self.drop_resid(self.ff(self.norm2(x)))


class GPTModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        blocks = []
        for _ in range(cfg["n_layers"]):
            blocks.append(TransformerBlock(cfg))
        self.trf_blocks = nn.Sequential(*blocks)

    def forward(self, in_idx):
        positions = torch.arange(in_idx.size(1), device=in_idx.device).unsqueeze(0)
        h = self.drop_emb(self.tok_emb(in_idx) + self.pos_emb(positions))
        for block in self.trf_blocks:
            h = block(h)
        return self.out_head(self.final_norm(h))


@torch.no_grad()
def generate_text_simple(model, idx, max_new_tokens, context_size):
    out = idx
    for _ in range(max_new_tokens):
        window = out if out.size(1) <= context_size else out[:, out.size(1) - context_size :]
        nxt = model(window)[:, -1].argmax(dim=-1)
        out = torch.cat([out, nxt[:, None]], dim=1)
    return out


def _sample(probs):
    """One draw per row by inverse CDF."""
    u = torch.rand(probs.shape[0], 1, device=probs.device)
    cdf = probs.cumsum(dim=-1)
    return (cdf < u * cdf[:, -1:]).sum(dim=-1, keepdim=True).clamp(max=probs.shape[-1] - 1)


def generate(model, idx, max_new_tokens, context_size, temperature=0.0, top_k=None, eos_id=None):
    stopped = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)
    for _ in range(max_new_tokens):
        idx_cond = idx[:, -context_size:]
        with torch.no_grad():
            logits = model(idx_cond)
        logits = logits[:, -1, :]
        if top_k is not None:
            top_logits, _ = torch.topk(logits, top_k)
            min_val = top_logits[:, -1, None]  # (B, 1)
            logits = torch.where(logits < min_val, torch.tensor(float("-inf")).to(logits.device), logits)
        if temperature > 0.0:
            idx_next = _sample(torch.softmax(logits / temperature, dim=-1))
        else:
            idx_next = torch.argmax(logits, dim=-1, keepdim=True)
        if eos_id is not None:
            stopped = stopped | (idx_next[:, 0] == eos_id)
            if stopped.all():
                break
            idx_next = idx_next.masked_fill(stopped[:, None], eos_id)
        idx = torch.cat((idx, idx_next), dim=1)
    return idx
