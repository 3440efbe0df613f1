"""Saving and resuming, the way chapter 5 saves ("model_and_optimizer.pth"), plus the data order and
the random generators, which a bit-exact resume needs and the book does not save."""

import random

import numpy as np
import torch


def epoch_batches(dataset, batch_size, seed, epoch, start=0):
    """The batches of one epoch in a (seed, epoch) order, from batch `start`: 10 windows, batch 4 -> 2 batches"""
    generator = torch.Generator()
    generator.manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(len(dataset), generator=generator).tolist()
    num_batches = len(dataset) // batch_size
    for b in range(start, num_batches):
        items = [dataset[i] for i in order[b * batch_size : (b + 1) * batch_size]]
        input_batch = torch.stack([inputs for inputs, _ in items])  # (batch_size, T)
        target_batch = torch.stack([targets for _, targets in items])  # (batch_size, T)
        yield input_batch, target_batch


def get_rng_state():
    """torch, random and numpy states as plain data: set_rng_state(get_rng_state()) replays the draws"""
    numpy_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": [numpy_state[0], torch.from_numpy(numpy_state[1].astype(np.int64)), *numpy_state[2:]],
    }


def set_rng_state(state):
    """Undo the draws since get_rng_state: x = random.random() is drawn again"""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))


def save_checkpoint(path, model, optimizer, step, **extra):
    """save_checkpoint(path, model, optimizer, 500, config=cfg): keys model, optimizer, step, rng, config"""
    # The book saves "model_state_dict" and "optimizer_state_dict"; `learn` reads "model" and "config".
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "rng": get_rng_state()}
    torch.save({**state, **extra}, path)


def load_checkpoint(path, model, optimizer):
    """The checkpoint dict, with model, optimizer and generators restored: ["step"] -> 500"""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    set_rng_state(checkpoint["rng"])
    return checkpoint
