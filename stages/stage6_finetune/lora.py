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
        # TODO: A random (kaiming_uniform_, a=sqrt(5)), B zeros, both nn.Parameter; keep alpha and rank
        raise NotImplementedError('A random (kaiming_uniform_, a=sqrt(5)), B zeros, both nn.Parameter; keep alpha and rank')

    def forward(self, x):
        """Example: x = [[1., 0.]], A = [[1.], [2.]], B = [[3., 4.]], alpha 2, rank 1 ->
        2 / 1 * [[1.]] @ [[3., 4.]] = [[6., 8.]]."""
        # TODO: (alpha / rank) * (x @ A @ B)
        raise NotImplementedError('(alpha / rank) * (x @ A @ B)')


class LinearWithLoRA(nn.Module):
    """A linear layer plus its LoRA update: x -> linear(x) + lora(x)."""

    def __init__(self, linear, rank, alpha):
        """Example: LinearWithLoRA(nn.Linear(4, 3), 2, 4).lora.A.shape == (4, 2)."""
        super().__init__()
        # TODO: keep the linear layer as self.linear; self.lora = LoRALayer(in_features, out_features, rank, alpha)
        raise NotImplementedError('keep the linear layer as self.linear; self.lora = LoRALayer(in_features, out_features, rank, alpha)')

    def forward(self, x):
        """Fresh (B zero): the same output as the linear layer alone."""
        # TODO: the linear layer's output plus the LoRA update
        raise NotImplementedError("the linear layer's output plus the LoRA update")


def replace_linear_with_lora(model, rank, alpha):
    """Replace every nn.Linear inside model, at any depth, by LinearWithLoRA, in place.

    Freeze the model first (requires_grad False): the new A and B are then its only trainable
    parameters. Example: the book's 124M classifier with rank 16 -> 2,666,528 trainable.
    """
    # TODO: walk named_children; setattr a LinearWithLoRA for each nn.Linear, recurse into the others
    raise NotImplementedError('walk named_children; setattr a LinearWithLoRA for each nn.Linear, recurse into the others')
