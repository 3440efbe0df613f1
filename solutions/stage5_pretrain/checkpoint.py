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
    # BEGIN SOLUTION: order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(...from seed and epoch...)); yield the full batches from number `start` on
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(len(dataset), generator=generator).tolist()
    for b in range(start, len(dataset) // batch_size):
        windows = [dataset[i] for i in order[b * batch_size : (b + 1) * batch_size]]
        inputs = torch.stack([x for x, _ in windows])  # batch_size x (T,) -> (batch_size, T)
        targets = torch.stack([y for _, y in windows])  # (batch_size, T)
        yield inputs, targets
    # END SOLUTION


def get_rng_state() -> dict:
    """The states of every random number generator a training run draws from.

    "torch" (dropout, torch.randn, multinomial), "python" (the random module) and "numpy"
    (np.random), each as plain tensors, tuples, lists and numbers, so that torch.load can read them
    back with weights_only=True.

    Example: state = get_rng_state(); a = torch.rand(1); set_rng_state(state); torch.rand(1) == a -> True
    """
    # BEGIN SOLUTION: torch.get_rng_state(), random.getstate(), and np.random.get_state() with its key array as a list
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": (name, keys.tolist(), pos, has_gauss, cached_gaussian),
    }
    # END SOLUTION


def set_rng_state(state: dict) -> None:
    """Put every generator back where get_rng_state found it.

    Example: state = get_rng_state(); x = random.random(); set_rng_state(state); random.random() == x -> True
    """
    # BEGIN SOLUTION: torch.set_rng_state, random.setstate (tuples, as getstate made them), np.random.set_state (the keys as a uint32 array)
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))  # a saved tuple may come back as a list
    name, keys, pos, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached_gaussian))
    # END SOLUTION


def save_checkpoint(path, model, optimizer, step: int, **extra) -> None:
    """Write model, optimizer, step, the generators' states and any `extra` entries to `path`.

    The file is written under another name first and then renamed over `path`, so that a crash
    while saving leaves the previous checkpoint whole. `extra` holds what else the run needs to go
    on (its config, the schedule, the data position, the losses so far).

    Example: save_checkpoint("run/checkpoint.pt", model, optimizer, 500, config=cfg) writes a dict
    with the keys "model", "optimizer", "step" (500), "rng" and "config".
    """
    # BEGIN SOLUTION: a dict of model.state_dict(), optimizer.state_dict(), step, get_rng_state() and extra; torch.save to a temporary file, then os.replace onto path
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "rng": get_rng_state(),
        **extra,
    }
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # atomic: the old checkpoint stays whole until the new one is complete
    # END SOLUTION


def load_checkpoint(path, model, optimizer) -> dict:
    """Restore model, optimizer and the generators from `path`; returns the whole checkpoint dict.

    Call it after building the model and the optimizer (building them draws random numbers) and
    right before training goes on: the generators continue exactly where the saved run stopped.

    Example: ckpt = load_checkpoint("run/checkpoint.pt", model, optimizer); ckpt["step"] -> 500, and
    the next dropout mask is the one the uninterrupted run would have drawn.
    """
    # BEGIN SOLUTION: torch.load(path, map_location="cpu", weights_only=True); load the model's and the optimizer's state dicts; set_rng_state; return the dict
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    set_rng_state(checkpoint["rng"])
    return checkpoint
    # END SOLUTION
