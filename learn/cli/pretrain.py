"""`learn pretrain`: train your GPT (stages 1-5) on a text and write a run folder.

    learn pretrain                                   tinyshakespeare, tiny model, 10 minutes at most
    learn pretrain --data the-verdict --model small --max-seconds 240
    learn pretrain --data notes.txt --max-steps 200 --run mine
    learn pretrain --run mine --resume               go on from the last checkpoint of runs/mine/

Where your code runs. Never in this process: a worker, contained as the grader's are
(learn/judge/workers.py), runs learn/worker/pretrain.py's probe on a copy of your tree and sends
progress events (the bar here) and the results back as plain data: the checkpoint and tokenizer as
bytes. This process writes runs/<name>/ itself, because the worker's files live in a temporary
copy, possibly as another user, and would not survive it. runs/<name>/ holds checkpoint.pt,
tokenizer.json (with --tokenizer own), loss.png, samples.txt and summary.json.

Ctrl-C stops the run; the worker sends a checkpoint every minute, which is then kept, and the
command says how to resume from it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from learn import ROOT
from learn.cli.console import err, load_course, out, pick_tree, shown, usage_error

PACKAGES = ["stage1_tokenizer", "stage2_data", "stage3_attention", "stage4_model", "stage5_pretrain"]
PRESETS = {  # GPTModel configs; vocab_size is the tokenizer's
    "tiny": {"context_length": 64, "emb_dim": 64, "n_heads": 2, "n_layers": 2, "batch_size": 8, "lr": 1e-3},
    "small": {"context_length": 128, "emb_dim": 256, "n_heads": 4, "n_layers": 4, "batch_size": 16, "lr": 1e-3},
    "base": {"context_length": 256, "emb_dim": 384, "n_heads": 6, "n_layers": 6, "batch_size": 16, "lr": 6e-4},
}
VOCAB_SIZE = 4096  # the learner's BPE tokenizer's size, unless --vocab-size says otherwise
MARGIN = 300  # seconds beyond --max-seconds for the tokenizer, the evaluation and the samples
MEMORY = 4 * 2**30  # bytes of address space for the worker
RUNS = ROOT / "runs"


def run_folder(run: str) -> Path:
    """runs/<run> in the course folder, or `run` itself if it names a path."""
    path = Path(run).expanduser()
    return path if len(path.parts) > 1 or path.is_absolute() else RUNS / run


def read_text(data: str) -> tuple[str, str]:
    """(text, what it is) for --data: a data set's name or a UTF-8 file."""
    from learn.data import DATASETS, DataError, fetch

    name = data if data.endswith(".txt") else data + ".txt"
    try:
        path = fetch(name) if name in DATASETS and not Path(data).is_file() else Path(data)
        text = path.read_text(encoding="utf-8")
    except DataError as e:
        raise usage_error(escape(str(e))) from None
    except FileNotFoundError:
        raise usage_error(escape(f"--data {data}: no such file, and not one of {', '.join(n[:-4] for n in DATASETS)}")) from None
    except UnicodeDecodeError:
        raise usage_error(escape(f"--data {data}: not UTF-8 text")) from None
    except OSError as e:
        raise usage_error(escape(f"--data {data}: cannot read it ({e.strerror or e})")) from None
    if not text.strip():
        raise usage_error(escape(f"--data {data}: the file is empty"))
    return text, data


def pretrain(
    data: str = typer.Option("tinyshakespeare", "--data", metavar="NAME|PATH", help="tinyshakespeare, the-verdict, or a UTF-8 text file."),
    model: str = typer.Option("tiny", "--model", metavar="PRESET", help="tiny, small or base."),
    tokenizer: str = typer.Option("own", "--tokenizer", metavar="own|gpt2", help="Your stage-1 BPE tokenizer (trained here) or GPT-2's."),
    max_seconds: float = typer.Option(600, "--max-seconds", min=1, help="Stop training after this long."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1, help="Stop after this many optimizer steps."),
    run: str = typer.Option("latest", "--run", metavar="NAME|DIR", help="The run folder: runs/NAME, or a path."),
    resume: bool = typer.Option(False, "--resume", help="Go on from the run folder's checkpoint."),
    impl: Optional[str] = typer.Option(None, "--impl", metavar="TREE", help="Use the stages of this tree instead of stages/ (e.g. solutions)."),
    seed: int = typer.Option(123, "--seed", help="Seeds the model's weights and the data order."),
    vocab_size: int = typer.Option(VOCAB_SIZE, "--vocab-size", min=257, help="Your BPE tokenizer's size (--tokenizer own)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="torch threads (default: torch's choice)."),
    as_json: bool = typer.Option(False, "--json", help="Print summary.json on stdout, no progress bar."),
):  # fmt: skip
    """Train your GPT on a text; write checkpoint, loss curve, samples and summary to runs/NAME/."""
    load_course()
    if model not in PRESETS:
        raise usage_error(f"--model {escape(model)}: unknown preset; choose one of {', '.join(PRESETS)}")
    if tokenizer not in ("own", "gpt2"):
        raise usage_error(f"--tokenizer {escape(tokenizer)}: choose own or gpt2")
    tree = pick_tree(impl, None)
    missing = [p for p in PACKAGES if not (tree / p).is_dir()]
    if missing:
        raise usage_error(escape(f"{shown(tree)} holds no {', '.join(missing)}/: learn pretrain runs your stages 1 to 5"))
    folder = run_folder(run)
    previous = None
    if resume:
        try:
            previous = {"checkpoint": (folder / "checkpoint.pt").read_bytes(),
                        "tokenizer": (folder / "tokenizer.json").read_bytes() if (folder / "tokenizer.json").is_file() else None}  # fmt: skip
        except OSError:
            raise usage_error(escape(f"--resume: {shown(folder)}/checkpoint.pt cannot be read; start without --resume")) from None
    text, what = read_text(data)
    preset = PRESETS[model]
    config = {"vocab_size": vocab_size, "context_length": preset["context_length"], "emb_dim": preset["emb_dim"],
              "n_heads": preset["n_heads"], "n_layers": preset["n_layers"], "drop_rate": 0.0, "qkv_bias": False}  # fmt: skip
    train = {"batch_size": preset["batch_size"], "lr": preset["lr"], "weight_decay": 0.1, "max_steps": max_steps,
             "max_seconds": max_seconds, "seed": seed, "threads": threads}  # fmt: skip
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise usage_error(escape(f"cannot make {folder} ({e.strerror or e})")) from None
    kwargs = {"text": text, "config": config, "train": train, "tokenizer": tokenizer, "resume": previous}
    result = _train(tree, kwargs, max_seconds + MARGIN, folder, quiet=as_json)
    summary = {**result["summary"], "data": what, "tokenizer": tokenizer}
    _write(folder, result, summary)
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        out.print(f"wrote {escape(str(shown(folder)))}/: val loss {summary['val_loss']:.3f}, val bits/byte {summary['val_bpb']:.3f}, "
                  f"{summary['steps']} steps, {summary['tokens_per_second']:,.0f} tokens/s")  # fmt: skip


def _train(tree: Path, kwargs: dict, seconds: float, folder: Path, quiet: bool) -> dict:
    """The probe's result; on Ctrl-C the last checkpoint is kept and the command exits 130."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from learn.judge import reaper
    from learn.judge.workers import ProbeFailed, Workers
    from learn.worker.pretrain import probe_pretrain
    from learn.worker.sandbox import Limits

    reaper.guard_this_process()
    saved = {"step": None}
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                  console=err, disable=quiet, transient=True) as bar:  # fmt: skip
        task = bar.add_task("starting", total=None, info="")

        def on_event(event: dict) -> None:
            if event.get("event") == "phase":
                bar.update(task, description=str(event.get("message")))
            elif event.get("event") == "step":
                info = f"loss {event['loss']:.3f}  lr {event['lr']:.2e}  {event['tokens_per_second']:,.0f} tok/s  eta {event['eta']:.0f}s"
                bar.update(task, description=f"step {event['step']}", completed=event["step"], total=event.get("total_steps"), info=info)
            elif event.get("event") == "checkpoint" and isinstance(event.get("checkpoint"), bytes):
                (folder / "checkpoint.pt").write_bytes(event["checkpoint"])
                saved["step"] = event.get("step")

        workers = Workers(PACKAGES, tree, Limits(address_space=MEMORY, cpu_seconds=None, file_size=None))
        try:
            return workers.run(probe_pretrain, kwargs, seconds, on_event=on_event, package="stage5_pretrain")
        except ProbeFailed as e:
            err.print(f"[bold red]error:[/] {escape(' '.join(str(e).split()))}")
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            if saved["step"] is None:
                err.print("interrupted before the first checkpoint: nothing saved")
            else:
                err.print(f"interrupted: the checkpoint of step {saved['step']} is in {escape(str(shown(folder)))}/; "
                          f"go on with `learn pretrain --run {escape(str(folder))} --resume`")  # fmt: skip
            raise typer.Exit(130) from None
        finally:
            workers.close()


def _write(folder: Path, result: dict, summary: dict) -> None:
    (folder / "checkpoint.pt").write_bytes(result["checkpoint"])
    if result["tokenizer"] is not None:
        (folder / "tokenizer.json").write_bytes(result["tokenizer"])
    (folder / "samples.txt").write_text(result["samples"], encoding="utf-8")
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    _plot(result["losses"], folder / "loss.png")


def _plot(losses: list, png: Path) -> None:
    """The training loss per step; matplotlib's Agg backend, no pyplot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.plot([s for s, _ in losses], [v for _, v in losses], linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (nats/token)")
    fig.savefig(png, dpi=100)
