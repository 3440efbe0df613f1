"""Probes for `learn pretrain` and `learn generate`: they run in the worker, on the learner's code.

The learner's package handed to the probes is stage5_pretrain; the earlier stages are imported by
name from the same tree: BPETokenizer (stage 1), create_dataloader_v1 (stage 2), GPTModel and
generate (stage 4), calc_loss_batch / calc_loss_loader / text_to_token_ids / token_ids_to_text
(stage 5). What is ours: the loop's order, the time budget, and speed settings that leave the
maths alone (bf16 autocast, fused AdamW, threads).

Where the results go. The worker runs on a temporary copy of the tree, and as root as a user of
its own with paths hidden (learn/worker/sandbox.py), so nothing it writes is sure to survive or
even to be allowed. The probes therefore write no files: the checkpoint and the tokenizer travel
back as bytes (plain data, learn/wire.py), in the result and in "checkpoint" progress events, and
the CLI (learn/cli/pretrain.py) writes the run folder in its own process.

Progress events (learn.worker.main.emit), read by the CLI's progress bar:

    {"event": "phase", "message": "..."}
    {"event": "step", "step", "total_steps", "loss", "lr", "tokens_per_second", "eta"}
    {"event": "checkpoint", "step", "checkpoint": bytes}     every CHECKPOINT_EVERY seconds
"""

from __future__ import annotations

import importlib
import io
import math
import os
import tempfile
import time

from learn.worker.main import emit

SPECIAL = "<|endoftext|>"
CHECKPOINT_EVERY = 60.0  # seconds between checkpoints sent to the CLI, so Ctrl-C loses little
WARMUP = 0.05  # share of the steps spent warming the learning rate up
EVAL_BATCHES = 20  # validation batches of the final evaluation


class BadInput(AssertionError):
    """Input that cannot train (text too short for one batch, a corrupt checkpoint): one line.
    An AssertionError, so the worker sends its message alone, as for a probe's expect()."""


def _tokenizer_bytes(tok) -> bytes:
    """BPETokenizer.save writes a file; read it back as bytes for the CLI."""
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        tok.save(path)
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.unlink(path)


def _tokenizer_from_bytes(data: bytes):
    stage1 = importlib.import_module("stage1_tokenizer")
    fd, path = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    try:
        return stage1.BPETokenizer.load(path)
    finally:
        os.unlink(path)


def _tokenizer(kind: str, vocab_size: int, train_text: str, saved: bytes | None):
    """(tokenizer, vocab size, bytes to save or None): the learner's BPE or GPT-2's."""
    if kind == "gpt2":
        import tiktoken

        try:
            return tiktoken.get_encoding("gpt2"), 50257, None
        except Exception as e:  # no network and no cached files
            raise BadInput(f"GPT-2's tokenizer files could not be loaded ({type(e).__name__}); use --tokenizer own") from None
    if saved is not None:  # a resumed run keeps its tokenizer
        tok = _tokenizer_from_bytes(saved)
        return tok, len(tok.vocab), saved
    emit("phase", message=f"training your BPE tokenizer (vocab {vocab_size:,})")
    tok = importlib.import_module("stage1_tokenizer").BPETokenizer()
    try:
        tok.train(train_text, vocab_size, special_tokens=[SPECIAL])
    except ValueError as e:  # too few distinct pairs for that many merges
        raise BadInput(f"the text is too small for a vocabulary of {vocab_size:,} ({e}); give --vocab-size a smaller number") from None
    return tok, len(tok.vocab), _tokenizer_bytes(tok)


def _lr(step: int, total: int, peak: float) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak."""
    warmup = max(1, int(WARMUP * total))
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def probe_pretrain(learner, text: str, config: dict, train: dict, tokenizer: str, resume: dict | None = None) -> dict:
    """Train the learner's GPTModel on `text` (the last 10% of its characters validate) and return
    {"summary": {...}, "checkpoint": bytes, "tokenizer": bytes | None, "losses": [[step, loss]],
    "samples": str}. `train`: batch_size, lr, weight_decay, max_steps, max_seconds, seed, threads.
    `resume`: a previous result's {"checkpoint", "tokenizer"}."""
    import torch

    stage2 = importlib.import_module("stage2_data")
    stage4 = importlib.import_module("stage4_model")
    started = time.monotonic()
    if train.get("threads"):
        torch.set_num_threads(int(train["threads"]))
    torch.manual_seed(train["seed"])
    split = int(len(text) * 0.9)
    train_text, val_text = text[:split], text[split:]
    tok, vocab_size, tok_bytes = _tokenizer(tokenizer, config["vocab_size"], train_text, (resume or {}).get("tokenizer"))
    config = {**config, "vocab_size": vocab_size}
    ctx, batch = config["context_length"], train["batch_size"]

    def loader(part: str, shuffle: bool, drop_last: bool):
        return stage2.create_dataloader_v1(part, batch_size=batch, max_length=ctx, stride=ctx, shuffle=shuffle,
                                           drop_last=drop_last, num_workers=0, tokenizer=tok)  # fmt: skip

    try:
        train_loader = loader(train_text, True, True)
        val_loader = loader(val_text, False, False)
    except (ValueError, RuntimeError) as e:
        raise BadInput(f"the text is too short for one window of {ctx} tokens ({e})") from None
    if len(train_loader) == 0 or len(val_loader) == 0:
        raise BadInput(f"the text is too short for one batch of {batch} x {ctx} tokens; give a longer text")

    model = stage4.GPTModel(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=train["lr"], weight_decay=train["weight_decay"], fused=True)  # one kernel for all parameters
    step, tokens_seen, losses = 0, 0, []
    if resume is not None:
        try:
            state = torch.load(io.BytesIO(resume["checkpoint"]), weights_only=True)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        except Exception as e:
            raise BadInput(f"the checkpoint cannot be read ({type(e).__name__}): start a new run without --resume") from None
        step, tokens_seen, losses = state["step"], state["tokens_seen"], state["losses"]

    def checkpoint() -> bytes:
        buffer = io.BytesIO()
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "config": config,
                    "step": step, "tokens_seen": tokens_seen, "losses": losses}, buffer)  # fmt: skip
        return buffer.getvalue()

    # The schedule's length: --max-steps, or what --max-seconds allows at the speed of the first steps.
    total = train["max_steps"] or 10**9
    deadline = started + train["max_seconds"] if train["max_seconds"] else math.inf
    loop_start, first_step, last_save = time.monotonic(), step, time.monotonic()
    model.train()
    while step < total and time.monotonic() < deadline:
        for x, y in train_loader:
            if step >= total or time.monotonic() >= deadline:
                break
            lr = _lr(step, total, train["lr"])
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16):  # bf16 matmuls: about twice fp32's speed on CPU
                loss = learner.calc_loss_batch(x, y, model, "cpu")
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            tokens_seen += x.numel()
            losses.append([step, loss.item()])
            elapsed = time.monotonic() - loop_start
            speed = (step - first_step) * x.numel() / max(elapsed, 1e-9)
            if train["max_steps"] is None and step - first_step == 10 and math.isfinite(deadline):
                total = step + max(1, int((deadline - time.monotonic()) * speed / x.numel()))  # fix the cosine's length
            eta = min((total - step) * x.numel() / speed, max(0.0, deadline - time.monotonic()))
            emit("step", step=step, total_steps=total if total < 10**9 else None, loss=losses[-1][1], lr=lr,
                 tokens_per_second=speed, eta=eta)  # fmt: skip
            if time.monotonic() - last_save > CHECKPOINT_EVERY:
                emit("checkpoint", step=step, checkpoint=checkpoint())
                last_save = time.monotonic()
    seconds = time.monotonic() - loop_start

    emit("phase", message="evaluating")
    model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        val_loss = learner.calc_loss_loader(val_loader, model, "cpu", num_batches=EVAL_BATCHES)
        train_loss = learner.calc_loss_loader(train_loader, model, "cpu", num_batches=EVAL_BATCHES)
    val_batches = min(EVAL_BATCHES, len(val_loader))
    val_tokens = sum(y.numel() for _, (_, y) in zip(range(val_batches), val_loader))  # the tokens the loss averaged
    val_bytes = len(tok.decode([int(t) for _, (_, y) in zip(range(val_batches), val_loader) for t in y.flatten()]).encode("utf-8"))
    summary = {
        "val_loss": val_loss,
        "val_ppl": math.exp(min(val_loss, 50.0)),
        "val_bpb": val_loss * val_tokens / (math.log(2) * max(1, val_bytes)),  # nats/token -> bits/byte
        "train_loss": train_loss,
        "tokens_per_second": (step - first_step) * batch * ctx / max(seconds, 1e-9),
        "steps": step,
        "tokens_seen": tokens_seen,
        "seconds": round(time.monotonic() - started, 2),
        "parameters": sum(p.numel() for p in model.parameters()),
        "config": config,
    }
    return {"summary": summary, "checkpoint": checkpoint(), "tokenizer": tok_bytes, "losses": losses,
            "samples": _sample(stage4, model, tok, ctx, "\n", 200, 0.8, 40, train["seed"])}  # fmt: skip


def _sample(stage4, model, tok, ctx: int, prompt: str, max_new_tokens: int, temperature: float, top_k, seed: int) -> str:
    import torch

    torch.manual_seed(seed)
    idx = importlib.import_module("stage5_pretrain").text_to_token_ids(prompt, tok)  # (1, T)
    out = stage4.generate(model, idx, max_new_tokens=max_new_tokens, context_size=ctx, temperature=temperature, top_k=top_k)
    return importlib.import_module("stage5_pretrain").token_ids_to_text(out, tok)


def probe_generate(learner, checkpoint: bytes, tokenizer: bytes | None, prompt: str, max_new_tokens: int,
                   temperature: float, top_k: int | None, seed: int) -> str:  # fmt: skip
    """The learner's generate, from a run's checkpoint and tokenizer (None: GPT-2's)."""
    import torch

    stage4 = importlib.import_module("stage4_model")
    try:
        state = torch.load(io.BytesIO(checkpoint), weights_only=True)
        model = stage4.GPTModel(state["config"])
        model.load_state_dict(state["model"])
    except Exception as e:
        raise BadInput(f"the checkpoint cannot be read ({type(e).__name__})") from None
    tok = _tokenizer_from_bytes(tokenizer) if tokenizer is not None else _tokenizer("gpt2", 0, "", None)[0]
    model.eval()
    return _sample(stage4, model, tok, state["config"]["context_length"], prompt, max_new_tokens, temperature, top_k, seed)
