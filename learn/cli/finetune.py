"""`learn finetune classify|instruct`: fine-tune your GPT (stages 1-6) and write a run folder.

    learn finetune classify                           the latest `learn pretrain` run, on the SMS Spam Collection
    learn finetune classify --init gpt2 --lora 16     GPT-2 (124M) with LoRA adapters of rank 16
    learn classify "You have been selected to receive $1000 cash" --run runs/classify-mine
    learn finetune instruct --init mine --max-seconds 300

Where your code runs. As for `learn pretrain`: a contained worker runs learn/engine/finetune.py's
probes on a copy of your tree (your stage 6 and the stages it builds on), sends progress events
and the results as plain data, the weights as bytes; this process reads and splits the data,
generates and scores the objective tasks (learn/tasks.py), and writes the run folder.

--init says where the run starts: a `learn pretrain` run folder (the latest by default), `gpt2`
(GPT-2 124M: its safetensors file is downloaded once, checked against its SHA-256 and cached in
.data/, then put into your GPTModel by your load_weights_into_gpt, with GPT-2's tokenizer), or
any GPT-2-format .safetensors file. Data split as the book splits it: the spam texts balanced
(ham undersampled to the spam count) and split 70/10/20 with random_state 123 (numpy's draws,
the ones pandas' sample makes); the instructions 85/10/5 in their order.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from learn import files
from learn.cli import launch
from learn.cli.console import Command, command_group, err, out, pick_tree, shown, tell, usage_error
from learn.cli.runs import (
    GPT2_MEMORY,
    check_precision,
    fresh_run,
    gpt2_weights,
    hand_over,
    latest_run,
    packages_through,
    precision_option,
    read_run,
    run_folder,
    tell_budget,
    with_progress,
    workers,
    workers_reading,
)

app = command_group("Fine-tune your GPT: a spam classifier (`classify`) or an instruction follower (`instruct`).")

SPLIT_SEED = 123  # the book's random_state: the same split whatever --seed is
MARGIN = 180  # seconds the worker gets beyond --max-seconds (start-up, and the evaluations after a stop)
WRITING = 3  # seconds kept from the budget for writing the run folder
STOP_WAIT = 600  # seconds a stopped run gets to evaluate and send its weights
#: What a summary takes from the worker's of the run's training and its budget (learn/engine/finetune.py `fit`).
BUDGET = ("steps", "epochs", "examples_seen", "trainable_parameters", "parameters", "stopped", "planned_steps",
          "slowdown")  # fmt: skip

# --- where a run starts, and its data ------------------------------------------------------------


def start_from(init: Optional[str]) -> tuple[dict, dict, bytes | None]:
    """(what the worker starts from, what run.json records of it, the tokenizer's bytes to keep)."""
    if init is not None and (init == "gpt2" or init.endswith(".safetensors")):
        return {"kind": "gpt2", "path": str(gpt2_weights(init))}, {"kind": "gpt2", "file": init if init == "gpt2" else str(Path(init).resolve())}, None
    folder = run_folder(init) if init is not None else latest_run()
    info, checkpoint, tokenizer = read_run(folder)
    if info.get("task") is not None:
        raise usage_error(escape(f"--init {init}: {shown(folder)}/ is a `learn finetune {info['task']}` run; start from a `learn pretrain` run or gpt2"))
    return {"kind": "run", "checkpoint": checkpoint, "tokenizer": tokenizer}, {"kind": "run", "run": str(shown(folder))}, tokenizer


def tokenizer_of(start: dict) -> str:
    """"own" (the learner's BPE, tokenizer.json) or "gpt2" (tiktoken's)."""
    return "own" if start.get("tokenizer") is not None else "gpt2"


def data_file(data: Optional[str], name: str) -> tuple[Path, str]:
    """(the file, how the run names it): --data's path, or the data set `name`, fetched once."""
    from learn.data import DataError, fetch

    if data is None:
        try:
            return fetch(name), name
        except DataError as e:
            raise usage_error(escape(str(e))) from None
    path = Path(data).expanduser()
    if not path.is_file():
        raise usage_error(escape(f"--data {data}: no such file"))
    return path, str(path)


def read_data(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise usage_error(escape(f"--data {what}: not UTF-8 text")) from None
    except OSError as e:
        raise usage_error(escape(f"--data {what}: cannot read it ({e.strerror or e})")) from None


LABELS = {"ham": 0, "spam": 1, "0": 0, "1": 1}


def read_spam(text: str, what: str) -> list[list]:
    """[[label, text], ...] (0 ham, 1 spam) from the UCI file's lines `ham<TAB>text`, or from a CSV
    file with a header Label,Text (labels ham/spam or 0/1), as the book's train.csv."""
    lines = text.splitlines()
    if not lines or not text.strip():
        raise usage_error(escape(f"--data {what}: the file is empty"))
    header = next(csv.reader([lines[0]]))
    if [h.strip().lower() for h in header] == ["label", "text"]:
        rows, first = list(csv.reader(io.StringIO(text)))[1:], 2
    else:
        rows, first = list(csv.reader(io.StringIO(text), delimiter="\t")), 1
    out = []
    for n, row in enumerate(rows, first):
        if not row:
            continue
        if len(row) != 2 or row[0].strip().lower() not in LABELS:
            raise usage_error(escape(f"--data {what}: line {n} is not `ham|spam<TAB>text` (nor Label,Text CSV): {str(row)[:60]}"))
        out.append([LABELS[row[0].strip().lower()], row[1]])
    return out


def split_spam(rows: list[list]) -> dict:
    """The book's balanced 70/10/20 split: the larger class undersampled to the smaller's count
    (pandas' sample(n, random_state=123) is numpy's RandomState(123).choice(len, n, replace=False)),
    ham first, then the whole frame shuffled the same way (sample(frac=1, random_state=123))."""
    import numpy as np

    ham, spam = [r for r in rows if r[0] == 0], [r for r in rows if r[0] == 1]
    n = min(len(ham), len(spam))
    ham = [ham[i] for i in np.random.RandomState(SPLIT_SEED).choice(len(ham), n, replace=False)] if len(ham) > n else ham
    spam = [spam[i] for i in np.random.RandomState(SPLIT_SEED).choice(len(spam), n, replace=False)] if len(spam) > n else spam
    balanced = ham + spam
    balanced = [balanced[i] for i in np.random.RandomState(SPLIT_SEED).choice(len(balanced), len(balanced), replace=False)]
    train_end = int(len(balanced) * 0.7)
    validation_end = train_end + int(len(balanced) * 0.1)
    return {"train": balanced[:train_end], "validation": balanced[train_end:validation_end], "test": balanced[validation_end:]}


def read_instructions(text: str, what: str) -> list[dict]:
    """The book's instruction-data.json: a list of {"instruction", "input", "output"} (input may be absent)."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise usage_error(escape(f"--data {what}: not JSON ({e})")) from None
    if type(data) is not list or not data:
        raise usage_error(escape(f"--data {what}: not a list of instruction entries"))
    entries = []
    for n, entry in enumerate(data):
        if type(entry) is not dict or not all(type(entry.get(k, "")) is str for k in ("instruction", "input", "output")) \
                or "instruction" not in entry or "output" not in entry:  # fmt: skip
            raise usage_error(escape(f"--data {what}: entry {n} is not {{\"instruction\", \"input\", \"output\"}} text: {str(entry)[:60]}"))
        entries.append({"instruction": entry["instruction"], "input": entry.get("input", ""), "output": entry["output"]})
    return entries


def split_instructions(entries: list[dict]) -> dict:
    """The book's split: the first 85 % train, the next 10 % test, the last 5 % validation."""
    train_portion, test_portion = int(len(entries) * 0.85), int(len(entries) * 0.1)
    return {"train": entries[:train_portion], "test": entries[train_portion : train_portion + test_portion],
            "validation": entries[train_portion + test_portion :]}  # fmt: skip


# --- what both commands share --------------------------------------------------------------------


def check_lora(lora: Optional[int], alpha: Optional[float]) -> dict | None:
    if lora is None:
        return None
    if lora < 1:
        raise usage_error(f"--lora {lora}: a LoRA rank is 1 or more (the book uses 16)")
    if alpha is not None and not 0 < alpha < float("inf"):
        # alpha scales the adapters' output: at 0 or below they add nothing (or subtract) and the model learns nothing
        raise usage_error(f"--lora-alpha {alpha}: LoRA's alpha is a positive number (leave it out to use the rank)")
    return {"rank": lora, "alpha": float(alpha if alpha is not None else lora)}


def new_folder(run: Optional[str], default: str) -> Path:
    folder = run_folder(run) if run is not None else fresh_run(default)
    if (folder / "run.json").exists():
        raise usage_error(escape(f"{shown(folder)}/ holds a run already: give another --run"))
    return folder


def write_json(path: Path, value) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write_text(path, json.dumps(value, indent=2) + "\n")
    except OSError as e:
        raise usage_error(escape(f"cannot write {path} ({e.strerror or e})")) from None


def default_name(task: str, record: dict) -> str:
    """classify-<the init run's name> or classify-gpt2."""
    base = "gpt2" if record["kind"] == "gpt2" else Path(record["run"]).name
    return f"{task}-{base}"


class Weights:
    """Collects the worker's "weights" events into checkpoint.pt (written when the last part comes)."""

    def __init__(self, folder: Path):
        self.folder, self.parts, self.done = folder, [], False

    def add(self, event: dict) -> None:
        if isinstance(event.get("part"), bytes):
            self.parts.append(event["part"])
            if event.get("last"):
                files.write_bytes(self.folder / "checkpoint.pt", b"".join(self.parts))
                self.parts, self.done = [], True


def train(probe, kwargs: dict, start: dict, tree: Path, packages: list[str], folder: Path, seconds: float,
          quiet: bool, print_eval) -> dict:  # fmt: skip
    """The probe's result; the weights written to folder/checkpoint.pt as they come."""
    if start["kind"] == "gpt2":
        engine = workers(tree, packages, GPT2_MEMORY, gpt2=True)
        start = {**start, "path": hand_over(engine, Path(start["path"]))}
    else:
        engine, checkpoint = workers_reading(tree, packages, start["checkpoint"], gpt2=tokenizer_of(start) == "gpt2")
        start = {**start, "checkpoint": checkpoint}
    weights = Weights(folder)

    def on_event(event: dict, console) -> None:
        if event.get("event") == "weights":
            weights.add(event)
        elif event.get("event") == "eval" and not quiet:
            console.print(print_eval(event))

    try:
        result = with_progress(engine, probe, {**kwargs, "init": start}, seconds, quiet, on_event, "stage6_finetune",
                               STOP_WAIT, folder)  # fmt: skip
        if not weights.done:
            err.print("[bold red]error:[/] the worker sent no weights")
            raise typer.Exit(1)
    except typer.Exit:
        for name in ("run.json", "tokenizer.json", "checkpoint.pt.part"):  # a run that trained nothing leaves nothing
            (folder / name).unlink(missing_ok=True)
        if not any(folder.iterdir()):
            folder.rmdir()
        raise
    return result


def plot(history: dict, png: Path, columns: dict, ylabel: str, steps: bool) -> None:
    """Curves against examples seen: each step's training loss (with `steps`), and the evaluations'
    columns {label: index in an evaluation [step, examples_seen, ...]}."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    if steps:
        ax.plot([s[1] for s in history["losses"]], [s[2] for s in history["losses"]], linewidth=0.8, alpha=0.5, label="training (each step)")
    for label, column in columns.items():
        ax.plot([e[1] for e in history["evals"]], [e[column] for e in history["evals"]], "o-", label=label)
    ax.set_xlabel("examples seen")
    ax.set_ylabel(ylabel)
    ax.legend()
    files.save_figure(fig, png)


def finish(folder: Path, summary: dict, as_json: bool) -> None:
    write_json(folder / "summary.json", summary)
    if as_json:
        print(json.dumps(summary, indent=2))


# --- learn finetune classify ---------------------------------------------------------------------

INIT_HELP = "A `learn pretrain` run (default: the latest), gpt2, or a GPT-2-format .safetensors file."


@app.command(cls=Command)
def classify(
    init: Optional[str] = typer.Option(None, "--init", metavar="RUN|gpt2", help=INIT_HELP),
    lora: Optional[int] = typer.Option(None, "--lora", metavar="RANK", help="Train LoRA adapters of this rank instead (appendix E)."),
    lora_alpha: Optional[float] = typer.Option(None, "--lora-alpha", help="LoRA's alpha (default: the rank)."),
    layers: str = typer.Option("last", "--layers", metavar="last|all", help="What trains without LoRA: the last block, final norm and head (the book), or all."),
    data: Optional[str] = typer.Option(None, "--data", metavar="PATH", help="A copy of SMSSpamCollection (ham|spam<TAB>text lines) or a Label,Text CSV."),
    epochs: int = typer.Option(5, "--epochs", min=1),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    lr: float = typer.Option(5e-4, "--lr", min=0.0, help="Peak learning rate (warm-up, then cosine to a tenth)."),
    warmup_steps: int = typer.Option(20, "--warmup-steps", min=1),
    weight_decay: float = typer.Option(0.1, "--weight-decay", min=0.0),
    precision: str = precision_option(),
    max_seconds: Optional[float] = typer.Option(600, "--max-seconds", min=1, help="The whole command's budget."),
    run: Optional[str] = typer.Option(None, "--run", metavar="NAME|DIR", help="runs/NAME or a folder (default: a new runs/classify-INIT)."),
    impl: Optional[str] = typer.Option(None, "--impl", metavar="TREE", help="Use the stages of this tree instead of stages/."),
    seed: int = typer.Option(123, "--seed", help="Seeds the new weights and the batches' order (not the split)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="torch threads (default: OMP_NUM_THREADS, or every core)."),
    as_json: bool = typer.Option(False, "--json", help="Print summary.json on stdout, no progress bar."),
):  # fmt: skip
    """Fine-tune your GPT as a spam classifier: accuracies, confusion matrix and plots in runs/NAME/."""
    started = time.time()
    adapters = check_lora(lora, lora_alpha)
    if layers not in ("last", "all"):
        raise usage_error(f"--layers {escape(layers)}: choose last or all")
    check_precision(precision)
    tree = pick_tree(impl, None)
    packages = packages_through(6, tree, "learn finetune")
    path, what = data_file(data, "SMSSpamCollection")
    text = read_data(path, what)
    splits = split_spam(read_spam(text, what))
    if min(len(s) for s in splits.values()) == 0 or len(splits["train"]) < batch_size:
        sizes = ", ".join(f"{len(s)} {name}" for name, s in splits.items())
        raise usage_error(escape(f"--data {what}: too few texts of each label ({sizes} after balancing) for a batch of {batch_size}"))
    start, record, tokenizer = start_from(init)
    folder = new_folder(run, default_name("classify", record))
    settings = {"batch_size": batch_size, "epochs": epochs, "lr": lr, "warmup_steps": warmup_steps, "weight_decay": weight_decay,
                "precision": precision, "layers": layers, "seed": seed, "eval_batches": 5}  # fmt: skip
    info = {"task": "classify", "init": record, "lora": adapters, "train": settings, "data": what,
            "data_sha256": hashlib.sha256(text.encode()).hexdigest(), "tokenizer": tokenizer_of(start)}  # fmt: skip
    write_json(folder / "run.json", info)
    if tokenizer is not None:
        files.write_bytes(folder / "tokenizer.json", tokenizer)
    kwargs = {"splits": splits, "lora": adapters,
              "train": {**settings, "threads": threads or launch.default_threads(), "deadline": started + max_seconds - WRITING if max_seconds else None}}  # fmt: skip

    def print_eval(e: dict) -> str:
        return (f"step {e['step']:>5,}  train loss {e['train_loss']:.3f}  val loss {e['val_loss']:.3f}  "
                f"train accuracy {100 * e['train_accuracy']:5.1f} %  val accuracy {100 * e['val_accuracy']:5.1f} %")  # fmt: skip


    result = train("learn.engine.finetune:probe_finetune_classify", kwargs, start, tree, packages, folder,
                   (max_seconds or 10**7) + MARGIN, as_json, print_eval)
    worker = result["summary"]
    write_json(folder / "run.json", {**info, "config": worker["config"], "max_length": worker["max_length"],
                                     "pad_token_id": worker["pad_token_id"]})  # fmt: skip
    plot(result["history"], folder / "loss.png", {"training": 2, "validation": 3}, "loss", steps=True)
    plot(result["history"], folder / "accuracy.png", {"training": 4, "validation": 5}, "accuracy (first batches)", steps=False)
    (ham_ham, ham_spam), (spam_ham, spam_spam) = worker.pop("confusion_matrix")
    summary = {**{k: worker[k] for k in ("train_accuracy", "val_accuracy", "test_accuracy", "train_loss", "val_loss")},
               "confusion_matrix": {"actual ham": {"predicted ham": ham_ham, "predicted spam": ham_spam},
                                    "actual spam": {"predicted ham": spam_ham, "predicted spam": spam_spam}},
               **{k: worker[k] for k in BUDGET}, "time": {k: round(v, 2) for k, v in worker["time"].items()},
               "seconds": round(time.time() - started, 2), "init": record, "lora": adapters, "layers": layers, "data": what,
               "split": {name: len(rows) for name, rows in splits.items()}, "tokenizer": info["tokenizer"],
               "max_length": worker["max_length"], "pad_token_id": worker["pad_token_id"], "config": worker["config"]}  # fmt: skip
    finish(folder, summary, as_json)
    if as_json:
        return
    out.print(f"{'':12}{'accuracy':>10}{'texts':>7}")
    for name, split, key in (("training", "train", "train"), ("validation", "validation", "val"), ("test", "test", "test")):
        out.print(f"{name:12}{100 * summary[f'{key}_accuracy']:>8.2f} %{len(splits[split]):>7}")
    out.print(f"\nconfusion matrix, the {len(splits['test'])} test texts:\n{'':14}{'predicted ham':>15}{'predicted spam':>16}")
    out.print(f"{'actual ham':14}{ham_ham:>15}{ham_spam:>16}\n{'actual spam':14}{spam_ham:>15}{spam_spam:>16}\n")
    stopped = " (stopped early)" if summary["stopped"] else ""
    tell(f"wrote {escape(str(shown(folder)))}/{stopped}: {summary['steps']:,} steps ({summary['epochs']:.2f} epochs), "
         f"{summary['trainable_parameters']:,} of {summary['parameters']:,} parameters trained, {summary['seconds']:.0f} s")  # fmt: skip
    tell_budget(summary)
    example = "You are a winner you have been specially selected to receive $1000 cash or a $2000 award."  # the book's
    tell(f"try: learn classify \"{example}\" --run {escape(str(shown(folder)))}")


# --- learn finetune instruct ---------------------------------------------------------------------


@app.command(cls=Command)
def instruct(
    init: Optional[str] = typer.Option(None, "--init", metavar="RUN|gpt2", help=INIT_HELP),
    lora: Optional[int] = typer.Option(None, "--lora", metavar="RANK", help="Train LoRA adapters of this rank instead (appendix E)."),
    lora_alpha: Optional[float] = typer.Option(None, "--lora-alpha", help="LoRA's alpha (default: the rank)."),
    data: Optional[str] = typer.Option(None, "--data", metavar="PATH", help="A copy of the book's instruction-data.json, or any such list."),
    tasks: int = typer.Option(1000, "--tasks", min=0, help="Generated tasks with checkable answers mixed into the training data."),
    eval_tasks: int = typer.Option(200, "--eval-tasks", min=1, help="Generated tasks asked before and after tuning."),
    mask_prompt: bool = typer.Option(False, "--mask-prompt", help="Leave the prompt's tokens out of the loss (lesson §7)."),
    epochs: int = typer.Option(3, "--epochs", min=1),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    lr: float = typer.Option(5e-4, "--lr", min=0.0, help="Peak learning rate (warm-up, then cosine to a tenth)."),
    warmup_steps: int = typer.Option(20, "--warmup-steps", min=1),
    weight_decay: float = typer.Option(0.1, "--weight-decay", min=0.0),
    max_new_tokens: int = typer.Option(100, "--max-new-tokens", min=1, help="Longest response to the test instructions."),
    precision: str = precision_option(),
    max_seconds: Optional[float] = typer.Option(600, "--max-seconds", min=1, help="The whole command's budget."),
    run: Optional[str] = typer.Option(None, "--run", metavar="NAME|DIR", help="runs/NAME or a folder (default: a new runs/instruct-INIT)."),
    impl: Optional[str] = typer.Option(None, "--impl", metavar="TREE", help="Use the stages of this tree instead of stages/."),
    seed: int = typer.Option(123, "--seed", help="Seeds the new weights and the batches' order (not the split)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="torch threads (default: OMP_NUM_THREADS, or every core)."),
    as_json: bool = typer.Option(False, "--json", help="Print summary.json on stdout, no progress bar."),
):  # fmt: skip
    """Instruction-tune your GPT; val loss, test responses and an exact-match score in runs/NAME/."""
    from learn.tasks import KINDS, exact_match, make_tasks

    started = time.time()
    adapters = check_lora(lora, lora_alpha)
    check_precision(precision)
    tree = pick_tree(impl, None)
    packages = packages_through(6, tree, "learn finetune")
    path, what = data_file(data, "instruction-data.json")
    text = read_data(path, what)
    splits = split_instructions(read_instructions(text, what))
    if not splits["validation"] or len(splits["train"]) + tasks < batch_size:
        raise usage_error(escape(f"--data {what}: {sum(len(s) for s in splits.values())} entries are too few to split 85/10/5 "
                                 f"and fill a batch of {batch_size}"))  # fmt: skip
    generated = {"train": make_tasks(tasks, "train"), "test": make_tasks(eval_tasks, "test")}
    start, record, tokenizer = start_from(init)
    folder = new_folder(run, default_name("instruct", record))
    settings = {"batch_size": batch_size, "epochs": epochs, "lr": lr, "warmup_steps": warmup_steps, "weight_decay": weight_decay,
                "precision": precision, "mask_prompt": mask_prompt, "max_new_tokens": max_new_tokens, "seed": seed,
                "eval_batches": 5}  # fmt: skip
    info = {"task": "instruct", "init": record, "lora": adapters, "train": settings, "tasks": tasks, "data": what,
            "data_sha256": hashlib.sha256(text.encode()).hexdigest(), "tokenizer": tokenizer_of(start)}  # fmt: skip
    write_json(folder / "run.json", info)
    if tokenizer is not None:
        files.write_bytes(folder / "tokenizer.json", tokenizer)
    strip = lambda entries: [{k: e[k] for k in ("instruction", "input", "output")} for e in entries]  # noqa: E731
    kwargs = {"data": splits, "tasks": {name: strip(t) for name, t in generated.items()}, "lora": adapters,
              "train": {**settings, "threads": threads or launch.default_threads(), "deadline": started + max_seconds - WRITING if max_seconds else None}}  # fmt: skip

    def print_eval(e: dict) -> str:
        return f"step {e['step']:>5,}  train loss {e['train_loss']:.3f}  val loss {e['val_loss']:.3f}"


    result = train("learn.engine.finetune:probe_finetune_instruct", kwargs, start, tree, packages, folder,
                   (max_seconds or 10**7) + MARGIN, as_json, print_eval)
    worker = result["summary"]
    write_json(folder / "run.json", {**info, "config": worker["config"], "pad_token_id": worker["pad_token_id"]})
    plot(result["history"], folder / "loss.png", {"training": 2, "validation": 3}, "loss (nats per token)", steps=True)
    responses = [{**entry, "model_response": response} for entry, response in zip(splits["test"], result["test_responses"])]
    write_json(folder / "instruction-data-with-response.json", responses)
    before, after = result["task_responses"]["before"], result["task_responses"]["after"]
    scored = [{**task, "response_before": b, "response_after": a, "correct_before": exact_match(b, task["output"]),
               "correct_after": exact_match(a, task["output"])} for task, b, a in zip(generated["test"], before, after)]  # fmt: skip
    write_json(folder / "tasks.json", scored)
    by_kind = {}
    for kind in KINDS:
        mine = [s for s in scored if s["kind"] == kind]
        if mine:
            by_kind[kind] = {"tasks": len(mine), "before": sum(s["correct_before"] for s in mine), "after": sum(s["correct_after"] for s in mine)}
    summary = {"val_loss": worker["val_loss"], "val_loss_before": worker["val_loss_before"], "train_loss": worker["train_loss"],
               "exact_match_before": sum(s["correct_before"] for s in scored) / len(scored),
               "exact_match_after": sum(s["correct_after"] for s in scored) / len(scored), "exact_match_by_kind": by_kind,
               **{k: worker[k] for k in BUDGET}, "time": {k: round(v, 2) for k, v in worker["time"].items()},
               "seconds": round(time.time() - started, 2), "init": record, "lora": adapters, "data": what,
               "split": {name: len(rows) for name, rows in splits.items()}, "left_out": worker["left_out"], "tasks": tasks,
               "eval_tasks": eval_tasks,
               "mask_prompt": mask_prompt, "tokenizer": info["tokenizer"], "pad_token_id": worker["pad_token_id"],
               "config": worker["config"]}  # fmt: skip
    finish(folder, summary, as_json)
    if as_json:
        return
    out.print(f"validation loss {summary['val_loss']:.3f} (before tuning {summary['val_loss_before']:.3f})\n")
    out.print(f"objective evaluation: {eval_tasks} generated instructions, each with one right answer (exact match)")
    out.print(f"  {'task':12}{'before':>10}{'after':>10}")
    for kind, n in by_kind.items():
        out.print(f"  {kind:12}{n['before']:>6}/{n['tasks']:<3}{n['after']:>6}/{n['tasks']:<3}")
    out.print(f"  {'all':12}{100 * summary['exact_match_before']:>8.1f} %{100 * summary['exact_match_after']:>8.1f} %\n")
    stopped = " (stopped early)" if summary["stopped"] else ""
    tell(f"wrote {escape(str(shown(folder)))}/{stopped}: {summary['steps']:,} steps ({summary['epochs']:.2f} epochs), "
         f"{summary['trainable_parameters']:,} of {summary['parameters']:,} parameters trained, {summary['seconds']:.0f} s")  # fmt: skip
    tell_budget(summary)
    tell(f"responses to the {len(responses)} test instructions: {escape(str(shown(folder)))}/instruction-data-with-response.json; "
         f"the tasks': tasks.json")  # fmt: skip
