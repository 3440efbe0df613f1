"""LoRA, appendix E: a trainable low-rank update added to frozen linear layers.

A LoRA layer adds scale * (x @ A @ B) to a linear layer's output, A of shape (in_dim, rank),
B of shape (rank, out_dim). The print book scales by alpha; the book's repository now scales
by alpha / rank (so that changing the rank does not change the update's size). Both are LoRA;
this course uses alpha / rank, as the repository does.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn


class LoRALayer(nn.Module):
    """The low-rank update alone: x -> (alpha / rank) * (x @ A @ B)."""

    def __init__(self, in_dim, out_dim, rank, alpha):
        """A: (in_dim, rank), random (Kaiming uniform, as nn.Linear); B: (rank, out_dim), zeros.

        Example: LoRALayer(4, 3, rank=2, alpha=4): A.shape == (4, 2), B == zeros(2, 3), so the
        layer outputs zeros until B is trained.
        """
        super().__init__()
        # BEGIN SOLUTION: A random (kaiming_uniform_, a=sqrt(5)), B zeros, both nn.Parameter; keep alpha and rank
        self.A = nn.Parameter(torch.empty(in_dim, rank))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(rank, out_dim))
        self.alpha = alpha
        self.rank = rank
        # END SOLUTION

    def forward(self, x):
        """Example: x = [[1., 0.]], A = [[1.], [2.]], B = [[3., 4.]], alpha 2, rank 1 ->
        2 / 1 * [[1.]] @ [[3., 4.]] = [[6., 8.]]."""
        # BEGIN SOLUTION: (alpha / rank) * (x @ A @ B)
        return (self.alpha / self.rank) * (x @ self.A @ self.B)  # (..., out_dim)
        # END SOLUTION


class LinearWithLoRA(nn.Module):
    """A linear layer plus its LoRA update: x -> linear(x) + lora(x)."""

    def __init__(self, linear, rank, alpha):
        """Example: LinearWithLoRA(nn.Linear(4, 3), 2, 4).lora.A.shape == (4, 2)."""
        super().__init__()
        # BEGIN SOLUTION: keep the linear layer as self.linear; self.lora = LoRALayer(in_features, out_features, rank, alpha)
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha)
        # END SOLUTION

    def forward(self, x):
        """Fresh (B zero): the same output as the linear layer alone."""
        # BEGIN SOLUTION: the linear layer's output plus the LoRA update
        return self.linear(x) + self.lora(x)
        # END SOLUTION


def replace_linear_with_lora(model, rank, alpha):
    """Replace every nn.Linear inside model, at any depth, by LinearWithLoRA, in place.

    Freeze the model first (requires_grad False): the new A and B are then its only trainable
    parameters. Example: the book's 124M classifier with rank 16 -> 2,666,528 trainable.
    """
    # BEGIN SOLUTION: walk named_children; setattr a LinearWithLoRA for each nn.Linear, recurse into the others
    for name, module in model.named_children():
        if isinstance(module, nn.Linear):
            setattr(model, name, LinearWithLoRA(module, rank, alpha))
        else:
            replace_linear_with_lora(module, rank, alpha)
    # END SOLUTION
