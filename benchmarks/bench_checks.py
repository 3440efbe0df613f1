"""How long `learn check` takes for each ready stage, next to a bare `import torch`, with the
sandbox (learn/judge/bwrap.py) and without it (LEARN_SANDBOX=off) in one run.

    python benchmarks/bench_checks.py              # 5 runs each, the reference solution
    python benchmarks/bench_checks.py --runs 9 --impl stages

The goal: each stage's check within about twice the time of `python -c "import torch"`, so that
a learner gets feedback in seconds. Whole processes are timed, start-up included; a run that
does not exit as the tree deserves (0 for the reference) is counted, never timed as a fast one.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from learn import manifest  # noqa: E402
from learn.judge import bwrap  # noqa: E402


def timed(cmd: list[str], runs: int, env: dict | None = None, expect: int = 0) -> tuple[list[float], int]:
    """Each run's seconds, and how many runs exited with another code than `expect`."""
    times, wrong = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        code = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        times.append(time.perf_counter() - start)
        wrong += code != expect
    return times, wrong


def row(label: str, times: list[float], base: float, wrong: int = 0) -> str:
    m = statistics.median(times)
    line = f"{label:<52} {m:>6.2f}s {min(times):>5.2f}s {max(times):>5.2f}s  {m / base:.2f}"
    return line + (f"  ({wrong} wrong exits)" if wrong else "")


def machine() -> str:
    """The CPU, whether it has bf16 arithmetic, its cores, the torch build."""
    import torch

    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                platform.processor() or platform.machine())  # fmt: skip
    bf16 = [f for f in ("avx512_bf16", "amx_bf16") if f in info.split()]
    return f"{name}, {os.cpu_count()} cores, bf16: {' '.join(bf16) or 'none'}, torch {torch.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--impl", default="solutions")
    args = parser.parse_args()

    print(f"{machine()}; containment here: {' '.join(filter(None, bwrap.level()))}")
    base, _ = timed([sys.executable, "-c", "import torch"], args.runs)
    b = statistics.median(base)
    print(f"{'command':<52} {'median':>7} {'min':>6} {'max':>6}  ratio to import torch")
    print(row('python -c "import torch"', base, b))
    levels = {"sandbox": dict(os.environ), "partial": {**os.environ, "LEARN_SANDBOX": "off"}}
    expect = 0 if args.impl == "solutions" else 1
    for stage in manifest.load():
        if not stage.ready:
            continue
        for level, env in levels.items():
            t, wrong = timed([sys.executable, "-m", "learn", "check", stage.id, "--impl", args.impl], args.runs, env, expect)
            print(row(f"learn check {stage.id} --impl {args.impl} ({level})", t, b, wrong))


if __name__ == "__main__":
    main()
