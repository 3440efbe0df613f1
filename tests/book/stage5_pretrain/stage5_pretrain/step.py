"""One optimizer update (not in the book; written with the book's pieces): accumulation, bf16, clipping."""

import contextlib

import torch

from .loss import calc_loss_batch


def autocast_context(device, precision="fp32"):
    """bf16 autocast or nothing: with autocast_context("cpu", "bf16"): model(ids).dtype -> bfloat16"""
    if precision == "bf16":
        return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
    elif precision == "fp32":
        return contextlib.nullcontext()
    raise ValueError(f"unknown precision {precision!r}: use 'fp32' or 'bf16'")


def train_step(model, micro_batches, optimizer, device, precision="fp32", max_norm=None):
    """Losses 3.0 and 5.0 on two micro-batches -> one update as from their union, returns 4.0"""
    optimizer.zero_grad()
    accumulation_steps = len(micro_batches)
    step_loss = 0.0
    for input_batch, target_batch in micro_batches:
        with autocast_context(device, precision):
            loss = calc_loss_batch(input_batch, target_batch, model, device)
        (loss / accumulation_steps).backward()  # the gradient of the mean loss over the micro-batches
        step_loss += loss.item() / accumulation_steps
    if max_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)
    optimizer.step()
    return step_loss
