"""Appendix E as the print book scales it (alpha, not alpha / rank), A drawn from a Gaussian."""

from __future__ import annotations

import torch
from torch import nn


class LoRALayer(nn.Module):
    def __init__(self, in_dim, out_dim, rank, alpha):
        super().__init__()
        self.A = nn.Parameter(torch.randn(in_dim, rank) / rank)
        self.B = nn.Parameter(torch.zeros(rank, out_dim))
        self.alpha = alpha

    def forward(self, x):
        return self.alpha * (x @ self.A) @ self.B  # (..., rank) -> (..., out_dim)


class LinearWithLoRA(nn.Module):
    def __init__(self, linear, rank, alpha):
        super().__init__()
        self.linear = linear
        self.lora = LoRALayer(linear.weight.shape[1], linear.weight.shape[0], rank, alpha)

    def forward(self, x):
        return self.lora(x) + self.linear(x)


def replace_linear_with_lora(model, rank, alpha):
    found = [(name, module) for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    for name, module in found:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LinearWithLoRA(module, rank, alpha))
