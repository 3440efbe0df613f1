"""One optimizer update done well: gradient accumulation, mixed precision, clipping
(lessons/stage5_pretrain.md, §7-§8).

A training run calls train_step once per update of the weights, from k
micro-batches, optionally under bf16 autocast, optionally with the gradients clipped.
"""

from __future__ import annotations

import contextlib

import torch

from .loss import calc_loss_batch


def autocast_context(device, precision: str = "fp32"):
    """The context to run forward passes in: bf16 autocast for "bf16", nothing for "fp32".

    Under torch.autocast the matrix multiplications compute in bfloat16 while the weights stay
    float32 (the "master weights" the optimizer updates); any other precision is a ValueError.

    Example:
        with autocast_context("cpu", "bf16"):
            model(ids).dtype            -> torch.bfloat16   (the logits of the last nn.Linear)
        next(model.parameters()).dtype  -> torch.float32    (always)
        autocast_context("cpu", "fp16") -> ValueError
    """
    # TODO: "bf16": torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16); "fp32": contextlib.nullcontext(); else ValueError
    raise NotImplementedError('"bf16": torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16); "fp32": contextlib.nullcontext(); else ValueError')


def train_step(
    model, micro_batches, optimizer, device, precision: str = "fp32", max_norm: float | None = None
) -> float:
    """One update of the weights from k = len(micro_batches) (input, target) pairs.

    Gradients add up over backward calls, so dividing each micro-batch's loss by k makes the summed
    gradient the gradient of the mean loss: the same update as one batch k times as large.
    Forward passes run in autocast_context(device, precision); after the last backward, with
    max_norm set, the gradients are clipped to that total norm; then optimizer.step().
    Returns the mean loss of the k micro-batches (a float).

    Example: micro_batches [(x1, y1), (x2, y2)] of shape (4, T) each give the same weights, up to
    float rounding, as [(torch.cat([x1, x2]), torch.cat([y1, y2]))] of shape (8, T); if their
    losses are 3.0 and 5.0 it returns 4.0.
    """
    # TODO: zero_grad; for each micro-batch: (loss / k).backward() in autocast_context; clip if max_norm; optimizer.step(); return the mean loss
    raise NotImplementedError('zero_grad; for each micro-batch: (loss / k).backward() in autocast_context; clip if max_norm; optimizer.step(); return the mean loss')
