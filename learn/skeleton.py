"""Generate the learner's skeletons (stages/) from the reference solution (solutions/).

In a solution file, what the learner writes sits between two marker lines:

    def get_stats(ids):
        \"\"\"...worked example...\"\"\"
        # BEGIN SOLUTION: count each adjacent pair of ids
        counts = {}
        ...
        # END SOLUTION

The generator keeps everything else and replaces each block with

        # TODO: count each adjacent pair of ids
        raise NotImplementedError("count each adjacent pair of ids")

so the skeleton and the solution can never drift. Files without markers are copied as they are.

    python -m learn.skeleton           # after editing solutions/: writes stages/
    python -m learn.skeleton --force   # ... replacing files that differ, after backing them up

stages/ may hold a learner's work, so the generator never replaces a file that differs from its
skeleton, nor removes a file the skeleton lacks, unless told to with --force; then it first copies
them to .learn/backup/skeleton-<time>/, as `learn reset` does. A project test fails when stages/
is stale. learn/release.py builds a release's skeletons from solutions/ and never reads stages/.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from learn import ROOT, progress
from learn.manifest import Stage, load

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?::\s*(?P<todo>.*\S))?\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")


class MarkerError(ValueError):
    pass


def strip_solution(source: str, filename: str = "<source>") -> str:
    """The skeleton text of one solution file."""
    out: list[str] = []
    inside = None  # (line number, indent, todo) of the open BEGIN marker
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if inside:
                raise MarkerError(f"{filename}:{number}: BEGIN SOLUTION inside another block")
            todo = begin["todo"]
            if not todo:
                raise MarkerError(f"{filename}:{number}: say what to do: '# BEGIN SOLUTION: <todo>'")
            inside = (number, begin["indent"], todo)
        elif end:
            if not inside:
                raise MarkerError(f"{filename}:{number}: END SOLUTION without BEGIN")
            _, indent, todo = inside
            out.append(f"{indent}# TODO: {todo}\n")
            out.append(f"{indent}raise NotImplementedError({todo!r})\n")
            inside = None
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{filename}:{inside[0]}: BEGIN SOLUTION is never closed")
    return "".join(out)


def has_markers(source: str) -> bool:
    return any(BEGIN.match(line) for line in source.splitlines())


def skeleton_files(stage: Stage, solutions: Path = ROOT / "solutions") -> dict[str, str]:
    """{relative path: text} of every file the skeleton of `stage` holds."""
    src = solutions / stage.package
    files = {}
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src).as_posix()
        if path.is_dir() or "__pycache__" in rel:
            continue
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".py" and has_markers(text):
            if rel not in stage.files:
                raise MarkerError(f"{path}: has solution markers but is not in the stage's files")
            text = strip_solution(text, str(path))
        elif rel in stage.files:
            raise MarkerError(f"{path}: is a file the learner edits but has no solution markers")
        files[rel] = text
    return files


PRISTINE = ROOT / "pristine"  # a release's untouched skeletons (learn/release.py writes them)


def pristine_files(stage: Stage) -> dict[str, str]:
    """The untouched skeleton of a stage, {relative path: text}, for `learn reset`.

    From the solution where this copy of the course has one; in a release (no solutions/), from
    the pristine copy the release carries.
    """
    if (ROOT / "solutions" / stage.package).is_dir():
        return skeleton_files(stage)
    folder = PRISTINE / stage.package
    if not folder.is_dir():
        raise FileNotFoundError(f"this copy of the course has neither solutions/ nor pristine/{stage.package}/")
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*")) if p.is_file()}


def differing(folder: Path, files: dict[str, str]) -> list[str]:
    """The paths of `files` that are missing under `folder` or hold other text."""
    return [rel for rel, text in files.items()
            if not (folder / rel).is_file() or (folder / rel).read_text(encoding="utf-8", errors="replace") != text]  # fmt: skip


def backup_folder(label: str) -> Path:
    """A new folder for files about to be replaced: .learn/backup/<label>-<time>/, beside the progress."""
    return progress.path().parent / "backup" / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}"


def write_files(folder: Path, files: dict[str, str]) -> None:
    """Write `files` ({relative path: text}) under `folder`."""
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")


def replace_files(folder: Path, files: dict[str, str], backup: Path, remove: Sequence[str] = ()) -> None:
    """Write `files` under `folder` and delete `remove`, first copying every existing file that is
    overwritten or deleted to the same relative path under `backup`."""
    for rel in [*files, *remove]:
        if (folder / rel).is_file():
            (backup / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(folder / rel, backup / rel)
    write_files(folder, files)
    for rel in remove:
        (folder / rel).unlink()


class Overwrite(Exception):
    """Files in stages/ differ from their skeleton: they may be a learner's work."""


def generate(
    stages_dir: Path = ROOT / "stages", solutions: Path = ROOT / "solutions", force: bool = False
) -> tuple[list[Path], Path | None]:
    """Make every ready stage's folder under `stages_dir` hold exactly its skeleton.

    Returns the files written or removed, and the backup folder (None when nothing was backed up).
    Without `force`, raises Overwrite and writes nothing if that would replace a file that differs
    or remove one the skeleton lacks; with it, those files are first copied to a backup folder.
    """
    plan = []  # (stage folder, {rel: text} to write, [rel] to remove)
    for stage in load():
        if stage.ready:
            folder, files = stages_dir / stage.package, skeleton_files(stage, solutions)
            extra = sorted(rel for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                           and (rel := p.relative_to(folder).as_posix()) not in files)  # fmt: skip
            plan.append((folder, {rel: files[rel] for rel in differing(folder, files)}, extra))
    at_risk = [folder / rel for folder, write, remove in plan for rel in [*write, *remove] if (folder / rel).is_file()]
    if at_risk and not force:
        raise Overwrite(", ".join(p.relative_to(stages_dir.parent).as_posix() for p in at_risk))
    backup = backup_folder("skeleton")  # made only if a file is copied there
    for folder, write, remove in plan:
        replace_files(folder, write, backup / folder.name, remove)
    return [folder / rel for folder, write, remove in plan for rel in [*write, *remove]], backup if backup.exists() else None


def main() -> int:
    parser = argparse.ArgumentParser(description="Write stages/ from solutions/: every ready stage's skeleton.")
    parser.add_argument("--force", action="store_true", help="replace files that differ from their skeleton, after a backup")
    args = parser.parse_args()
    try:
        changed, backup = generate(force=args.force)
    except Overwrite as e:
        print(f"error: {e}: differ from the skeleton that solutions/ gives, or are not part of it (a learner's "
              "work, or the skeleton of an older solution); nothing was written. Check them, then run `python -m learn.skeleton "
              "--force`, which keeps a copy of each in .learn/backup/", file=sys.stderr)  # fmt: skip
        return 1
    for path in changed:
        print(path.relative_to(ROOT).as_posix())
    if backup is not None:
        print(f"the files it replaced or removed are in {backup}")
    if not changed:
        print("stages/ is the skeleton already")
    return 0


if __name__ == "__main__":
    sys.exit(main())
