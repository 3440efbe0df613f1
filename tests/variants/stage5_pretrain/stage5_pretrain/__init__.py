"""A second way to write stage 5: one module, explicit loops, manual log-softmax, a schedule by
cases, checkpoints without the temporary file. It must pass every check."""

from __future__ import annotations

import math
import pickle
import random

import torch


def text_to_token_ids(text, tokenizer):
    return torch.tensor([tokenizer.encode(text, allowed_special={"<|endoftext|>"})])  # (1, T)


def token_ids_to_text(token_ids, tokenizer):
    return tokenizer.decode(token_ids[0].tolist())


def calc_loss_batch(input_batch, target_batch, model, device):
    logits = model(input_batch.to(device))  # (B, T, V)
    logp = torch.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    picked = logp.gather(-1, target_batch.to(device).unsqueeze(-1))  # (B, T, 1)
    return -picked.mean()


def calc_loss_loader(data_loader, model, device, num_batches=None):
    n = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    if n == 0:
        return float("nan")
    losses = []
    for input_batch, target_batch in data_loader:
        if len(losses) == n:
            break
        losses.append(calc_loss_batch(input_batch, target_batch, model, device).item())
    return sum(losses) / len(losses)


def evaluate_model(model, train_loader, val_loader, device, eval_iter):
    model.train(False)
    try:
        with torch.inference_mode():
            result = (calc_loss_loader(train_loader, model, device, eval_iter),
                      calc_loss_loader(val_loader, model, device, eval_iter))  # fmt: skip
    finally:
        model.train(True)
    return result


def perplexity(loss):
    return float(torch.tensor(loss, dtype=torch.float64).exp())


def bits_per_byte(loss, num_tokens, num_bytes):
    return loss / math.log(2) * (num_tokens / num_bytes)


def generate_and_print_sample(model, tokenizer, device, start_context):
    model.eval()
    ids = text_to_token_ids(start_context, tokenizer).to(device)  # (1, T)
    with torch.no_grad():
        out = ids
        for _ in range(10):
            nxt = model(out[:, -model.pos_emb.weight.shape[0]:])[:, -1].argmax(-1, keepdim=True)  # (1, 1)
            out = torch.cat([out, nxt], 1)  # (1, T + 1)
    print(token_ids_to_text(out, tokenizer))
    model.train()


def _loop(model, train_loader, val_loader, optimizer, device, epochs, eval_freq, eval_iter, start_context, tokenizer, before, after):
    train_losses, val_losses, seen = [], [], []
    tokens = 0
    step = 0
    for _ in range(epochs):
        model.train()
        for x, y in train_loader:
            before(step)
            optimizer.zero_grad()
            calc_loss_batch(x, y, model, device).backward()
            after(step)
            optimizer.step()
            tokens += x.shape[0] * x.shape[1]
            if step % eval_freq == 0:
                t, v = evaluate_model(model, train_loader, val_loader, device, eval_iter)
                train_losses.append(t)
                val_losses.append(v)
                seen.append(tokens)
            step += 1
        generate_and_print_sample(model, tokenizer, device, start_context)
    return train_losses, val_losses, seen


def train_model_simple(model, train_loader, val_loader, optimizer, device, num_epochs, eval_freq, eval_iter, start_context, tokenizer):
    nothing = lambda step: None  # noqa: E731
    return _loop(model, train_loader, val_loader, optimizer, device, num_epochs, eval_freq, eval_iter,
                 start_context, tokenizer, nothing, nothing)  # fmt: skip


def warmup_cosine_lr(step, peak_lr, warmup_steps, total_steps, initial_lr=3e-05, min_lr=1e-6):
    if step >= warmup_steps:
        frac = (step - warmup_steps) / (total_steps - warmup_steps)
        return min_lr + 0.5 * (peak_lr - min_lr) * (1.0 + math.cos(math.pi * frac))
    return initial_lr + (peak_lr - initial_lr) * step / warmup_steps


def train_model(model, train_loader, val_loader, optimizer, device, n_epochs, eval_freq, eval_iter, start_context, tokenizer,
                warmup_steps, initial_lr=3e-05, min_lr=1e-6):  # fmt: skip
    peak = optimizer.param_groups[0]["lr"]
    total = n_epochs * len(train_loader)
    lrs = []

    def before(step):
        lr = warmup_cosine_lr(step, peak, warmup_steps, total, initial_lr, min_lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
        lrs.append(lr)

    def after(step):
        if step >= warmup_steps:
            grads = [p.grad for p in model.parameters() if p.grad is not None]
            norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads))
            scale = min(1.0, 1.0 / (float(norm) + 1e-6))
            for g in grads:
                g.mul_(scale)

    tl, vl, seen = _loop(model, train_loader, val_loader, optimizer, device, n_epochs, eval_freq, eval_iter,
                         start_context, tokenizer, before, after)  # fmt: skip
    return tl, vl, seen, lrs


class _Precision:
    def __init__(self, device, on):
        self.ctx = torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=on)

    def __enter__(self):
        return self.ctx.__enter__()

    def __exit__(self, *exc):
        return self.ctx.__exit__(*exc)


def autocast_context(device, precision="fp32"):
    if precision not in ("fp32", "bf16"):
        raise ValueError(precision)
    return _Precision(device, precision == "bf16")


def train_step(model, micro_batches, optimizer, device, precision="fp32", max_norm=None):
    for p in model.parameters():
        p.grad = None
    losses = []
    for x, y in micro_batches:
        with autocast_context(device, precision):
            loss = calc_loss_batch(x, y, model, device)
        (loss * (1.0 / len(micro_batches))).backward()
        losses.append(loss.item())
    if max_norm:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return sum(losses) / len(losses)


def epoch_batches(dataset, batch_size, seed, epoch, start=0):
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed * 7919 + epoch))
    for b in range(start, len(dataset) // batch_size):
        xs, ys = zip(*(dataset[int(i)] for i in order[b * batch_size:(b + 1) * batch_size]))
        yield torch.stack(xs), torch.stack(ys)  # (batch_size, T)


def get_rng_state():
    return {"torch": torch.get_rng_state(), "python": torch.frombuffer(bytearray(pickle.dumps(random.getstate())), dtype=torch.uint8)}


def set_rng_state(state):
    torch.set_rng_state(state["torch"])
    random.setstate(pickle.loads(bytes(state["python"].tolist())))


def save_checkpoint(path, model, optimizer, step, **extra):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "rng": get_rng_state(), **extra}, path)


def load_checkpoint(path, model, optimizer):
    ckpt = torch.load(path, weights_only=True)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    set_rng_state(ckpt["rng"])
    return ckpt
