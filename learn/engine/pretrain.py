"""The probes behind `learn pretrain` and `learn generate`: they run in the worker, on the learner's code.

Everything that trains is the learner's: their BPETokenizer (stage 1), GPTDatasetV1 (stage 2),
GPTModel and generate (stage 4), and from stage 5 epoch_batches, warmup_cosine_lr, train_step
(accumulation, bf16 autocast, clipping), evaluate_model, perplexity, bits_per_byte,
save_checkpoint and load_checkpoint. What is ours: the order of the loop, the time budget, the
progress events, and settings that leave the maths alone (fused AdamW, threads).

Where the results go. The worker runs on a temporary copy of the tree, and as root as a user of
its own with paths hidden (learn/worker/sandbox.py), so nothing it writes is sure to survive or
even to be allowed. So the tokenizer travels back as bytes (plain data, learn/shared/wire.py), and the
checkpoint, in the result and in "checkpoint" events, as {"file": path}: a file in the worker's
home (its TMPDIR) that the CLI (learn/cli/pretrain.py) copies out at once, because a GPT-2-sized
one (1.5 GB with the optimizer's moments) is more than a message carries; the CLI writes the run
folder in its own process. What comes in that is large, a checkpoint to resume and a token file
(--data X.bin, learn/engine/corpus.py), comes as a file descriptor the CLI opened: {"fd": n}.

Progress events (learn.shared.protocol.emit), read by the CLI's progress bar:

    {"event": "phase", "message", "estimate" (seconds: when encoding a long text; else absent or None)}
    {"event": "merges", "done", "total"}    while the learner's tokenizer trains, if its `merges` grows as it learns
    {"event": "step", "step", "total_steps", "loss", "lr", "tokens_per_second", "eta", "progress" (0 to 1: of the
     budget's seconds when it sizes the schedule, else of the steps), "mfu" (None off a GPU)}
    {"event": "eval", "step", "tokens_seen", "train_loss", "val_loss", "val_ppl", "val_bpb", "batches"}
    {"event": "checkpoint", "step", "checkpoint": {"file": path}}     every CHECKPOINT_EVERY seconds

Where it trains (learn/engine/distributed.py): on --device (auto: CUDA, MPS or the CPU), and with
several processes under torchrun each worker is one rank of PyTorch's DistributedDataParallel:
it keeps its rows of every batch, the gradients are averaged across ranks, and only rank 0
returns the checkpoint and writes samples.

Stopping. SIGUSR1 (the CLI sends it on Ctrl-C) ends the loop after the current step; the probe then
returns a checkpoint of that step with "stopped": True and no final evaluation, and a run resumed
from it (resume=...) follows the uninterrupted run's losses number for number: the data order is a
function of (seed, epoch), and the checkpoint holds weights, optimizer moments, step, schedule and
the random generators.
"""

from __future__ import annotations

import importlib
import math
import os
import time

import torch

from learn.engine import corpus, distributed
from learn.engine.budget import Budget, lr_at, slowdown
from learn.engine.calls import LearnerError, brief, call, number, returned, sized, two_numbers
from learn.engine.common import BadInput, Stop
from learn.engine.loading import encoding_seconds, load_model, load_tokenizer, make_tokenizer
from learn.engine.transfer import from_bytes, to_file
from learn.shared.protocol import emit

CHECKPOINT_EVERY = 60.0  # seconds between checkpoints sent to the CLI: a crash loses at most this
EVALS = 10  # evaluations in a run whose length is known
EVAL_SHARE = 0.1  # with --max-seconds, the evaluations' share of the time left (fewer batches each in a short run)
STEP_EVENTS = 0.2  # seconds between step events: the bar needs no more
CALIBRATION_STEPS = 10  # with --max-seconds, the schedule's length is fixed from these steps' speed
SAMPLE_PROMPTS = ("\n", "The ", "ROMEO:")
SAMPLE_TOKENS = 200  # new tokens per sample


def fused_adamw(device: str) -> bool:
    """Whether AdamW runs as one kernel over all parameters (the same maths, faster): torch has that
    kernel on CUDA in every release we support, on the CPU and MPS only from 2.4."""
    return device == "cuda" or torch.__version__ >= (2, 4)


def _in_order(dataset, batch_size: int, limit: int | None = None) -> list:
    """The dataset's windows in order, as full (inputs, targets) batches: for evaluation."""
    count = len(dataset) // batch_size if limit is None else min(limit, len(dataset) // batch_size)
    out = []
    for b in range(count):
        windows = [dataset[i] for i in range(b * batch_size, (b + 1) * batch_size)]
        out.append((torch.stack([x for x, _ in windows]), torch.stack([y for _, y in windows])))  # (B, T) each
    return out


def _bytes_of(batches: list, tok) -> int:
    """UTF-8 bytes of the text the batches' targets spell: the denominator of bits per byte."""
    ids = [int(t) for _, y in batches for t in y.flatten()]
    text = call(tok.decode, ids)
    if not isinstance(text, str):
        raise returned(tok.decode, text, "a str")
    return max(1, len(text.encode("utf-8")))


def probe_pretrain(learner, text: str, config: dict, train: dict, tokenizer: str,
                   saved_tokenizer: bytes | None = None, resume: dict | None = None, tokens: dict | None = None) -> dict:  # fmt: skip
    """Train the learner's GPTModel on `text`; the last 10 % of its characters validate.

    config: GPTModel's config (vocab_size is replaced by the tokenizer's size).
    train: batch_size, accumulation, lr, min_lr, warmup_steps, weight_decay, precision, max_steps,
        max_seconds (the budget of training, the final evaluation and the samples, counted once the
        text is encoded, or None), stop_at (a step to pause at, or None), seed, threads,
        device, compile.
    resume: {"fd": n} of a checkpoint to go on from; tokens: {"fd": n} of a token file to train on
        instead of `text` (learn/engine/corpus.py).
    Returns {"stopped", "checkpoint": {"file": path} | None, "tokenizer": bytes | None, "history",
    "summary", "samples"}; summary and samples are None for a stopped run, the checkpoint None on
    every rank but 0. The summary's "time" says where this command's seconds went.
    """
    stop = Stop()
    place = distributed.Place(train.get("device", "cpu"), train.get("compile", False))
    device = place.device
    stage2, stage4 = importlib.import_module("stage2_data"), importlib.import_module("stage4_model")
    torch.set_num_threads(int(train.get("threads") or os.cpu_count() or 1))
    split = int(len(text) * 0.9)  # as nanoGPT splits Tiny Shakespeare, so that figures compare
    train_text, val_text = text[:split], text[split:]
    tick = time.monotonic()  # training and applying the tokenizer are outside the budget: a plain BPE takes minutes
    tok, tok_bytes = make_tokenizer(tokenizer, config["vocab_size"], train_text, saved_tokenizer)
    if place.world > 1 and tok_bytes is not None:  # each rank trained its own; rank 0's is the run's
        tok_bytes = place.same_bytes(tok_bytes)
        tok = load_tokenizer(tok_bytes)
    precision, why = distributed.pick_precision(train["precision"], device)
    if why:
        emit("phase", message=why)
    train = {**train, "precision": precision}
    config = {**config, "vocab_size": tok.n_vocab if tokenizer == "gpt2" else len(tok.vocab)}
    ctx, batch, k, seed = config["context_length"], train["batch_size"], train["accumulation"], train["seed"]

    if tokens is None:
        emit("phase", message=f"encoding the text ({len(text):,} characters)", estimate=encoding_seconds(tok, text))
        train_set = call(stage2.GPTDatasetV1, train_text, tok, max_length=ctx, stride=ctx)
        val_set = call(stage2.GPTDatasetV1, val_text, tok, max_length=ctx, stride=ctx)
    else:
        train_set, val_set = corpus.windows(tokens, ctx)
    per_epoch = sized(stage2.GPTDatasetV1, train_set) // batch
    if per_epoch == 0 or sized(stage2.GPTDatasetV1, val_set) < place.world:
        raise BadInput(f"the text is too short: {len(train_set)} training and {len(val_set)} validation windows of {ctx} tokens, "
                       f"and a batch takes {batch}: give a longer text, or a smaller --batch-size or --context-length")  # fmt: skip
    val_batch = min(batch, len(val_set) - len(val_set) % place.world)  # a short text (the book's The Verdict) validates on smaller batches
    val_batches = _in_order(val_set, val_batch)  # the final evaluation: all of it
    eval_iter = min(train.get("eval_batches", 8), len(val_batches))
    eval_train, eval_val = _in_order(train_set, val_batch, eval_iter), val_batches[:eval_iter]
    # One conversion to bits per byte, by the whole validation text's bytes per token: equal losses read
    # as equal bits per byte, whichever batches an evaluation covers (the final one covers them all).
    val_tokens, val_bytes = len(val_batches) * val_batch * ctx, _bytes_of(val_batches, tok)
    eval_train, eval_val, val_batches = ([place.shard(b) for b in part] for part in (eval_train, eval_val, val_batches))
    seconds = {"tokenizer": time.monotonic() - tick, "training": 0.0, "evaluations": 0.0, "final_evaluation": 0.0,
               "samples": 0.0}  # where this command's time goes, for summary.json

    torch.manual_seed(seed)
    model = call(stage4.GPTModel, config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=train["lr"], weight_decay=train["weight_decay"],
                                  fused=fused_adamw(device))  # fmt: skip
    state = {"step": 0, "tokens_seen": 0, "total_steps": train["max_steps"], "warmup_steps": train["warmup_steps"],
             "train_seconds": 0.0, "losses": [], "evals": [], "lrs": []}  # fmt: skip
    if resume is not None:
        try:
            saved = from_bytes(resume, lambda path: call(learner.load_checkpoint, path, model, optimizer), ".pt")
        except LearnerError as e:  # a corrupt file, another model's, or the learner's bug: the line says which
            raise LearnerError(f"the checkpoint cannot be read, or is not of this model: {e} (or start a new run without --resume)",
                               e.log) from None  # fmt: skip
        if not isinstance(saved, dict) or not set(state) <= set(saved):
            raise returned(learner.load_checkpoint, saved, f"a dict with the keys save_checkpoint saved: {', '.join(state)}")
        state.update({key: saved[key] for key in state})
    trained = place.wrap(model, k)  # what train_step runs: DDP over the model with several ranks
    flops = place.flops_per_token(model, config)
    if state["total_steps"] is not None:
        state["warmup_steps"] = min(state["warmup_steps"], max(1, state["total_steps"] // 5))

    def checkpoint() -> dict:
        extra = {key: value for key, value in state.items() if key != "step"}
        return to_file(lambda path: call(learner.save_checkpoint, path, model, optimizer, state["step"], config=config, **extra), ".pt")

    def evaluate() -> None:
        tick = time.monotonic()
        with call(learner.autocast_context, device, train["precision"]):
            losses = call(learner.evaluate_model, model, eval_train, eval_val, device, eval_iter)
        train_loss, val_loss = place.mean(two_numbers(learner.evaluate_model, losses))
        budget.record_evaluation(time.monotonic() - tick, 2 * eval_iter)
        seconds["evaluations"] += time.monotonic() - tick
        state["evals"].append([state["step"], state["tokens_seen"], train_loss, val_loss])
        emit("eval", step=state["step"], tokens_seen=state["tokens_seen"], train_loss=train_loss, val_loss=val_loss, batches=eval_iter,
             **measures(learner, val_loss, val_tokens, val_bytes))  # fmt: skip

    def evaluate_on(n: int) -> None:
        """Evaluations from now on take the first n batches of each split: a short run cannot afford more."""
        nonlocal eval_iter, eval_train, eval_val
        eval_iter, eval_train, eval_val = n, eval_train[:n], eval_val[:n]
        budget.eval_batches, budget.final_batches = 2 * n, len(val_batches) + n

    def stream(first: int):
        """Training batches from number `first` on, epoch after epoch, each epoch in its own order."""
        epoch, start = divmod(first, per_epoch)
        while True:
            yield from call(learner.epoch_batches, train_set, batch, seed, epoch, start)
            epoch, start = epoch + 1, 0

    batches = stream(state["step"] * k)
    limit = train.get("max_seconds")
    timed = state["total_steps"] is None and limit is not None  # the budget sizes the schedule
    deadline = math.inf if limit is None else time.time() + limit  # the budget's clock starts now
    budget = Budget(deadline, final_batches=len(val_batches) + eval_iter, eval_batches=2 * eval_iter,
                    sample_tokens=len(SAMPLE_PROMPTS) * SAMPLE_TOKENS, batch_size=batch)  # fmt: skip
    started, first_step, last_save, last_event = time.monotonic(), state["step"], time.monotonic(), 0.0
    every = None  # steps between evaluations, fixed once the schedule's length is first known
    planned = state["total_steps"]  # the first plan's steps, for summary.json
    plan = None  # when the budget sizes the schedule: (step, train_seconds, seconds per step assumed)
    peaked = bool(state["lrs"]) and state["step"] > state["warmup_steps"]  # the last step's LR was past warm-up
    emit("phase", message="training")
    model.train()
    while state["total_steps"] is None or state["step"] < state["total_steps"]:
        if place.any(stop.requested or state["step"] == train.get("stop_at") or budget.out_of_time()):
            break
        step = state["step"]
        place.seed_step(seed, step)
        lr = lr_at(learner.warmup_cosine_lr, step, train, state, peaked)
        peaked = step >= state["warmup_steps"]  # before calibration may shorten the warm-up (the LR then jumps to the peak)
        for group in optimizer.param_groups:
            group["lr"] = lr
        micro = [place.shard(next(batches)) for _ in range(k)]  # this rank's rows of k global batches
        tick = time.monotonic()
        clip = 1.0 if step >= state["warmup_steps"] else None  # clip after warm-up, as appendix D
        loss = call(learner.train_step, trained, micro, optimizer, device, train["precision"], max_norm=clip)
        loss = place.mean(number(learner.train_step, loss))
        budget.record_step((time.monotonic() - tick) / k)
        state["train_seconds"] += time.monotonic() - tick
        state["step"] += 1
        state["tokens_seen"] += k * batch * ctx
        state["losses"].append([state["step"], state["tokens_seen"], float(loss)])
        state["lrs"].append(lr)
        done = state["step"] - first_step
        speed = done * k * batch * ctx / max(time.monotonic() - started, 1e-9)  # evaluations included
        if timed and done == CALIBRATION_STEPS:
            evaluate_on(place.same(min(eval_iter, max(1, budget.evaluation_batches(EVALS, EVAL_SHARE) // 2))))  # a batch of each split
            state["total_steps"] = planned = place.same(state["step"] + budget.steps_left(EVALS, k))  # rank 0's
            plan = (state["step"], state["train_seconds"], k * budget.step_seconds)
            state["warmup_steps"] = min(state["warmup_steps"], max(1, state["total_steps"] // 5))
        total = state["total_steps"]
        if total is not None and every is None:
            every = max(1, total // EVALS)  # sizing the run again moves its end, not its evaluations
        if total is not None and (state["step"] % every == 0 or state["step"] == total):
            evaluate()
            if timed and state["step"] < total:  # the machine may have slowed down or sped up: size the rest again
                state["total_steps"] = total = place.same(budget.resized(state["step"], total, (total - state["step"]) // every, k))
        if time.monotonic() - last_event > STEP_EVENTS or state["step"] == total:
            # Timed, the run ends at the deadline whatever its schedule's length: the bar and the ETA follow the clock,
            # which is steady, not the steps left, which move each time the schedule is sized again.
            left = (total - state["step"]) * k * batch * ctx / speed if total else math.inf
            eta = budget.seconds_left() if timed else min(left, budget.seconds_left())
            progress = 1 - budget.seconds_left() / limit if timed else state["step"] / total if total else None
            emit("step", step=state["step"], total_steps=total, loss=float(loss), lr=lr, tokens_per_second=speed,
                 eta=eta, progress=progress, mfu=place.mfu(flops, speed))  # fmt: skip
            last_event = time.monotonic()
        if place.main and time.monotonic() - last_save > CHECKPOINT_EVERY:
            emit("checkpoint", step=state["step"], checkpoint=checkpoint())
            last_save = time.monotonic()

    seconds["training"] = time.monotonic() - started
    finished = state["total_steps"] is not None and state["step"] >= state["total_steps"] or place.any(budget.out_of_time())
    result = {"stopped": not finished, "checkpoint": checkpoint() if place.main else None, "tokenizer": tok_bytes,
              "summary": None, "samples": None, "history": {"losses": state["losses"], "evals": state["evals"], "lrs": state["lrs"]}}  # fmt: skip
    if not finished:
        place.close()
        return result
    emit("phase", message="evaluating on the whole validation text")
    tick = time.monotonic()
    with call(learner.autocast_context, device, train["precision"]):
        losses = call(learner.evaluate_model, model, eval_train, val_batches, device, len(val_batches))
    train_loss, val_loss = place.mean(two_numbers(learner.evaluate_model, losses))
    seconds["final_evaluation"] = time.monotonic() - tick
    place.close()
    tokens_per_second = state["tokens_seen"] / max(state["train_seconds"], 1e-9)  # a resumed run: its steps and time before too
    result["summary"] = {
        "val_loss": val_loss,
        **measures(learner, val_loss, val_tokens, val_bytes),
        "train_loss": train_loss,
        "tokens_per_second": tokens_per_second,
        "steps": state["step"],
        "tokens_seen": state["tokens_seen"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "config": {**config, **{key: train[key] for key in TRAIN_KEYS}, "total_steps": state["total_steps"],
                   "warmup_steps": state["warmup_steps"], **place.facts(), "mfu": place.mfu(flops, tokens_per_second)},  # fmt: skip
        "planned_steps": planned,
        "slowdown": slowdown(plan, state["step"], state["train_seconds"]),
        "time": seconds,  # this command's seconds (not a resumed run's before); the samples' are added below
    }
    if not place.main:
        return result
    emit("phase", message="writing samples")
    tick = time.monotonic()
    result["samples"] = "\n\n".join(f"--- {p!r}\n" + sample(model, tok, ctx, p, SAMPLE_TOKENS, 0.8, 40, seed) for p in SAMPLE_PROMPTS)
    seconds["samples"] = time.monotonic() - tick
    return result


#: The training settings a summary reports (besides the model's config).
TRAIN_KEYS = ("batch_size", "accumulation", "lr", "min_lr", "weight_decay", "precision", "seed")


def measures(learner, val_loss: float, val_tokens: int, val_bytes: int) -> dict:
    """{"val_ppl", "val_bpb"}: the learner's perplexity and bits per byte of a validation loss, as floats
    (the loss capped at 50 for the perplexity: e**50 already says nothing more)."""
    ppl = call(learner.perplexity, min(val_loss, 50.0))
    bpb = call(learner.bits_per_byte, val_loss, val_tokens, val_bytes)
    return {"val_ppl": number(learner.perplexity, ppl), "val_bpb": number(learner.bits_per_byte, bpb)}


def sample(model, tok, ctx: int, prompt: str, max_new_tokens: int, temperature: float, top_k: int | None, seed: int) -> str:
    """The learner's generate, from the learner's text_to_token_ids and back."""
    stage4, stage5 = importlib.import_module("stage4_model"), importlib.import_module("stage5_pretrain")
    torch.manual_seed(seed)
    model.eval()
    idx = call(stage5.text_to_token_ids, prompt, tok).to(next(model.parameters()).device)  # (1, T)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one sequence, small matrices: more threads only wait on each other (10x slower on a busy machine)
    try:
        with torch.no_grad():
            out = call(stage4.generate, model, idx, max_new_tokens=max_new_tokens, context_size=ctx,
                       temperature=temperature, top_k=top_k)  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 1:
        raise returned(stage4.generate, out, f"a (1, T + new) tensor of token ids, for idx {brief(idx)}")
    return call(stage5.token_ids_to_text, out, tok)


def probe_generate(learner, checkpoint: str, tokenizer: bytes | None, prompt: str, max_new_tokens: int,
                   temperature: float, top_k: int | None, seed: int) -> str:  # fmt: skip
    """The learner's generate, from a run's checkpoint and tokenizer (None: GPT-2's)."""
    model, config = load_model(checkpoint)
    return sample(model, load_tokenizer(tokenizer), config["context_length"], prompt, max_new_tokens, temperature, top_k, seed)
