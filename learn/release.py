"""Build the learner's copy of the course: everything a learner needs, no solutions.

    python -m learn.release OUT_DIR

`learn gradebook` builds one too, and grades with its checks and fixtures: never with solutions/
beside the grader.

It reads curriculum.toml and writes, for every ready stage, the skeleton (made from solutions/ by
learn.skeleton, so this course's stages/ is neither read nor touched: it may hold a learner's
work), the lesson, the graded checks and their fixtures; plus the `learn` package, the manifest,
pyproject.toml, noxfile.py (for instructors' gradebooks) and docs/README.learner.md as README.md.
It leaves out solutions/,
the project's own tests, tools/, benchmarks/ and the fixture generators (they need the solution).
`learn reset` in a release restores skeletons from pristine/, a second copy of the skeletons.

It checks that no solution marker slipped through.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from learn import ROOT, manifest
from learn.skeleton import BEGIN, skeleton_files, write_files

TOP_FILES = ["curriculum.toml", "pyproject.toml", "noxfile.py", ".gitignore"]
README = ROOT / "docs" / "README.learner.md"  # the release's README.md: for learners, not course developers
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")
FIXTURES_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "generate.py")  # the generators read solutions/


class ReleaseError(Exception):
    """The release cannot be built; the message says why."""


def build(out: Path) -> list[str]:
    """Write the release into `out` (which must not exist); returns its files, relative."""
    if out.exists():
        raise ReleaseError(f"{out} exists; give a new folder")
    if not (ROOT / "solutions").is_dir():
        raise ReleaseError(f"{ROOT} is a release already (it has no solutions/ to build skeletons from)")
    stages = [s for s in manifest.load() if s.ready]
    out.mkdir(parents=True)
    for name in TOP_FILES:
        shutil.copy2(ROOT / name, out / name)
    shutil.copy2(README, out / "README.md")
    shutil.copytree(ROOT / "learn", out / "learn", ignore=IGNORE)
    for s in stages:
        for top in ("stages", "pristine"):
            write_files(out / top / s.package, skeleton_files(s))
        for top in ("checks", "fixtures"):
            if (ROOT / top / s.package).is_dir():
                shutil.copytree(ROOT / top / s.package, out / top / s.package, ignore=FIXTURES_IGNORE)
        (out / s.lesson).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(s.lesson_path, out / s.lesson)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    for rel in files:
        if rel.startswith(("stages/", "pristine/")) and any(BEGIN.match(line) for line in (out / rel).read_text(encoding="utf-8").splitlines()):
            raise ReleaseError(f"{rel} holds a solution marker; it must not ship")
    return files


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m learn.release", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    try:
        files = build(parser.parse_args().out)
    except ReleaseError as e:
        sys.exit(f"error: {e}")
    print(f"wrote {len(files)} files")
