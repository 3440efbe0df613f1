"""Build the learner's copy of the course: everything a learner needs, no solutions.

    python tools/release.py OUT_DIR

It reads curriculum.toml and copies, for every ready stage, the skeleton (stages/), the lesson,
the graded checks and their fixtures; plus the `learn` package, the manifest, pyproject.toml,
README.md and noxfile.py (for instructors' gradebooks). It leaves out solutions/, the project's
own tests, tools/, benchmarks/ and the fixture generators (they need the solution). `learn reset`
in a release restores skeletons from pristine/, a copy of stages/ made here.

It refuses to build when stages/ is stale, and checks that no solution marker slipped through.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from learn import manifest  # noqa: E402
from learn.skeleton import BEGIN, skeleton_files  # noqa: E402

TOP_FILES = ["curriculum.toml", "pyproject.toml", "README.md", "noxfile.py", ".gitignore"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "generate.py")


def build(out: Path) -> list[str]:
    """Write the release into `out` (which must not exist); returns its files, relative."""
    if out.exists():
        raise SystemExit(f"error: {out} exists; give a new folder")
    stages = [s for s in manifest.load() if s.ready]
    for s in stages:
        current = {p.relative_to(ROOT / "stages" / s.package).as_posix(): p.read_text(encoding="utf-8")
                   for p in (ROOT / "stages" / s.package).rglob("*.py")}  # fmt: skip
        expected = {rel: text for rel, text in skeleton_files(s).items() if rel.endswith(".py")}
        if current != expected:
            raise SystemExit(f"error: stages/{s.package} is stale; run `python -m learn.skeleton` first")
    out.mkdir(parents=True)
    for name in TOP_FILES:
        shutil.copy2(ROOT / name, out / name)
    shutil.copytree(ROOT / "learn", out / "learn", ignore=IGNORE)
    for s in stages:
        for top in ("stages", "pristine", "checks", "fixtures"):
            src = ROOT / ("stages" if top == "pristine" else top) / s.package
            if src.is_dir():
                shutil.copytree(src, out / top / s.package, ignore=IGNORE)
        (out / s.lesson).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(s.lesson_path, out / s.lesson)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    for rel in files:
        if rel.startswith(("stages/", "pristine/")) and any(BEGIN.match(line) for line in (out / rel).read_text(encoding="utf-8").splitlines()):
            raise SystemExit(f"error: {rel} holds a solution marker; it must not ship")
    return files


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    files = build(parser.parse_args().out)
    print(f"wrote {len(files)} files")
