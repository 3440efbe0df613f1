"""The book's training loops: chapter 5's train_model_simple and appendix D's train_model with
linear warm-up, cosine decay and gradient clipping (lessons/stage5_pretrain.md, §4-§6).

Both loops count steps the book's way: global_step starts at -1 and is 0 during the first batch,
so the evaluations happen after steps 0, eval_freq, 2 * eval_freq, ...
"""

from __future__ import annotations

import math

import torch

from .loss import calc_loss_batch, evaluate_model, text_to_token_ids, token_ids_to_text


def generate_and_print_sample(model, tokenizer, device, start_context: str) -> None:
    """Print 50 greedy tokens after start_context on one line (given: it is the book's helper).

    Runs in eval mode without gradients and leaves the model in train mode.
    """
    model.eval()
    context_size = model.pos_emb.weight.shape[0]
    encoded = text_to_token_ids(start_context, tokenizer).to(device)  # (1, T)
    token_ids = encoded
    with torch.no_grad():
        for _ in range(50):  # greedy, as stage 4's generate_text_simple
            logits = model(token_ids[:, -context_size:])[:, -1, :]  # (1, V)
            token_ids = torch.cat([token_ids, logits.argmax(dim=-1, keepdim=True)], dim=1)  # (1, T + 1)
    print(token_ids_to_text(token_ids, tokenizer).replace("\n", " "))
    model.train()


def train_model_simple(
    model, train_loader, val_loader, optimizer, device, num_epochs: int,
    eval_freq: int, eval_iter: int, start_context: str, tokenizer,
) -> tuple[list[float], list[float], list[int]]:  # fmt: skip
    """Chapter 5's loop: for each batch, zero the gradients, compute the loss, back-propagate, step.

    tokens_seen grows by input_batch.numel() after each step. Every eval_freq steps (global_step
    0, eval_freq, 2 * eval_freq, ...) it calls evaluate_model(..., eval_iter) and records the
    train loss, the val loss and tokens_seen; after each epoch it prints a sample.

    Example: 2 epochs of 3 batches of shape (2, 4), eval_freq=2 -> steps 0..5, evaluations after
    steps 0, 2 and 4, so it returns ([t0, t2, t4], [v0, v2, v4], [8, 24, 40]).
    """
    # TODO: tokens_seen, global_step = 0, -1; per epoch model.train(); per batch zero_grad, loss, backward, step, count; evaluate every eval_freq steps; sample per epoch
    raise NotImplementedError('tokens_seen, global_step = 0, -1; per epoch model.train(); per batch zero_grad, loss, backward, step, count; evaluate every eval_freq steps; sample per epoch')


def warmup_cosine_lr(
    step: int, peak_lr: float, warmup_steps: int, total_steps: int, initial_lr: float = 3e-05, min_lr: float = 1e-6
) -> float:
    """The learning rate of step number `step` (0, 1, ..., total_steps - 1), appendix D's schedule.

    Warm-up, step < warmup_steps: a straight line from initial_lr (at step 0) towards peak_lr,
        lr = initial_lr + step * (peak_lr - initial_lr) / warmup_steps
    Then cosine decay from peak_lr (at step warmup_steps) towards min_lr:
        progress = (step - warmup_steps) / (total_steps - warmup_steps)
        lr = min_lr + (peak_lr - min_lr) * 0.5 * (1 + cos(pi * progress))

    Example (peak_lr=1e-3, warmup_steps=10, total_steps=100, initial_lr=3e-5, min_lr=1e-6):
        step 0 -> 3e-05;  step 5 -> 0.000515;  step 10 -> 0.001 (the peak);
        step 55 -> 0.0005005 (halfway down);  step 99 -> 1.3e-06 (almost min_lr)
    """
    # TODO: lr_increment = (peak_lr - initial_lr) / warmup_steps; linear while step < warmup_steps, else cosine from peak_lr to min_lr
    raise NotImplementedError('lr_increment = (peak_lr - initial_lr) / warmup_steps; linear while step < warmup_steps, else cosine from peak_lr to min_lr')


def train_model(
    model, train_loader, val_loader, optimizer, device, n_epochs: int, eval_freq: int, eval_iter: int,
    start_context: str, tokenizer, warmup_steps: int, initial_lr: float = 3e-05, min_lr: float = 1e-6,
) -> tuple[list[float], list[float], list[int], list[float]]:  # fmt: skip
    """Appendix D's loop: train_model_simple plus a learning-rate schedule and gradient clipping.

    peak_lr is the optimizer's lr when the call starts (optimizer.param_groups[0]["lr"]) and
    total_steps = len(train_loader) * n_epochs. Before each step: global_step += 1, then
    lr = warmup_cosine_lr(global_step, ...) goes into every param group and into track_lrs.
    After backward, from global_step == warmup_steps on (never during warm-up), the gradients are
    clipped to a total norm of 1.0. Evaluations and tokens_seen as in train_model_simple.

    Example (peak lr 1e-3, 1 epoch of 20 batches, warmup_steps=10, eval_freq=5): track_lrs holds 20
    rates, 3e-05 up to 0.000903 over steps 0..9, then 0.001 at step 10, down to 2.5e-05 at step 19;
    the gradients of steps 10..19 are clipped; evaluations after steps 0, 5, 10 and 15.
    """
    # TODO: as train_model_simple, plus: global_step += 1 and set lr = warmup_cosine_lr(...) before each step; clip_grad_norm_(..., max_norm=1.0) after backward once global_step >= warmup_steps
    raise NotImplementedError('as train_model_simple, plus: global_step += 1 and set lr = warmup_cosine_lr(...) before each step; clip_grad_norm_(..., max_norm=1.0) after backward once global_step >= warmup_steps')
