"""How long `learn check` takes for each ready stage, next to a bare `import torch`.

    python benchmarks/bench_checks.py              # 5 runs each, the reference solution
    python benchmarks/bench_checks.py --runs 9 --impl stages

The goal: each stage's check within about twice the time of `python -c "import torch"`, so that
a learner gets feedback in seconds. Whole processes are timed, start-up included.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from learn import manifest  # noqa: E402


def timed(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--impl", default="solutions")
    args = parser.parse_args()

    base = timed([sys.executable, "-c", "import torch"], args.runs)
    b = statistics.median(base)
    print(f"{'command':<44} {'median':>7} {'min':>6} {'max':>6}  ratio to import torch")
    label = 'python -c "import torch"'
    print(f"{label:<44} {b:>6.2f}s {min(base):>5.2f}s {max(base):>5.2f}s  1.00")
    for stage in manifest.load():
        if not stage.ready:
            continue
        t = timed([sys.executable, "-m", "learn", "check", stage.id, "--impl", args.impl], args.runs)
        m = statistics.median(t)
        label = f"learn check {stage.id} --impl {args.impl}"
        print(f"{label:<44} {m:>6.2f}s {min(t):>5.2f}s {max(t):>5.2f}s  {m / b:.2f}")


if __name__ == "__main__":
    main()
