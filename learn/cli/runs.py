"""What the commands that train and use a model share: run folders, the stages they need, and the
worker that runs the learner's code for them (learn pretrain, generate, show --run, finetune, classify).

A run folder, runs/<name>/ in the course (or any folder given as a path), holds:
    run.json        what the run was started with: config, training settings, data, tokenizer;
                    a fine-tuning run's also its "task" (classify or instruct) and where it started
    checkpoint.pt   weights, optimizer, step, schedule and random generators (stage 5's save_checkpoint);
                    a fine-tuning run's: its weights (learn/engine/finetune.py says which)
    tokenizer.json  the learner's trained BPE tokenizer (absent with GPT-2's tokenizer)
    summary.json, loss.png, samples.txt   written when a run finishes (learn finetune: its own files)
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import time
from pathlib import Path

import typer
from rich.markup import escape

from learn import ROOT, files
from learn.cli.console import DEFAULT_TREE, err, error_line, load_course, load_progress, shown, tell, usage_error
from learn.shared import wire

RUNS = ROOT / "runs"
MEMORY = 4 * 2**30  # bytes of address space for a worker that trains
TASKS = 4096  # processes and threads of a worker's own user: a GPU's runtime and torch.compile's workers start many
GPT2_MEMORY = 12 * 2**30  # for a worker that holds GPT-2 (124M): its file mapped, the model copied, AdamW's moments
GPT2_WEIGHTS = "gpt2-124m.safetensors"  # learn/data.py's name for GPT-2's published weights
PRECISIONS = ("auto", "bf16", "fp32")  # learn/engine/distributed.py's pick_precision decides what auto is


def precision_option():
    """The --precision option of the commands that train."""
    return typer.Option("auto", "--precision", metavar="|".join(PRECISIONS),
                        help="bf16 autocast (fp32 weights) or fp32; auto: bf16 where the device has bf16 arithmetic "
                             "(a recent GPU, a CPU with AVX-512 or AMX), else fp32.")  # fmt: skip


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise usage_error(f"--precision {escape(precision)}: choose {', '.join(PRECISIONS)}")


def run_folder(run: str) -> Path:
    """runs/<run> in the course folder, or `run` itself if it names a path."""
    path = Path(run).expanduser()
    return path if len(path.parts) > 1 or path.is_absolute() else RUNS / run


def fresh_run(base: str) -> Path:
    """runs/<base>, or runs/<base>-2, -3, ...: the first that holds no run yet."""
    folder, n = RUNS / base, 1
    while (folder / "run.json").exists():
        n += 1
        folder = RUNS / f"{base}-{n}"
    return folder


def latest_run(task: str | None = None) -> Path:
    """The run folder in runs/ whose checkpoint was written last: of a `learn pretrain` run, or
    with `task` of a `learn finetune TASK` run."""
    checkpoints = sorted(RUNS.glob("*/checkpoint.pt"), key=lambda p: p.stat().st_mtime) if RUNS.is_dir() else []
    checkpoints = [c for c in checkpoints if _task(c.parent) == task]
    if not checkpoints:
        how = f"learn finetune {task}" if task else "learn pretrain"
        raise usage_error(f"no run of `{how}` in runs/ yet: train one with it, or give --run DIR")
    return checkpoints[-1].parent


def _task(folder: Path) -> str | None:
    """A run folder's task ("classify", "instruct"; None for pretraining), "?" if unreadable."""
    try:
        info = json.loads(files.read_text(folder / "run.json"))
        return info.get("task") if type(info) is dict else "?"
    except (OSError, ValueError):
        return "?"


def read_run(folder: Path) -> tuple[dict, Path, bytes | None]:
    """(run.json, the checkpoint's path, tokenizer bytes or None) of a run folder, or a one-line
    usage error. The checkpoint is not read here: it can be GBs (GPT-2 with AdamW's moments), and
    the worker maps it from where `workers_reading` hands it over."""
    try:
        info = json.loads(files.read_text(folder / "run.json"))
        checkpoint = folder / "checkpoint.pt"
        os.close(files.open_regular(checkpoint))  # a plain file, or the one line below; the worker reads it
        tokenizer = files.read_bytes(folder / "tokenizer.json") if info.get("tokenizer") == "own" else None
    except (OSError, ValueError, AttributeError):
        raise usage_error(escape(f"{shown(folder)}/ holds no readable run (run.json, checkpoint.pt, tokenizer.json): "
                                 "give the folder of a `learn pretrain` run")) from None  # fmt: skip
    if type(info) is not dict:
        raise usage_error(escape(f"{shown(folder)}/run.json is not a run's description"))
    return info, checkpoint, tokenizer


def packages_through(stage_number: int, tree: Path, doing: str) -> list[str]:
    """The packages of stages 1..stage_number, which `doing` runs from `tree`; a usage error if one
    is missing, or, on the course's own stages/, if one has not passed `learn check` yet."""
    course = load_course()
    stages = course[:stage_number]
    if tree.resolve() == DEFAULT_TREE.resolve():
        prog = load_progress()
        waiting = next((s for s in stages if prog.state(s, course) != "passed"), None)
        if waiting is not None:
            raise usage_error(f"{doing} runs your stages 1 to {stage_number}, and stage {waiting.number} has not passed yet: "
                              f"`learn check {waiting.number}` first")  # fmt: skip
    missing = [s.package for s in stages if not (tree / s.package).is_dir()]
    if missing:
        raise usage_error(escape(f"{shown(tree)} holds no {', '.join(missing)}/: {doing} runs your stages 1 to {stage_number}"))
    return [s.package for s in stages]


def workers(tree: Path, packages: list[str], memory: int | None = MEMORY, pass_fds: tuple[int, ...] = (),
            gpt2: bool = False):  # fmt: skip
    """A worker over `tree` for the engine's probes, contained as the grader's are, with room to
    train: `memory` bytes of address space (None: no limit, as a GPU's driver needs), the open
    files `pass_fds` (learn/judge/workers.py), and with `gpt2` GPT-2's tokenizer files."""
    from learn.judge import reaper
    from learn.judge.workers import Workers
    from learn.shared.limits import Limits

    reaper.guard_this_process()
    limits = Limits(address_space=memory, cpu_seconds=None, file_size=None, processes=TASKS)
    ranks = int(os.environ.get("WORLD_SIZE", "1") or 1) > 1  # under torchrun the ranks' workers talk over the network
    shared = tiktoken_cache() if gpt2 else {}
    return Workers(packages, tree, limits, pass_fds, network=ranks, devices=True, shared=shared, reply_limit=wire.MAX_MESSAGE)


def gpt2_encoding():
    """tiktoken's GPT-2 encoding, its files fetched into tiktoken's cache where they are missing."""
    import tiktoken

    try:
        return tiktoken.get_encoding("gpt2")
    except Exception as e:  # noqa: BLE001 (no network and no cached files)
        raise usage_error(f"GPT-2's tokenizer files could not be loaded ({escape(type(e).__name__)}): "
                          "connect once (tiktoken keeps them), or train with --tokenizer own") from None  # fmt: skip


def tiktoken_cache() -> dict[str, Path]:
    """GPT-2's tokenizer files for a worker, which has no network: tiktoken's cache folder (by
    tiktoken's own rule), filled here first, under the variable that names it to tiktoken."""
    gpt2_encoding()
    default = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    folder = os.environ.get("TIKTOKEN_CACHE_DIR", os.environ.get("DATA_GYM_CACHE_DIR", default))
    return {"TIKTOKEN_CACHE_DIR": Path(folder)} if folder else {}  # "": tiktoken caches nothing


def workers_reading(tree: Path, packages: list[str], checkpoint: Path, memory: int = MEMORY, gpt2: bool = False):
    """(a worker as `workers` makes one, with room to map `checkpoint` besides `memory`; where the
    worker reads the checkpoint: hand_over)."""
    engine = workers(tree, packages, memory + checkpoint.stat().st_size, gpt2=gpt2)
    try:
        return engine, hand_over(engine, checkpoint)
    except BaseException:
        engine.close()
        raise


def copy_out(engine, value: dict, dest: Path) -> None:
    """Copy a file the worker wrote in its home, {"file": path} (a checkpoint), to `dest`, which
    is replaced whole or not at all; then remove it there. Only a plain file right in the
    worker's home is taken, never through a link."""
    src = Path(str(value.get("file")))
    if src.parent != engine.home:
        raise OSError(f"the worker named a file outside its home: {src}")
    fd = os.open(src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"the worker's {src.name} is not a plain file")
        files.copy_into(f, dest)
    src.unlink()


def gpt2_weights(init: str) -> Path:
    """GPT-2's verified weights file for "gpt2" (downloaded once, learn/data.py), or the
    GPT-2-format .safetensors file that `init` names."""
    from learn.data import DataError, fetch

    if init == "gpt2":
        try:
            return fetch(GPT2_WEIGHTS)
        except DataError as e:
            raise usage_error(escape(str(e))) from None
    path = Path(init).expanduser()
    if not path.is_file():
        raise usage_error(escape(f"{init}: no such file (GPT-2's weights in a .safetensors file)"))
    return path


def hand_over(engine, path: Path) -> str:
    """Where the worker of `engine` reads the file at `path`: a link to it (a copy where a link
    cannot be made, or where others may not read it) in the worker's own folder, which the worker
    may read whatever user it runs as and wherever `path` lies. For inputs too large to cross as
    data (GPT-2's 548 MB). Only a plain file is handed over, never through a link, and always the
    very file that was opened: a link that replaced it in between is refused."""
    dest = engine.home / path.name
    fd = files.open_regular(path)
    with os.fdopen(fd, "rb") as f:
        opened = os.fstat(fd)
        try:
            if not opened.st_mode & 0o004:
                raise PermissionError("others may not read it")  # a link keeps the file's permissions
            os.link(path, dest, follow_symlinks=False)
        except OSError:
            files.copy_into(f, dest)
            return str(dest)
        linked = os.lstat(dest)
        if (linked.st_dev, linked.st_ino) != (opened.st_dev, opened.st_ino):  # replaced in between: what we opened
            dest.unlink()
            files.copy_into(f, dest)
    return str(dest)


def tell_budget(summary: dict) -> None:
    """Where a finished run's seconds went (its summary's "time") and, if it trained under half its
    planned steps, why: "time: tokenizer 3 s, training 50 s (evaluations 5 s), final evaluation 2 s"."""
    seconds = summary["time"]
    within = {"training": f" (evaluations {seconds.get('evaluations', 0):,.0f} s)"}  # evaluations are part of training
    said = [f"{key.replace('_', ' ')} {value:,.0f} s{within.get(key, '')}" for key, value in seconds.items()
            if key != "evaluations"]  # fmt: skip
    tell("time: " + ", ".join(said))
    if summary["planned_steps"] and summary["steps"] < summary["planned_steps"] / 2:
        tell(why_short(summary))


def why_short(summary: dict) -> str:
    """Why a run trained far fewer steps than planned: the budget ran out before its speed was
    measured (start-up and loading took it), its steps slowed down, or its evaluations did."""
    slowdown = summary["slowdown"]
    why = "the evaluations took longer than measured at the start"
    if slowdown is None:
        why = "the budget ran out before the steps' speed was measured (start-up and loading took it)"
    elif slowdown > 1.2:
        why = f"steps took {slowdown:.1f}x longer than measured at the start (the machine was busy?)"
    return f"trained {summary['steps']:,} of {summary['planned_steps']:,} planned steps: {why}"


def failed(e: Exception, folder: Path | None = None) -> typer.Exit:
    """A probe that failed: its sentence on one line, exit 1. The worker's traceback of it, if any,
    goes to `folder`/error.log (the run's folder; without one .learn/logs/), which the line names."""
    line = " ".join(str(e).split())
    log = getattr(e, "log", "")
    if log:
        path = write_log(line, log, folder)
        line += f" (traceback in {shown(path)})" if path else ""
    error_line(escape(line))
    return typer.Exit(1)


def write_log(line: str, log: str, folder: Path | None) -> Path | None:
    """Where `line` and the traceback `log` were written, or None where they could not be."""
    from learn import progress

    logs = progress.path().parent / "logs"
    name = f"run-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"  # the pid: two failures in one second
    path = folder / "error.log" if folder else logs / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{line}\n\n{log}\n", encoding="utf-8")
    except OSError:
        return None
    return path


def with_progress(engine, probe, kwargs: dict, seconds: float, quiet: bool, on_event, package: str, stop_wait: float,
                  folder: Path | None = None) -> dict:  # fmt: skip
    """The result of a long probe of the engine's (learn/engine/finetune.py), with a progress bar.

    "phase" events name what the worker does; "step" events ({"step", "total_steps", "loss", "lr",
    "examples_per_second"}) move the bar; every other event goes to on_event(event, console), which prints above the bar.
    Ctrl-C asks the worker to stop after its step and waits up to stop_wait seconds for what it
    then sends; a second Ctrl-C ends the command at once (exit 130). A failure's traceback goes to
    `folder`/error.log (`failed`)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from learn.judge.workers import ProbeFailed

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"), TimeRemainingColumn())
    with Progress(*columns, console=err, disable=quiet, transient=True) as bar:
        task = bar.add_task("starting", total=None, info="")

        def event(e: dict) -> None:
            if e.get("event") == "phase":
                bar.update(task, description=str(e.get("message")))
            elif e.get("event") == "step":
                info = f"loss {e['loss']:.3f}  lr {e['lr']:.1e}  {e['examples_per_second']:,.1f} examples/s"
                bar.update(task, description=f"step {e['step']:,}", completed=e["step"], total=e.get("total_steps"), info=info)
            else:
                on_event(e, bar.console)

        try:
            try:
                return engine.run(probe, kwargs, seconds, on_event=event, package=package)
            except KeyboardInterrupt:
                bar.update(task, description="stopping after this step (Ctrl-C again: at once)")
                return engine.stop(stop_wait, on_event=event)
        except ProbeFailed as e:
            raise failed(e, folder) from None
        except KeyboardInterrupt:
            err.print("interrupted: nothing was saved")
            raise typer.Exit(130) from None
        finally:
            engine.close()
