"""What the commands that train and use a model share: run folders, the stages they need, and the
worker that runs the learner's code for them (learn pretrain, generate, show --run).

A run folder, runs/<name>/ in the course (or any folder given as a path), holds:
    run.json        what the run was started with: config, training settings, data, tokenizer
    checkpoint.pt   weights, optimizer, step, schedule and random generators (stage 5's save_checkpoint)
    tokenizer.json  the learner's trained BPE tokenizer (absent with --tokenizer gpt2)
    summary.json, loss.png, samples.txt   written when a run finishes
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import typer
from rich.markup import escape

from learn import ROOT
from learn.cli.console import DEFAULT_TREE, error_line, load_course, load_progress, shown, usage_error

RUNS = ROOT / "runs"
MEMORY = 4 * 2**30  # bytes of address space for a worker that trains
TASKS = 4096  # processes and threads of a worker's own user: a GPU's runtime and torch.compile's workers start many


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


def latest_run() -> Path:
    """The run folder in runs/ whose checkpoint was written last."""
    checkpoints = sorted(RUNS.glob("*/checkpoint.pt"), key=lambda p: p.stat().st_mtime) if RUNS.is_dir() else []
    if not checkpoints:
        raise usage_error("no run in runs/ yet: train one with `learn pretrain`, or give --run DIR")
    return checkpoints[-1].parent


def read_run(folder: Path) -> tuple[dict, bytes, bytes | None]:
    """(run.json, checkpoint bytes, tokenizer bytes or None) of a run folder, or a one-line usage error."""
    try:
        info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        checkpoint = (folder / "checkpoint.pt").read_bytes()
        tokenizer = (folder / "tokenizer.json").read_bytes() if info.get("tokenizer") == "own" else None
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


def workers(tree: Path, packages: list[str], memory: int | None = MEMORY, pass_fds: tuple[int, ...] = ()):
    """A worker over `tree` for the engine's probes, contained as the grader's are, with room to
    train: `memory` bytes of address space (None: no limit, as a GPU's driver needs), and the open
    files `pass_fds` (learn/judge/workers.py)."""
    from learn.judge import reaper
    from learn.judge.workers import Workers
    from learn.worker.sandbox import Limits

    reaper.guard_this_process()
    return Workers(packages, tree, Limits(address_space=memory, cpu_seconds=None, file_size=None, processes=TASKS), pass_fds)


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
        tmp = dest.with_name(dest.name + ".tmp")
        with open(tmp, "wb") as out:
            shutil.copyfileobj(f, out, 1 << 20)
        os.replace(tmp, dest)
    src.unlink()


def failed(e: Exception) -> typer.Exit:
    """A probe that failed: its sentence on one line, exit 1."""
    error_line(escape(" ".join(str(e).split())))
    return typer.Exit(1)
