"""`learn pretrain`: train your GPT (stages 1-5) on a text and write a run folder.

    learn pretrain                                   Tiny Shakespeare, the default preset, 10 minutes
    learn pretrain --max-seconds 240 --model tiny    a smaller model, 4 minutes of training
    learn pretrain --data notes.txt --max-steps 200 --run mine
    learn pretrain --run mine --resume               go on from runs/mine/'s checkpoint, bit for bit

Where your code runs. Never in this process: a worker, contained as the grader's are
(learn/judge/workers.py), runs learn/engine/pretrain.py's probe on a copy of your tree: your
tokenizer, data set, model and training step. It sends progress events (the bar here) and the
results back as plain data, the checkpoint and tokenizer as bytes; this process writes the run
folder (learn/cli/runs.py says what it holds), because the worker's files would not survive it.

The budget, --max-seconds, is the training's: it counts the steps, the evaluations, the samples
and writing the run folder, from the moment the text is encoded; the schedule's length is fixed
from the speed of the first steps so that warm-up and cosine decay fit in it. Training your
tokenizer and encoding the text come before, outside it (a plain BPE takes minutes on Tiny
Shakespeare), within an hour of their own (TOKENIZER_SECONDS). The bar says the time each has left:
by the merges your tokenizer has learned so far, if its `train` grows `self.merges` as it learns
(else the elapsed time alone), and by the time the text's first 1/64 took to encode
(learn/engine/loading.py). Your tokenizer is cached by text, vocabulary size and code
(.learn/tokenizers/), so a second run skips its training. Ctrl-C stops after the current step and
saves a checkpoint; a second Ctrl-C stops at once, keeping the last minute's checkpoint.

Bigger: --device cuda (auto picks the best present), --data a folder of text files or a token file
of `learn prepare` (learn/cli/datafiles.py), and several processes: `--nproc N`, or torchrun
started by hand (learn/cli/launch.py); then every process runs this command, and only rank 0
shows progress and writes the run folder.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from learn import ROOT, files
from learn.cli import launch
from learn.cli.console import err, pick_tree, shown, tell, usage_error
from learn.cli.datafiles import read_folder, read_tokens
from learn.cli.runs import (
    MEMORY,
    check_precision,
    copy_out,
    failed,
    fresh_run,
    latest_run,
    packages_through,
    precision_option,
    read_run,
    run_folder,
    tell_budget,
    workers,
)

#: Model presets for a laptop CPU: GPTModel's config, batch and learning rate. vocab_size is the
#: tokenizer's. "small" is the default: sized for 4 to 10 minutes of 2 laptop cores in fp32
#: (a deeper or wider model learns more per token but sees too few tokens in that time).
PRESETS = {
    "tiny": {"context_length": 64, "emb_dim": 128, "n_heads": 4, "n_layers": 2, "batch_size": 16, "lr": 2e-3, "vocab_size": 1024},
    "small": {"context_length": 128, "emb_dim": 128, "n_heads": 4, "n_layers": 4, "batch_size": 16, "lr": 3e-3, "vocab_size": 1024},
    "base": {"context_length": 256, "emb_dim": 384, "n_heads": 6, "n_layers": 6, "batch_size": 16, "lr": 6e-4, "vocab_size": 4096},
}  # fmt: skip
CACHE = ROOT / ".learn" / "tokenizers"
MARGIN = 120  # seconds the worker gets beyond --max-seconds (start-up; the run itself keeps the budget)
TOKENIZER_SECONDS = 3600  # seconds the worker gets, besides, to train the tokenizer and encode the text
WRITING = 3  # seconds kept from the budget for writing the run folder (matplotlib's import, mostly)
STOP_WAIT = 120  # seconds a stopped run gets to finish its step and send the checkpoint


def read_text(data: str) -> tuple[str, str]:
    """(text, what it is) for --data: a data set's name or a UTF-8 file."""
    from learn.data import DATASETS, DataError, fetch

    if Path(data).is_dir():
        return read_folder(Path(data)), data
    name = data if data.endswith(".txt") else data + ".txt"
    try:
        path = fetch(name) if name in DATASETS and not Path(data).is_file() else Path(data)
        text = path.read_text(encoding="utf-8")
    except DataError as e:
        raise usage_error(escape(f"{e}; or give a copy with --data PATH")) from None
    except FileNotFoundError:
        texts = ", ".join(n[:-4] for n in DATASETS if n.endswith(".txt"))
        raise usage_error(escape(f"--data {data}: no such file, and not one of {texts}")) from None
    except UnicodeDecodeError:
        raise usage_error(escape(f"--data {data}: not UTF-8 text")) from None
    except OSError as e:
        raise usage_error(escape(f"--data {data}: cannot read it ({e.strerror or e})")) from None
    if not text.strip():
        raise usage_error(escape(f"--data {data}: the file is empty"))
    return text, data


def pretrain(
    ctx: typer.Context,
    data: str = typer.Option("tinyshakespeare", "--data", metavar="NAME|PATH", help="tinyshakespeare, the-verdict, a UTF-8 text file, a folder of them, or a token file of `learn prepare` (.bin)."),
    model: str = typer.Option("small", "--model", metavar="PRESET", help="tiny, small or base (above)."),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", metavar="own|gpt2", help="Your stage-1 BPE tokenizer (trained here; the default) or GPT-2's."),
    vocab_size: Optional[int] = typer.Option(None, "--vocab-size", min=257, metavar="N", help="Your tokenizer's size (--tokenizer own)."),
    context_length: Optional[int] = typer.Option(None, "--context-length", min=2, metavar="N", help="Tokens the model sees at once."),
    emb_dim: Optional[int] = typer.Option(None, "--emb-dim", min=1, metavar="N", help="Width of every token's vector."),
    n_heads: Optional[int] = typer.Option(None, "--n-heads", min=1, metavar="N", help="Attention heads per block."),
    n_layers: Optional[int] = typer.Option(None, "--n-layers", min=1, metavar="N", help="Transformer blocks."),
    drop_rate: float = typer.Option(0.0, "--drop-rate", min=0.0, max=0.9, metavar="P", help="Dropout probability."),
    qkv_bias: bool = typer.Option(False, "--qkv-bias", help="Biases in the query, key and value projections."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, metavar="N", help="Sequences per micro-batch."),
    accumulation: int = typer.Option(1, "--accumulation", min=1, metavar="K", help="Micro-batches per optimizer step."),
    lr: Optional[float] = typer.Option(None, "--lr", min=0.0, metavar="LR", help="Peak learning rate."),
    min_lr: Optional[float] = typer.Option(None, "--min-lr", min=0.0, metavar="LR", help="Where the cosine ends (default: lr / 10)."),
    warmup_steps: int = typer.Option(30, "--warmup-steps", min=1, metavar="N", help="At most a fifth of the run."),
    weight_decay: float = typer.Option(0.1, "--weight-decay", min=0.0, metavar="W", help="AdamW's weight decay."),
    precision: str = precision_option(),
    max_seconds: Optional[float] = typer.Option(600, "--max-seconds", min=1, metavar="S", help="Training's budget (samples included); training and applying your tokenizer come before, within an hour of their own."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1, metavar="N", help="The schedule's length in optimizer steps."),
    stop_at: Optional[int] = typer.Option(None, "--stop-at", min=1, metavar="STEP", help="Pause at this step, as Ctrl-C does; --resume goes on."),
    run: Optional[str] = typer.Option(None, "--run", metavar="NAME|DIR", help="runs/NAME or a folder (default: a new runs/DATA-PRESET)."),
    resume: bool = typer.Option(False, "--resume", help="Go on from the run's checkpoint (default: the latest run)."),
    impl: Optional[str] = typer.Option(None, "--impl", metavar="TREE", help="Use the stages of this tree instead of stages/."),
    seed: int = typer.Option(123, "--seed", metavar="N", help="Seeds the weights, dropout and the data order."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, metavar="N", help="torch threads (default: every core, its share of them with several processes, or OMP_NUM_THREADS)."),
    as_json: bool = typer.Option(False, "--json", help="Print summary.json on stdout, no progress bar."),
    device: str = typer.Option("auto", "--device", metavar="auto|cpu|cuda|mps", help="Where to train (auto: a GPU if there is one)."),
    compile_model: bool = typer.Option(False, "--compile", help="torch.compile the model: faster steps on a GPU, after a minute of compiling."),
    nproc: Optional[int] = typer.Option(None, "--nproc", min=1, help="Train with N processes (data parallel, one per GPU or core) under torchrun."),
):  # fmt: skip
    """Train your GPT on a text; write checkpoint, loss curve, samples and summary to runs/NAME/.

    Presets: tiny (2 layers, 128 dims, context 64, vocabulary 1,024), small (4 layers, 128 dims,
    context 128, vocabulary 1,024) and base (6 layers, 384 dims, context 256, vocabulary 4,096).
    """
    if device not in ("auto", "cpu", "cuda", "mps"):
        raise usage_error(f"--device {escape(device)}: choose auto, cpu, cuda or mps")
    if device in ("cuda", "mps") and not launch.gpu_driver():
        raise usage_error(f"--device {device}: this machine shows no GPU driver: use --device cpu")
    if nproc is not None:  # this command again, as nproc processes
        if launch.world_size() > 1:
            raise usage_error("--nproc: this command runs under torchrun already, which decides how many processes")
        raise typer.Exit(launch.relaunch(ctx, nproc, device))
    started = time.time()
    main = launch.rank() == 0  # the others train, and write nothing
    tree = pick_tree(impl, None)
    packages = packages_through(5, tree, "learn pretrain")
    if resume:
        folder = run_folder(run) if run is not None else latest_run()
        info, _, saved_tokenizer = read_run(folder)
        tokens, text, what, digest = _read_data(info.get("data", data))
        if digest != info.get("data_sha256"):
            raise usage_error(escape(f"--resume: {what} is not the text {shown(folder)}/ was trained on; a run goes on with its own data"))
        config, train, tokenizer = info["config"], info["train"], info["tokenizer"]
    else:
        tokens, text, what, digest = _read_data(data)
        if tokens is not None and tokenizer not in (None, tokens.tokenizer):
            raise usage_error(escape(f"--tokenizer {tokenizer}: {data} was tokenized by {tokens.tokenizer} (learn prepare --tokenizer)"))
        tokenizer = tokens.tokenizer if tokens is not None else tokenizer or "own"
        if model not in PRESETS:
            raise usage_error(f"--model {escape(model)}: unknown preset; choose one of {', '.join(PRESETS)}")
        if tokenizer not in ("own", "gpt2"):
            raise usage_error(f"--tokenizer {escape(tokenizer)}: choose own or gpt2")
        check_precision(precision)
        preset = PRESETS[model]
        config = {"vocab_size": vocab_size or preset["vocab_size"], "context_length": context_length or preset["context_length"],
                  "emb_dim": emb_dim or preset["emb_dim"], "n_heads": n_heads or preset["n_heads"],
                  "n_layers": n_layers or preset["n_layers"], "drop_rate": drop_rate, "qkv_bias": qkv_bias}  # fmt: skip
        if config["emb_dim"] % config["n_heads"]:
            raise usage_error(f"--emb-dim {config['emb_dim']} is not a multiple of --n-heads {config['n_heads']}")
        peak = lr or preset["lr"]
        train = {"batch_size": batch_size or preset["batch_size"], "accumulation": accumulation, "lr": peak,
                 "min_lr": peak / 10 if min_lr is None else min_lr, "warmup_steps": warmup_steps,
                 "weight_decay": weight_decay, "precision": precision, "max_steps": max_steps, "seed": seed}  # fmt: skip
        folder = run_folder(run) if run is not None else fresh_run(f"{Path(data).stem}-{model}")
        if main and (folder / "run.json").exists():
            raise usage_error(escape(f"{shown(folder)}/ holds a run already: --resume goes on with it, or give another --run"))
        if tokens is not None:
            saved_tokenizer = tokens.saved_tokenizer
        else:
            saved_tokenizer = _cached_tokenizer(text, config["vocab_size"], tree) if tokenizer == "own" else None
        info = {"config": config, "train": train, "data": what, "data_sha256": digest, "tokenizer": tokenizer}
    if train["batch_size"] % launch.world_size():
        raise usage_error(f"--batch-size {train['batch_size']} is not a multiple of the {launch.world_size()} processes: "
                          "each takes an equal share of every batch")  # fmt: skip
    if main and not resume:
        _write_new(folder, info)
    settings = {**train, "threads": threads or launch.default_threads(), "stop_at": stop_at,
                "max_seconds": max_seconds - WRITING if max_seconds else None, "device": device, "compile": compile_model}  # fmt: skip
    kwargs = {"text": text, "config": config, "train": settings, "tokenizer": tokenizer, "saved_tokenizer": saved_tokenizer}
    inputs = {"resume": folder / "checkpoint.pt" if resume else None, "tokens": tokens.path if tokens is not None else None}
    memory = None if device != "cpu" and launch.gpu_driver() else MEMORY + (2 * tokens.tokens if tokens is not None else 0)
    seconds = (max_seconds or 10**7) + MARGIN + TOKENIZER_SECONDS
    result = _train(tree, packages, kwargs, inputs, memory, seconds, folder, quiet=as_json or not main)
    if not main:
        raise typer.Exit(130 if result["stopped"] and stop_at is None else 0)
    if tokenizer == "own":
        if tokens is None:
            _cache_tokenizer(text, config["vocab_size"], tree, result["tokenizer"])
        files.write_bytes(folder / "tokenizer.json", result["tokenizer"])
    _plot(result["history"], folder / "loss.png")
    if result["stopped"]:
        err.print(f"stopped at step {result['history']['losses'][-1][0] if result['history']['losses'] else 0}: "
                  f"go on with `learn pretrain --run {escape(str(shown(folder)))} --resume`")  # fmt: skip
        raise typer.Exit(130 if stop_at is None else 0)
    summary = {**result["summary"], "seconds": round(time.time() - started, 2), "data": what, "tokenizer": tokenizer}
    summary["time"] = {key: round(value, 2) for key, value in summary["time"].items()}
    files.write_text(folder / "samples.txt", result["samples"])
    files.write_text(folder / "summary.json", json.dumps(summary, indent=2) + "\n")
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        mfu = summary["config"].get("mfu")
        tell(f"wrote {escape(str(shown(folder)))}/: val loss {summary['val_loss']:.3f} (perplexity {summary['val_ppl']:.1f}, "
             f"{summary['val_bpb']:.3f} bits per byte), {summary['steps']:,} steps, {summary['tokens_per_second']:,.0f} tokens/s"
             + (f", MFU {mfu:.1%}" if mfu is not None else ""))  # fmt: skip
        tell_budget(summary)
        tell(f"try: learn generate \"ROMEO:\" --run {escape(str(shown(folder)))}")


def _read_data(data: str) -> tuple:
    """(token file or None, text, what it is, its SHA-256) for --data: a token file (.bin, whose
    hash `learn prepare` recorded; its text stays unread) or any text read_text takes."""
    if data.endswith(".bin"):
        tokens = read_tokens(Path(data))
        return tokens, "", data, tokens.sha256
    text, what = read_text(data)
    return None, text, what, hashlib.sha256(text.encode()).hexdigest()


def _write_new(folder: Path, info: dict) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        files.write_text(folder / "run.json", json.dumps(info, indent=2) + "\n")
    except OSError as e:
        raise usage_error(escape(f"cannot write {folder} ({e.strerror or e})")) from None


def _tokenizer_key(text: str, vocab_size: int, tree: Path) -> Path:
    """.learn/tokenizers/<hash of the training text, the size and stage 1's code>.json"""
    digest = hashlib.sha256(f"{vocab_size}\n".encode())
    digest.update(text[: int(len(text) * 0.9)].encode())  # the part the tokenizer trains on
    for path in sorted((tree / "stage1_tokenizer").rglob("*.py")):
        digest.update(path.read_bytes())
    return CACHE / f"{digest.hexdigest()[:32]}.json"


def _cached_tokenizer(text: str, vocab_size: int, tree: Path) -> bytes | None:
    path = _tokenizer_key(text, vocab_size, tree)
    try:
        return files.read_bytes(path)
    except OSError:
        return None


def _cache_tokenizer(text: str, vocab_size: int, tree: Path, data: bytes) -> None:
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        files.write_bytes(_tokenizer_key(text, vocab_size, tree), data)
    except OSError:
        pass  # a cache: the next run trains it again


def _train(tree: Path, packages: list[str], kwargs: dict, inputs: dict, memory: int | None, seconds: float, folder: Path,
           quiet: bool) -> dict:  # fmt: skip
    """The probe's result, with a progress bar; Ctrl-C asks the worker to stop after its step.
    inputs: {keyword: a path, or None}, opened here and given to the worker as {"fd": n}; its
    checkpoints are copied into the run folder as they come."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from learn.judge.workers import ProbeFailed

    saved = {"step": None, "events": 0}
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), TextColumn("{task.fields[info]}"),
               _time_left_column())
    with Progress(*columns, console=err, disable=quiet, transient=True) as bar:
        task = bar.add_task("starting", total=None, info="", ends=None)
        shown = bar.tasks[0]  # the bar's one task, whose speed and clock rich keeps

        def on_event(event: dict) -> None:
            saved["events"] += 1  # the probe has begun: it stops on SIGUSR1 from now on
            kind = event.get("event")
            if kind == "phase":  # the clock restarts: a slow tokenizer is seen taking its minutes
                bar.reset(task, description=str(event.get("message")), info="", ends=event.get("estimate"))
                shown.total = None  # a pulse, not an empty bar (reset keeps the total when given none)
            elif kind == "merges":  # the tokenizer's training, if its merges grow as it learns
                done, total = event["done"], event["total"]
                bar.update(task, completed=done, total=total, info=f"{done:,} of {total:,} merges")
                left = shown.time_remaining  # at rich's speed of the last 30 s
                bar.update(task, ends=None if left is None else shown.elapsed + left)
            elif kind == "step":
                info = f"loss {event['loss']:.3f}  lr {event['lr']:.1e}  {event['tokens_per_second']:,.0f} tokens/s"
                info += f"  MFU {event['mfu']:.1%}" if event.get("mfu") is not None else ""
                eta = event.get("eta")  # the worker's: steady as the schedule is sized again
                bar.update(task, description=f"step {event['step']:,}", completed=event.get("progress"), total=1.0,
                           info=info, ends=shown.elapsed + eta if eta is not None and math.isfinite(eta) else None)
            elif kind == "eval" and not quiet:
                bar.console.print(f"step {event['step']:>6,}  train loss {event['train_loss']:.3f}  val loss {event['val_loss']:.3f}  "
                                  f"perplexity {event['val_ppl']:8.1f}  {event['val_bpb']:.3f} bits/byte  "
                                  f"({event.get('batches')} {'batch' if event.get('batches') == 1 else 'batches'} of each split)")  # fmt: skip
            elif kind == "checkpoint" and isinstance(event.get("checkpoint"), dict):
                copy_out(engine, event["checkpoint"], folder / "checkpoint.pt")
                saved["step"] = event.get("step")

        opened = {key: os.fdopen(files.open_regular(path), "rb") for key, path in inputs.items() if path is not None}
        engine = workers(tree, packages, memory, tuple(f.fileno() for f in opened.values()), gpt2=kwargs["tokenizer"] == "gpt2")
        kwargs = {**kwargs, **{key: {"fd": f.fileno()} for key, f in opened.items()}}
        try:
            try:
                result = engine.run("learn.engine.pretrain:probe_pretrain", kwargs, seconds, on_event=on_event,
                                    package="stage5_pretrain")
            except KeyboardInterrupt:
                if not saved["events"]:  # still starting: nothing to save
                    raise
                bar.update(task, description="stopping after this step (Ctrl-C again: at once)")
                result = engine.stop(STOP_WAIT, on_event=on_event)
            if result["checkpoint"] is not None:
                copy_out(engine, result["checkpoint"], folder / "checkpoint.pt")
            return result
        except ProbeFailed as e:
            raise failed(e, folder) from None
        except KeyboardInterrupt:
            where = f"the checkpoint of step {saved['step']:,} is" if saved["step"] is not None else "no checkpoint was"
            err.print(f"interrupted: {where} saved in {escape(str(shown(folder)))}/")
            raise typer.Exit(130) from None
        finally:
            engine.close()
            for f in opened.values():
                f.close()


def _time_left_column():
    """A rich column that says the time a phase has left (`_time_left`), counted down at every refresh."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class TimeLeft(ProgressColumn):
        def render(self, task) -> Text:
            return Text(_time_left(task), style="progress.remaining")

    return TimeLeft()


def _time_left(task) -> str:
    """The time a rich task has left by its latest estimate of its end, fields["ends"] (seconds after
    its start); nothing without one, or once it has passed, where the elapsed time alone is shown.

    Example: ends 90.0 and elapsed 24.3 -> "1:06 left"; elapsed 95.0 -> "".
    """
    ends, elapsed = task.fields.get("ends"), task.elapsed
    if ends is None or elapsed is None or ends <= elapsed:
        return ""
    return f"{_clock(math.ceil(ends - elapsed))} left"


def _clock(seconds: float | None) -> str:
    """4:05 for 245 seconds, 1:02:05 for 3,725; nothing for an unknown or endless time."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _plot(history: dict, png: Path) -> None:
    """Training loss (each step) and validation loss (each evaluation) against tokens seen."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.plot([t for _, t, _ in history["losses"]], [v for _, _, v in history["losses"]], linewidth=0.8, alpha=0.6, label="train (each step)")
    if history["evals"]:
        ax.plot([e[1] for e in history["evals"]], [e[3] for e in history["evals"]], "o-", label="validation")
    ax.set_xlabel("tokens seen")
    ax.set_ylabel("loss (nats per token)")
    ax.legend()
    files.save_figure(fig, png)
