"""How many submissions per minute `learn gradebook` grades, every ready stage of each.

    python benchmarks/bench_gradebook.py                 # a class of 30, -j = cores
    python benchmarks/bench_gradebook.py --students 12 --jobs 2

The class is generated, each submission as slow to grade as a real one: copies of the reference
solution, every other one with a mistake in each stage (one of tests/mutants, a different one per
student), whose checks run to the end and fail; an untouched skeleton would fail fast and flatter the
figure. The whole command is timed, start-up and the release it grades from included, and it counts
only if the gradebook is right: full marks for each reference, less for each submission with mistakes.
The goal: at least 20 submissions per minute on 2 cores.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from bench_checks import machine  # noqa: E402
from learn import manifest  # noqa: E402


def make_class(folder: Path, students: int) -> dict[str, bool]:
    """Student name -> whether their submission is the reference (else: a mistake in each stage)."""
    ready, right = [s for s in manifest.load() if s.ready], {}
    for k in range(students):
        name, mistaken = f"student{k:02d}", k % 2 == 1
        for s in ready:
            package = shutil.copytree(ROOT / "solutions" / s.package, folder / name / s.package,
                                      ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
            if mistaken:
                mutants = importlib.import_module(f"mutants.{s.package}").MUTANTS
                m = mutants[k // 2 % len(mutants)]
                path = package / m.file
                path.write_text(path.read_text(encoding="utf-8").replace(m.old, m.new), encoding="utf-8")
        right[name] = not mistaken
    return right


def check_grades(path: Path, right: dict[str, bool]) -> None:
    """Exit unless each reference has full marks and each submission with mistakes less."""
    full = sum(s.max_score for s in manifest.load() if s.ready)
    for row in csv.DictReader(path.open(encoding="utf-8")):
        if (int(row["total"]) == full) != right[row["student"]]:
            sys.exit(f"wrong gradebook: {row['student']} has {row['total']} of {full} ({row['note'] or 'no note'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-gradebook-") as tmp:
        subs = Path(tmp) / "submissions"
        right = make_class(subs, args.students)
        grades = Path(tmp) / "grades.csv"
        cmd = [sys.executable, "-m", "learn", "gradebook", str(subs), "--out", str(grades), "--jobs", str(args.jobs)]
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"learn gradebook failed ({done.returncode}):\n{done.stderr[-2000:]}")
        check_grades(grades, right)
    per_minute = args.students / seconds * 60
    print(f"{machine()}; {args.students} submissions (half with mistakes), -j {args.jobs}: {seconds:.1f} s, "
          f"{per_minute:.1f} submissions per minute")


if __name__ == "__main__":
    main()
