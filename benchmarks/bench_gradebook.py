"""How many submissions per minute `learn gradebook` grades, every ready stage of each.

    python benchmarks/bench_gradebook.py                 # a class of 30, -j = cores
    python benchmarks/bench_gradebook.py --students 12 --jobs 2

The class is generated: copies of the reference solution and of the untouched skeleton, mixed
(the skeleton fails fast, the reference runs every check to the end). The whole command is timed,
start-up and the release it grades from included. The goal: at least 20 submissions per minute on
2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from learn import manifest  # noqa: E402


def make_class(folder: Path, students: int) -> None:
    ready = [s for s in manifest.load() if s.ready]
    for k in range(students):
        source = ROOT / ("solutions" if k % 2 == 0 else "stages")
        for s in ready:
            shutil.copytree(source / s.package, folder / f"student{k:02d}" / s.package, ignore=shutil.ignore_patterns("__pycache__"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-gradebook-") as tmp:
        subs = Path(tmp) / "submissions"
        make_class(subs, args.students)
        cmd = [sys.executable, "-m", "learn", "gradebook", str(subs), "--out", str(Path(tmp) / "grades.csv"), "--jobs", str(args.jobs)]
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"learn gradebook failed ({done.returncode}):\n{done.stderr[-2000:]}")
    per_minute = args.students / seconds * 60
    print(f"{args.students} submissions, -j {args.jobs}, {os.cpu_count()} cores: {seconds:.1f} s, {per_minute:.1f} submissions per minute")


if __name__ == "__main__":
    main()
