"""Several processes for `learn pretrain`: which one this is under torchrun, and `--nproc N`.

    torchrun --standalone --nproc-per-node 2 -m learn -- pretrain ARGS  you start them
    learn pretrain --nproc 2 ARGS                                        the same, started for you

torchrun starts N copies of the command with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
MASTER_ADDR and MASTER_PORT set. Each copy starts its own worker, which inherits them and joins the
others as one rank of DistributedDataParallel (learn/engine/distributed.py). Rank 0 is the run as
one process would be: progress bar, run folder, summary. The other ranks write nothing; they
print only an error of their own.

--nproc N checks N against the devices (GPUs for CUDA, else CPU cores), then runs torchrun's own
launcher (torch.distributed.run) in this process: a free port on this machine (--standalone),
the same command without --nproc, rank 0's output here, the other ranks' into a log folder. Its
own logging is silenced. When ranks fail, each leaves its error line and the time
(learn/cli/console.py's error_line, in $LEARN_RANK_ERRORS); the first to fail is the cause, and if
that was not rank 0, which has spoken already, its line is shown ("rank 1: ..."): a rank that was
killed is named, a mistake that every rank makes is said once.
Ctrl-C reaches every rank (torchrun forwards it), and each stops after the same step, rank 0
saving the checkpoint.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

from rich.markup import escape

from learn.cli.console import err, usage_error


def rank() -> int:
    """This process's rank among the run's processes (0 when it runs alone)."""
    return int(os.environ.get("RANK", 0))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", 1))


def default_threads() -> int | None:
    """torch threads for each of several processes on one machine: its share of the cores; alone,
    OMP_NUM_THREADS where it is set (as torch reads it), else None: every core. (torchrun sets
    OMP_NUM_THREADS=1 for each of its processes, hence the share first.) On a busy machine, threads
    beyond the free cores wait on each other: a run can be ten times slower."""
    here = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
    if here > 1:
        return max(1, (os.cpu_count() or 1) // here)
    told = os.environ.get("OMP_NUM_THREADS", "")
    return int(told) if told.isdigit() and int(told) > 0 else None


def gpu_driver() -> bool:
    """Whether a GPU driver is visible (NVIDIA's or AMD's on Linux; Apple's on macOS), without
    importing torch: its workers then get no address-space limit, which a driver's mappings exceed."""
    return sys.platform == "darwin" or os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/kfd")


def devices(device: str) -> tuple[int, str]:
    """(how many processes --device can feed on this machine, what they are)."""
    import torch

    if device in ("auto", "cuda") and torch.cuda.is_available():
        return torch.cuda.device_count(), "CUDA GPUs"
    if device == "cuda":
        return 0, "CUDA GPUs"
    if device == "mps":
        return 1, "Apple GPU"
    return os.cpu_count() or 1, "CPU cores"


def arguments(ctx, leave: str) -> list[str]:
    """The arguments of the command of `ctx` (a typer.Context) as they were given, without the
    option named `leave`: each parameter that was not left at its default, written back."""
    args = [ctx.info_name]  # the command, e.g. "pretrain"
    for param in ctx.command.params:
        name, value = param.name, ctx.params.get(param.name)
        source = ctx.get_parameter_source(name)
        if name == leave or source is None or source.name == "DEFAULT":
            continue
        if param.param_type_name == "argument":
            args.append(str(value))
        elif getattr(param, "is_flag", False):
            args.append(param.opts[0] if value else param.secondary_opts[0])
        else:
            args += [param.opts[0], str(value)]
    return args


def relaunch(ctx, nproc: int, device: str) -> int:
    """Run the command of `ctx` again as `nproc` processes under torchrun; their exit status."""
    count, what = devices(device)
    if nproc > count:
        raise usage_error(f"--nproc {nproc}: this machine has {count} {what}, one per process: give --nproc {count} at most"
                          if count else f"--device {device}: this machine has no {what}")  # fmt: skip
    return torchrun(nproc, arguments(ctx, "nproc"))


def torchrun(nproc: int, args: list[str]) -> int:
    """`torchrun --standalone --nproc-per-node nproc -m learn -- ARGS`, in this process. ("--": else
    torchrun's parser takes `--run` for an abbreviation of its own --run-path, and refuses it.)"""
    import logging

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    logger = logging.getLogger("torch.distributed")  # torch gives it a handler of its own
    logger.handlers, logger.propagate = [logging.NullHandler()], False  # its warnings and failure report: we say it in a line
    with tempfile.TemporaryDirectory(prefix="learn-ranks-") as logs:
        errors = Path(logs, "errors")
        errors.mkdir()
        os.environ["LEARN_RANK_ERRORS"] = str(errors)  # the ranks inherit it
        others = ",".join(f"{r}:3" for r in range(1, nproc))  # 3: stdout and stderr to the log folder
        options = ["--standalone", f"--nproc-per-node={nproc}", f"--log-dir={logs}", *([f"--redirects={others}"] if others else [])]
        try:
            run(parse_args([*options, "--module", "learn", "--", *args]))  # "--": --run is not torchrun's --run-path
        except ChildFailedError as e:
            return _failed(e, errors)
        except SignalException:
            return 130
        finally:
            del os.environ["LEARN_RANK_ERRORS"]
    return 0


def _failed(e, errors: Path) -> int:
    """One line for the failure of a rank other than 0 (rank 0 speaks for itself); the exit status
    of the lowest rank that exited with one."""
    codes = {r: f.exitcode for r, f in e.failures.items()}
    killed = sorted(r for r, code in codes.items() if code < 0 and -code != signal.SIGTERM)  # SIGTERM: torchrun's own
    said = {}  # rank -> (time, line)
    for path in errors.glob("*.txt"):
        when, _, line = path.read_text(errors="replace").partition("\n")
        said[int(path.stem)] = (float(when), line.strip())
    if killed:
        err.print(f"rank {killed[0]}: its process was killed ({signal.Signals(-codes[killed[0]]).name}: out of memory, or by hand)")
    elif said:
        first = min(said, key=lambda r: said[r][0])
        if first != 0 and said[first][1] != said.get(0, (0, None))[1]:
            err.print(f"rank {first}: {escape(said[first][1])}")
    else:
        first = min(codes)
        err.print(f"rank {first} ended with exit status {codes[first]}, and said nothing")
    return next((code for _, code in sorted(codes.items()) if code > 0), 1)
