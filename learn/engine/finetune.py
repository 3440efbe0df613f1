"""The probes behind `learn finetune classify|instruct` and `learn classify`: they run in the
worker, on the learner's code.

Everything that computes is the learner's: their GPTModel (stage 4) from a `learn pretrain` run
or with GPT-2's weights put in by their load_weights_into_gpt; their tokenizer (stage 1, or
GPT-2's through tiktoken); from stage 6 SpamDataset, prepare_classifier, the chapter-6 loss
(classify.calc_loss_batch, classify.evaluate_model), calc_accuracy_loader, classify_review,
format_input, InstructionDataset, custom_collate_fn, mask_prompt_targets, the chapter-7 loss
(instruct.calc_loss_batch) and replace_linear_with_lora; from stage 5 warmup_cosine_lr,
autocast_context, text_to_token_ids and token_ids_to_text; stage 4's generate. What is ours: the
order of the loop (zero_grad, the learner's loss in autocast, backward, clipping, AdamW's step),
the time budget, the batches' order (torch's DataLoader, seeded), the progress events, and
reading GPT-2's safetensors file.

What goes back. The CLI (learn/cli/finetune.py) writes the run folder; the weights come as
"weights" events, the bytes of one torch.save in parts small enough to cross (learn/shared/wire.py), so
that a fine-tuned GPT-2 fits too. They hold every tensor of the model except GPT-2's published
ones left unchanged: a run from a `learn pretrain` run holds the whole model; a run from GPT-2
holds what trained (and the new head), and is rebuilt from GPT-2's file.

Events (learn.shared.protocol.emit), read by the CLI's progress bar:

    {"event": "phase", "message"}
    {"event": "step", "step", "total_steps", "loss", "lr", "examples_per_second", "eta"}
    {"event": "eval", "step", "examples_seen", "train_loss", "val_loss", "train_accuracy", "val_accuracy"}
    {"event": "weights", "part": bytes, "last": bool}

SIGUSR1 (Ctrl-C in the CLI) ends training after the current step; the model is then evaluated and
sent as it is, and the summary says "stopped": true.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import math
import mmap
import os
import tempfile
import time
from numbers import Integral

import torch
from torch.utils.data import DataLoader

from learn.engine.budget import Budget, lr_at, slowdown
from learn.engine.calls import brief, call, number, returned, sized, two_numbers
from learn.engine.common import BadInput, Stop
from learn.engine.distributed import pick_precision
from learn.engine.loading import encode, end_of_text, load_model, load_tokenizer
from learn.shared.protocol import emit

DEVICE = "cpu"
EVALS = 10  # evaluations during a run
STEP_EVENTS = 0.2  # seconds between step events
CALIBRATION_STEPS = 5  # with a deadline, the schedule's length is first sized from these steps' speed
PART = 128 * 2**20  # bytes of weights per event
FINAL_BATCH = 64  # texts per forward pass when every text is classified after training (larger batches: fewer, faster passes)
TASK_TOKENS = 32  # the longest answer to a generated task (learn/tasks.py), in tokens of a small vocabulary
GPT2_HEAD_DIM = 64  # every GPT-2 size has heads of 64 dimensions: 768 / 12, 1024 / 16, 1280 / 20, 1600 / 25
SAFETENSORS_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64", "I32": "int32"}


def read_safetensors(path: str) -> dict:
    """{name: tensor} of a safetensors file (8 bytes of header length, a JSON header, the data),
    mapped from the file rather than read: GPT-2's 548 MB are paged in as they are copied.
    Hugging Face's "transformer." prefix, where a file has it, is dropped."""
    try:
        with open(path, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(size))
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)  # writable for torch.frombuffer, never written back
        tensors = {}
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            dtype = getattr(torch, SAFETENSORS_DTYPES[meta["dtype"]])
            begin, end = meta["data_offsets"]
            count = (end - begin) // dtype.itemsize
            flat = torch.frombuffer(data, dtype=dtype, count=count, offset=8 + size + begin) if count else torch.empty(0, dtype=dtype)
            tensors[name.removeprefix("transformer.")] = flat.reshape(meta["shape"])
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise BadInput(f"{os.path.basename(path)} is not a safetensors file of float tensors ({type(e).__name__}: {e})") from None
    return tensors


def gpt2_config(params: dict) -> dict:
    """GPTModel's config for GPT-2 tensors (Hugging Face's names), read from their shapes.

    Example: wte.weight (50257, 768), wpe.weight (1024, 768), h.0 ... h.11 -> vocab_size 50257,
    context_length 1024, emb_dim 768, n_layers 12, n_heads 768 / 64 = 12, qkv_bias True."""
    if "wte.weight" not in params or "wpe.weight" not in params:
        raise BadInput("the file holds no wte.weight and wpe.weight: it is not GPT-2's weights in Hugging Face's layout")
    n_layers = 0
    while f"h.{n_layers}.ln_1.weight" in params:
        n_layers += 1
    vocab_size, emb_dim = params["wte.weight"].shape
    return {"vocab_size": vocab_size, "context_length": params["wpe.weight"].shape[0], "emb_dim": emb_dim,
            "n_heads": max(1, emb_dim // GPT2_HEAD_DIM), "n_layers": n_layers, "drop_rate": 0.0, "qkv_bias": True}  # fmt: skip


def start_model(learner, init: dict, seed: int):
    """(GPTModel, config, tokenizer, ids of GPT-2's unchanged tensors) from where a run starts:
        {"kind": "run", "checkpoint": str, "tokenizer": bytes | None}   a learn pretrain run
        {"kind": "gpt2", "path": str}          GPT-2's safetensors file, through load_weights_into_gpt
        {"kind": "config", "config": dict, "tokenizer": bytes | None}   an empty model (its weights follow)
    """
    torch.manual_seed(seed)
    if init["kind"] == "gpt2":
        params = read_safetensors(init["path"])
        config = gpt2_config(params)
        model = call(importlib.import_module("stage4_model").GPTModel, config)
        call(learner.load_weights_into_gpt, model, params)
        tok = load_tokenizer(None)
        if tok.n_vocab != config["vocab_size"]:
            raise BadInput(f"the weights are for a vocabulary of {config['vocab_size']:,}, GPT-2's tokenizer has {tok.n_vocab:,}")
        published = {t.data_ptr() for t in model.state_dict().values()}
        return model, config, tok, published
    if init["kind"] == "run":
        model, config = load_model(init["checkpoint"])
    else:
        config = init["config"]
        model = call(importlib.import_module("stage4_model").GPTModel, config)
    return model, config, load_tokenizer(init["tokenizer"]), set()


def prepare(learner, model, task: str, lora: dict | None, layers: str) -> list:
    """Make `model` ready for `task` with the learner's stage 6; its trainable parameters.

    classify: prepare_classifier (new 2-class out_head; the last block, final norm and head
    train), or with layers "all" every parameter. instruct: every parameter. LoRA: everything
    frozen, then replace_linear_with_lora, as appendix E (A and B train, nothing else)."""
    if task == "classify":
        call(learner.prepare_classifier, model, num_classes=2)
    if layers == "all" or task == "instruct":
        for param in model.parameters():
            param.requires_grad = True
    if lora is not None:
        for param in model.parameters():
            param.requires_grad = False
        call(learner.replace_linear_with_lora, model, lora["rank"], lora["alpha"])
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise BadInput("no parameter of the model is left to train: see prepare_classifier and replace_linear_with_lora")
    return params


def send_weights(model, config: dict, published: set) -> None:
    """The model's tensors, except GPT-2's unchanged ones, as "weights" events."""
    trained = {p.data_ptr() for p in model.parameters() if p.requires_grad}
    state = {k: v for k, v in model.state_dict().items() if v.data_ptr() in trained or v.data_ptr() not in published}
    buffer = io.BytesIO()
    torch.save({"model": state, "config": config}, buffer)
    data = buffer.getvalue()
    for start in range(0, len(data), PART):
        emit("weights", part=data[start : start + PART], last=start + PART >= len(data))


def load_weights(model, checkpoint: str, config: dict, from_gpt2: bool) -> None:
    """Put a fine-tuning run's weights (the path of its checkpoint.pt) into the model rebuilt as it was trained."""
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
        saved_config, weights = state["config"], state["model"]
    except Exception as e:
        raise BadInput(f"the checkpoint cannot be read ({type(e).__name__}): is it a learn finetune run's checkpoint.pt?") from None
    if saved_config != config:
        raise BadInput(f"the checkpoint is of another model (config {saved_config}, the run's is {config})")
    try:
        result = model.load_state_dict(weights, strict=False)
    except RuntimeError as e:
        raise BadInput(f"the checkpoint does not fit the model ({' '.join(str(e).split())[:200]})") from None
    if result.unexpected_keys or (result.missing_keys and not from_gpt2):
        raise BadInput(f"the checkpoint does not fit the model (missing {result.missing_keys[:3]}, unexpected {result.unexpected_keys[:3]})")


def _settings(train: dict):
    """(Stop, the learner's stage 5, train with its precision as this machine computes it)."""
    torch.set_num_threads(int(train.get("threads") or os.cpu_count() or 1))
    precision, why = pick_precision(train["precision"], DEVICE)
    if why:
        emit("phase", message=why)
    return Stop(), importlib.import_module("stage5_pretrain"), {**train, "precision": precision}


def fit(model, params: list, loader, loss_fn, train: dict, stop, evaluate, after: dict) -> dict:
    """Train with the learner's loss on the loader's batches, epoch after epoch; the history.

    The learning rate follows the learner's warmup_cosine_lr over the run's steps: epochs times the
    batches of one, or with a deadline the steps that fit (learn/engine/budget.py's Budget, sized
    after the first steps and again at every evaluation, keeping the time of what comes after
    training: `after` = {"final_batches", "eval_batches", "sample_tokens"}, the forward passes of the
    final evaluation and of each evaluation, and the tokens generated afterwards).
    `evaluate(state)` runs every tenth of the run and at its end. The LR is held once past its peak
    (pretrain's lr_at: a schedule sized again longer must not raise it). "stopped": the run ended
    before its planned steps (Ctrl-C or the budget); "slowdown" says how far the steps after the
    plan were slower than it assumed; "time": the seconds of training, evaluations included."""
    stage5 = importlib.import_module("stage5_pretrain")
    per_epoch = len(loader)
    planned = train["epochs"] * per_epoch
    warmup = max(1, min(train["warmup_steps"], planned // 5))
    optimizer = torch.optim.AdamW(params, lr=train["lr"], weight_decay=train["weight_decay"])
    state = {"step": 0, "examples_seen": 0, "total_steps": planned, "warmup_steps": warmup, "losses": [], "lrs": [],
             "evals": [], "train_seconds": 0.0, "time": {"training": 0.0, "evaluations": 0.0}}  # fmt: skip
    schedule = {**train, "min_lr": train["lr"] / 10}
    plan = None  # when the budget sizes the schedule: (step, train_seconds, seconds per step assumed)
    peaked = False  # the last step's LR was past warm-up: lr_at holds it from then on
    timed = train.get("deadline") is not None
    budget = Budget(train.get("deadline") or math.inf, batch_size=train["batch_size"], **after)
    started, last_event = time.monotonic(), 0.0
    every = None  # steps between evaluations, fixed once the run is sized: sizing it again moves its end, not its evaluations

    def resize(evaluations: int) -> None:  # the machine may have slowed down or sped up
        state["total_steps"] = min(planned, budget.resized(state["step"], state["total_steps"], evaluations, 1))

    emit("phase", message="training")
    while state["step"] < state["total_steps"]:
        for input_batch, target_batch in loader:
            if state["step"] >= state["total_steps"]:
                break
            if stop.requested or budget.out_of_time():
                state["total_steps"] = state["step"]
                break
            lr = lr_at(stage5.warmup_cosine_lr, state["step"], schedule, state, peaked)
            peaked = state["step"] >= state["warmup_steps"]
            for group in optimizer.param_groups:
                group["lr"] = lr
            tick = time.monotonic()
            model.train()
            optimizer.zero_grad(set_to_none=True)
            with call(stage5.autocast_context, DEVICE, train["precision"]):
                loss = call(loss_fn, input_batch, target_batch, model, DEVICE)
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1 or not loss.requires_grad:
                raise returned(loss_fn, loss, "a 0-dim float tensor with its graph, for backward()")
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, max_norm=1.0)
            optimizer.step()
            budget.record_step(time.monotonic() - tick)
            state["train_seconds"] += time.monotonic() - tick
            state["step"] += 1
            state["lrs"].append(lr)
            state["examples_seen"] += input_batch.shape[0]
            state["losses"].append([state["step"], state["examples_seen"], float(loss)])
            if timed and state["step"] == CALIBRATION_STEPS:
                state["total_steps"] = min(planned, state["step"] + budget.steps_left(EVALS, 1))
                state["warmup_steps"] = max(1, min(warmup, state["total_steps"] // 5))
                plan = (state["step"], state["train_seconds"], budget.step_seconds)
            if every is None and (not timed or state["step"] >= CALIBRATION_STEPS):
                every = max(1, state["total_steps"] // EVALS)
            if every is not None and (state["step"] % every == 0 or state["step"] == state["total_steps"]):
                tick = time.monotonic()
                evaluate(state)
                budget.record_evaluation(time.monotonic() - tick, after["eval_batches"])
                state["time"]["evaluations"] += time.monotonic() - tick
                if timed and state["step"] < state["total_steps"]:
                    resize((state["total_steps"] - state["step"]) // every)
            if time.monotonic() - last_event > STEP_EVENTS or state["step"] == state["total_steps"]:
                speed = state["examples_seen"] / max(time.monotonic() - started, 1e-9)
                emit("step", step=state["step"], total_steps=state["total_steps"], loss=float(loss), lr=lr, examples_per_second=speed,
                     eta=min((state["total_steps"] - state["step"]) * (time.monotonic() - started) / state["step"], budget.seconds_left()))  # fmt: skip
                last_event = time.monotonic()
        else:
            continue
        break  # the inner loop stopped the run
    if not state["evals"] or state["evals"][-1][0] != state["step"]:
        tick = time.monotonic()
        evaluate(state)
        state["time"]["evaluations"] += time.monotonic() - tick
    state["time"]["training"] = time.monotonic() - started
    state.update(epochs=state["step"] / max(per_epoch, 1), stopped=state["step"] < planned, planned_steps=planned,
                 slowdown=slowdown(plan, state["step"], state["train_seconds"]))  # fmt: skip
    return state


def budget_of(state: dict) -> dict:
    """What a summary says of fit's budget: whether the run ended early, its planned steps, the slowdown."""
    return {key: state[key] for key in ("stopped", "planned_steps", "slowdown")}


def _count(params: list) -> int:
    return sum(p.numel() for p in params)


# --- classification ------------------------------------------------------------------------------


def _write_csv(folder: str, name: str, rows: list) -> str:
    """The book's CSV layout for SpamDataset: a header Label,Text, then one row per text, lines
    ending in "\n" as pandas writes them (and as the checks grade SpamDataset on)."""
    path = os.path.join(folder, f"{name}.csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["Label", "Text"])
        writer.writerows(rows)
    return path


def spam_datasets(learner, splits: dict, tok, pad: int, context_length: int, max_length: int | None = None) -> tuple[dict, int]:
    """({split: the learner's SpamDataset}, max_length): the training set's longest text, cut to
    the context length, pads and cuts every split, as the book pads validation and test to the
    training set's length."""
    with tempfile.TemporaryDirectory() as folder:
        paths = {name: _write_csv(folder, name, rows) for name, rows in splits.items()}
        if max_length is None:
            longest = getattr(call(learner.SpamDataset, paths["train"], tok, max_length=None, pad_token_id=pad), "max_length", None)
            if not isinstance(longest, Integral):
                raise returned(learner.SpamDataset, longest, "a dataset whose max_length is its longest text's tokens (an int)")
            max_length = min(int(longest), context_length)
        sets = {name: call(learner.SpamDataset, path, tok, max_length=max_length, pad_token_id=pad) for name, path in paths.items()}
        return sets, max_length


def probe_finetune_classify(learner, init: dict, splits: dict, train: dict, lora: dict | None) -> dict:
    """Fine-tune the learner's GPT as a spam classifier; its accuracies, losses and confusion matrix.

    splits: {"train", "validation", "test"}: lists of [label (0 ham, 1 spam), text].
    train: batch_size, epochs, lr, warmup_steps, weight_decay, precision, layers ("last" as the
        book, or "all"), seed, threads, deadline (time.time() to be done by, or None), eval_batches.
    Returns {"summary", "history"}; the weights come as "weights" events."""
    began = time.monotonic()
    stop, stage5, train = _settings(train)
    classify = importlib.import_module(f"{learner.__name__}.classify")
    emit("phase", message="loading the model")
    model, config, tok, published = start_model(learner, init, train["seed"])
    pad = end_of_text(tok)
    emit("phase", message="tokenizing the texts")
    sets, max_length = spam_datasets(learner, splits, tok, pad, config["context_length"])
    if sized(learner.SpamDataset, sets["train"]) < train["batch_size"]:
        raise BadInput(f"the training split has {len(sets['train'])} texts, fewer than one batch of {train['batch_size']}: give more data")
    torch.manual_seed(train["seed"])
    params = prepare(learner, model, "classify", lora, train["layers"])
    loader = DataLoader(sets["train"], batch_size=train["batch_size"], shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(train["seed"]))  # fmt: skip
    in_order = {name: DataLoader(sets[name], batch_size=train["batch_size"]) for name in ("train", "validation")}
    eval_iter = train["eval_batches"]

    def evaluate(state: dict) -> None:
        with call(stage5.autocast_context, DEVICE, train["precision"]):
            losses = call(classify.evaluate_model, model, in_order["train"], in_order["validation"], DEVICE, eval_iter)
            accuracies = [call(learner.calc_accuracy_loader, in_order[name], model, DEVICE, num_batches=eval_iter)
                          for name in ("train", "validation")]  # fmt: skip
        train_loss, val_loss = two_numbers(classify.evaluate_model, losses)
        train_acc, val_acc = (number(learner.calc_accuracy_loader, a) for a in accuracies)
        state["evals"].append([state["step"], state["examples_seen"], train_loss, val_loss, train_acc, val_acc])
        emit("eval", step=state["step"], examples_seen=state["examples_seen"], train_loss=train_loss, val_loss=val_loss,
             train_accuracy=train_acc, val_accuracy=val_acc)  # fmt: skip

    n_texts = sum(len(ds) for ds in sets.values())
    after = {"final_batches": n_texts // train["batch_size"] + 1, "eval_batches": 4 * eval_iter, "sample_tokens": 0}
    loading = time.monotonic() - began
    state = fit(model, params, loader, classify.calc_loss_batch, train, stop, evaluate, after)

    emit("phase", message="measuring accuracy on every text")
    tick = time.monotonic()
    summary = {"train_loss": state["evals"][-1][2], "val_loss": state["evals"][-1][3], **budget_of(state)}

    def whole(dataset):
        return DataLoader(dataset, batch_size=FINAL_BATCH)

    with call(stage5.autocast_context, DEVICE, train["precision"]):
        for name, key in (("train", "train"), ("validation", "val")):
            accuracy = call(learner.calc_accuracy_loader, whole(sets[name]), model, DEVICE)
            summary[f"{key}_accuracy"] = number(learner.calc_accuracy_loader, accuracy)
        confusion = [[0, 0], [0, 0]]  # [actual][predicted], 0 ham, 1 spam
        for label in (0, 1):  # the learner's accuracy on the test texts of one label: how many of them are right
            texts = [i for i, (y, _) in enumerate(splits["test"]) if y == label]
            if texts:
                these = whole(torch.utils.data.Subset(sets["test"], texts))
                accuracy = call(learner.calc_accuracy_loader, these, model, DEVICE)
                right = round(number(learner.calc_accuracy_loader, accuracy) * len(texts))
                confusion[label][label], confusion[label][1 - label] = right, len(texts) - right
    summary["test_accuracy"] = (confusion[0][0] + confusion[1][1]) / len(splits["test"])
    summary["time"] = {"loading": loading, **state["time"], "final_evaluation": time.monotonic() - tick}
    summary.update({
        "confusion_matrix": confusion, "steps": state["step"], "epochs": round(state["epochs"], 3),
        "examples_seen": state["examples_seen"], "trainable_parameters": _count(params),
        "parameters": _count(list(model.parameters())), "max_length": max_length, "pad_token_id": pad, "config": config,
    })  # fmt: skip
    emit("phase", message="sending the weights")
    send_weights(model, config, published)
    return {"summary": summary, "history": {"losses": state["losses"], "evals": state["evals"]}}


def probe_classify_text(learner, init: dict, checkpoint: str, text: str, lora: dict | None, layers: str,
                        max_length: int) -> str:  # fmt: skip
    """The learner's classify_review on `text`, with a fine-tuned classifier rebuilt from its run."""
    torch.set_num_threads(1)  # one short text: more threads only wait on each other
    model, config, tok, published = start_model(learner, init, 0)
    prepare(learner, model, "classify", lora, layers)
    load_weights(model, checkpoint, config, bool(published))
    model.eval()
    pad = end_of_text(tok)
    label = call(learner.classify_review, text, model, tok, DEVICE, max_length=max_length, pad_token_id=pad)
    if not isinstance(label, str):
        raise returned(learner.classify_review, label, 'a str ("spam" or "not spam")')
    return label


# --- instructions --------------------------------------------------------------------------------


def respond(learner, model, tok, entries: list, context_length: int, max_new_tokens: int, eos: int) -> list:
    """The model's response to each entry, as the book writes them: the learner's generate, greedy,
    from format_input(entry) until <|endoftext|>; the text after the prompt without "### Response:".
    Prompts of one length in tokens go as one batch; a row that ends early is cut at its end."""
    stage4, stage5 = importlib.import_module("stage4_model"), importlib.import_module("stage5_pretrain")
    model.eval()
    prompts = [call(learner.format_input, entry) for entry in entries]
    ids = [call(stage5.text_to_token_ids, prompt, tok) for prompt in prompts]  # (1, T) each
    groups: dict[int, list[int]] = {}
    for i, idx in enumerate(ids):
        groups.setdefault(idx.shape[1], []).append(i)
    responses = [""] * len(entries)
    for members in groups.values():
        for start in range(0, len(members), 32):
            rows = members[start : start + 32]
            batch = torch.cat([ids[i] for i in rows])  # (B, T)
            with torch.no_grad():
                out = call(stage4.generate, model, batch, max_new_tokens=max_new_tokens, context_size=context_length,
                           temperature=0.0, top_k=None, eos_id=eos)  # (B, T + new)  # fmt: skip
            if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != len(rows):
                raise returned(stage4.generate, out, f"a (B, T + new) tensor of token ids, for idx {brief(batch)}")
            for row, i in zip(out, rows):
                new = row[batch.shape[1] :].tolist()
                new = new[: new.index(eos)] if eos in new else new
                text = call(stage5.token_ids_to_text, torch.tensor([row[: batch.shape[1]].tolist() + new]), tok)  # (1, T + n)
                responses[i] = text[len(prompts[i]) :].replace("### Response:", "").strip()
    return responses


def instruction_batches(learner, dataset, indices: list, pad: int, context_length: int, mask_prompt: bool):
    """(inputs, targets) of the entries at `indices`: the learner's custom_collate_fn, and their
    mask_prompt_targets with mask_prompt."""
    batch = call(learner.custom_collate_fn, [dataset[i] for i in indices], pad_token_id=pad, allowed_max_length=context_length)
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise returned(learner.custom_collate_fn, batch, "a pair (inputs, targets) of (B, T) tensors")
    inputs, targets = batch
    if mask_prompt:
        lengths = getattr(dataset, "prompt_lengths", None)
        if lengths is None:
            raise BadInput("your InstructionDataset keeps no prompt_lengths (lesson §7): run without --mask-prompt")
        targets = call(learner.mask_prompt_targets, targets, [lengths[i] for i in indices])
    return inputs, targets


def probe_finetune_instruct(learner, init: dict, data: dict, tasks: dict, train: dict, lora: dict | None) -> dict:
    """Instruction-tune the learner's GPT on the book's data and the generated tasks.

    data: the book's splits {"train", "validation", "test"} of entries {"instruction", "input", "output"}.
    tasks: generated entries {"train": mixed into the training data, "test": asked before and after}.
    train: batch_size, epochs, lr, warmup_steps, weight_decay, precision, mask_prompt, max_new_tokens,
        seed, threads, deadline, eval_batches.
    Returns {"summary", "history", "task_responses": {"before", "after"}, "test_responses"};
    the weights come as "weights" events."""
    began = time.monotonic()
    stop, stage5, train = _settings(train)
    instruct = importlib.import_module(f"{learner.__name__}.instruct")
    emit("phase", message="loading the model")
    model, config, tok, published = start_model(learner, init, train["seed"])
    pad, ctx = end_of_text(tok), config["context_length"]
    emit("phase", message="tokenizing the instructions")

    def fits(entry) -> bool:  # a prompt that fills the context leaves no response token in the window
        prompt = call(learner.format_input, entry)
        return len(encode(tok, prompt)) < ctx

    train_entries = [e for e in data["train"] + tasks["train"] if fits(e)]
    val_entries = [e for e in data["validation"] if fits(e)]
    left_out = len(data["train"]) + len(tasks["train"]) + len(data["validation"]) - len(train_entries) - len(val_entries)
    train_set, val_set = call(learner.InstructionDataset, train_entries, tok), call(learner.InstructionDataset, val_entries, tok)
    if sized(learner.InstructionDataset, train_set) < train["batch_size"] or sized(learner.InstructionDataset, val_set) == 0:
        raise BadInput(f"{len(train_set)} training and {len(val_set)} validation entries whose prompt fits in the context of "
                       f"{ctx} tokens: too few for a batch of {train['batch_size']}")  # fmt: skip
    mask = train["mask_prompt"]
    loader = DataLoader(range(len(train_set)), batch_size=train["batch_size"], shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(train["seed"]),
                        collate_fn=lambda indices: instruction_batches(learner, train_set, indices, pad, ctx, mask))  # fmt: skip
    size = train["batch_size"]
    val_batches = [instruction_batches(learner, val_set, list(range(i, min(i + size, len(val_set)))), pad, ctx, mask)
                   for i in range(0, len(val_set), size)]  # fmt: skip
    train_batches = [instruction_batches(learner, train_set, list(range(i, i + size)), pad, ctx, mask)
                     for i in range(0, min(len(train_set), size * train["eval_batches"]) - size + 1, size)]  # fmt: skip

    def mean_loss(batches: list) -> float:
        model.eval()
        with torch.no_grad(), call(stage5.autocast_context, DEVICE, train["precision"]):
            losses = [number(instruct.calc_loss_batch, call(instruct.calc_loss_batch, x, y, model, DEVICE)) for x, y in batches]
        return sum(losses) / len(losses)

    def evaluate(state: dict) -> None:
        train_loss, val_loss = mean_loss(train_batches), mean_loss(val_batches[: train["eval_batches"]])
        state["evals"].append([state["step"], state["examples_seen"], train_loss, val_loss])
        emit("eval", step=state["step"], examples_seen=state["examples_seen"], train_loss=train_loss, val_loss=val_loss)

    eos, new_tokens = pad, train["max_new_tokens"]
    loading = time.monotonic() - began
    emit("phase", message=f"asking the {len(tasks['test'])} test tasks before tuning")
    tick = time.monotonic()
    before = respond(learner, model, tok, tasks["test"], ctx, min(new_tokens, TASK_TOKENS), eos)
    responding = time.monotonic() - tick
    tick = time.monotonic()
    val_before = mean_loss(val_batches)
    scoring = time.monotonic() - tick
    torch.manual_seed(train["seed"])
    params = prepare(learner, model, "instruct", lora, "all")
    answers = len(tasks["test"]) * TASK_TOKENS // 2 + len(data["test"]) * new_tokens // 2  # ends come before the limit, mostly
    after = {"final_batches": len(val_batches), "eval_batches": len(train_batches) + min(train["eval_batches"], len(val_batches)),
             "sample_tokens": answers}  # fmt: skip
    state = fit(model, params, loader, instruct.calc_loss_batch, train, stop, evaluate, after)

    emit("phase", message=f"asking the {len(tasks['test'])} test tasks after tuning")
    tick = time.monotonic()
    after = respond(learner, model, tok, tasks["test"], ctx, min(new_tokens, TASK_TOKENS), eos)
    emit("phase", message=f"answering the {len(data['test'])} test instructions")
    test_responses = respond(learner, model, tok, data["test"], ctx, new_tokens, eos)
    responding += time.monotonic() - tick
    tick = time.monotonic()
    val_loss = mean_loss(val_batches)
    scoring += time.monotonic() - tick
    seconds = {"loading": loading, **state["time"], "final_evaluation": scoring, "responses": responding}
    summary = {
        **budget_of(state), "time": seconds, "left_out": left_out, "val_loss_before": val_before, "val_loss": val_loss,
        "train_loss": state["evals"][-1][2], "steps": state["step"], "epochs": round(state["epochs"], 3),
        "examples_seen": state["examples_seen"], "trainable_parameters": _count(params),
        "parameters": _count(list(model.parameters())), "pad_token_id": pad, "config": config,
    }  # fmt: skip
    emit("phase", message="sending the weights")
    send_weights(model, config, published)
    return {"summary": summary, "history": {"losses": state["losses"], "evals": state["evals"]},
            "task_responses": {"before": before, "after": after}, "test_responses": test_responses}  # fmt: skip
