"""Appendix E's LoRA: LoRALayer, LinearWithLoRA, replace_linear_with_lora."""

import math

import torch


class LoRALayer(torch.nn.Module):
    """x -> alpha / rank * (x @ A @ B), B zeros at first."""

    def __init__(self, in_dim, out_dim, rank, alpha):
        """LoRALayer(4, 3, 2, 4): A (4, 2), B zeros (2, 3)"""
        super().__init__()
        self.A = torch.nn.Parameter(torch.empty(in_dim, rank))
        torch.nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))  # similar to standard weight initialization
        self.B = torch.nn.Parameter(torch.zeros(rank, out_dim))
        self.alpha = alpha
        self.rank = rank

    def forward(self, x):
        """x [[1., 0.]], A [[1.], [2.]], B [[3., 4.]], alpha 2, rank 1 -> [[6., 8.]]"""
        # The print book scales by alpha alone; its repository (and the lesson) by alpha / rank.
        x = (self.alpha / self.rank) * (x @ self.A @ self.B)
        return x


class LinearWithLoRA(torch.nn.Module):
    """linear(x) + lora(x)."""

    def __init__(self, linear, rank, alpha):
        """LinearWithLoRA(nn.Linear(4, 3), 2, 4).lora.A.shape -> (4, 2)"""
        super().__init__()
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha)

    def forward(self, x):
        """Fresh: the same as linear(x)"""
        return self.linear(x) + self.lora(x)


def replace_linear_with_lora(model, rank, alpha):
    """Every nn.Linear, at any depth, becomes a LinearWithLoRA: the 124M classifier, rank 16 -> 2,666,528 trainable"""
    for name, module in model.named_children():
        if isinstance(module, torch.nn.Linear):
            # Replace the Linear layer with LinearWithLoRA
            setattr(model, name, LinearWithLoRA(module, rank, alpha))
        else:
            # Recursively apply the same function to child modules
            replace_linear_with_lora(module, rank, alpha)
