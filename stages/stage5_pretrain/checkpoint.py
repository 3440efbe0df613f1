"""Stopping and resuming a run bit-exactly: a data order that is a function of (seed, epoch),
the random number generators' states, and a checkpoint that holds everything else
(lessons/stage5_pretrain.md, §9).

A resumed run follows the same loss curve as an uninterrupted one, number for number, only if it
sees the same batches in the same order, draws the same dropout masks, and starts from the same
weights and the same optimizer moments. Each of those is saved here, or recomputed from the step.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch


def epoch_batches(dataset, batch_size: int, seed: int, epoch: int, start: int = 0):
    """Yield the (inputs, targets) batches of one epoch, from batch number `start` on.

    The order is a shuffle drawn from a torch.Generator seeded with (seed, epoch) alone, never
    from the global generator that dropout draws from: a resumed run finds its place from the
    epoch and the position in it. Each batch stacks batch_size windows of the dataset,
    shape (batch_size, T); windows left over after the last full batch wait for another epoch.

    Example (a dataset of 10 windows, batch_size=4): 2 batches per epoch, 8 windows in all, each
    at most once; the same (seed, epoch) always gives the same 2 batches, another epoch another
    order; epoch_batches(dataset, 4, seed, epoch, start=1) yields the second batch only.
    """
    # TODO: order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(...from seed and epoch...)); yield the full batches from number `start` on
    raise NotImplementedError('order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(...from seed and epoch...)); yield the full batches from number `start` on')


def get_rng_state() -> dict:
    """The states of every random number generator a training run draws from.

    "torch" (dropout, torch.randn, multinomial), "python" (the random module) and "numpy"
    (np.random), each as plain tensors, tuples, lists and numbers, so that torch.load can read them
    back with weights_only=True.

    Example: state = get_rng_state(); a = torch.rand(1); set_rng_state(state); torch.rand(1) == a -> True
    """
    # TODO: torch.get_rng_state(), random.getstate(), and np.random.get_state() with its key array as a list
    raise NotImplementedError('torch.get_rng_state(), random.getstate(), and np.random.get_state() with its key array as a list')


def set_rng_state(state: dict) -> None:
    """Put every generator back where get_rng_state found it.

    Example: state = get_rng_state(); x = random.random(); set_rng_state(state); random.random() == x -> True
    """
    # TODO: torch.set_rng_state, random.setstate (tuples, as getstate made them), np.random.set_state (the keys as a uint32 array)
    raise NotImplementedError('torch.set_rng_state, random.setstate (tuples, as getstate made them), np.random.set_state (the keys as a uint32 array)')


def save_checkpoint(path, model, optimizer, step: int, **extra) -> None:
    """Write model, optimizer, step, the generators' states and any `extra` entries to `path`.

    The file is written under another name first and then renamed over `path`, so that a crash
    while saving leaves the previous checkpoint whole. `extra` holds what else the run needs to go
    on (its config, the schedule, the data position, the losses so far).

    Example: save_checkpoint("run/checkpoint.pt", model, optimizer, 500, config=cfg) writes a dict
    with the keys "model", "optimizer", "step" (500), "rng" and "config".
    """
    # TODO: a dict of model.state_dict(), optimizer.state_dict(), step, get_rng_state() and extra; torch.save to a temporary file, then os.replace onto path
    raise NotImplementedError('a dict of model.state_dict(), optimizer.state_dict(), step, get_rng_state() and extra; torch.save to a temporary file, then os.replace onto path')


def load_checkpoint(path, model, optimizer) -> dict:
    """Restore model, optimizer and the generators from `path`; returns the whole checkpoint dict.

    Call it after building the model and the optimizer (building them draws random numbers) and
    right before training goes on: the generators continue exactly where the saved run stopped.

    Example: ckpt = load_checkpoint("run/checkpoint.pt", model, optimizer); ckpt["step"] -> 500, and
    the next dropout mask is the one the uninterrupted run would have drawn.
    """
    # TODO: torch.load(path, map_location="cpu", weights_only=True); load the model's and the optimizer's state dicts; set_rng_state; return the dict
    raise NotImplementedError('torch.load(path, map_location="cpu", weights_only=True); load the model\'s and the optimizer\'s state dicts; set_rng_state; return the dict')
