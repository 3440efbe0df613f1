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
Run `python -m learn.skeleton` after editing solutions/; a project test fails when stages/ is stale.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from learn import ROOT
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


PRISTINE = ROOT / "pristine"  # a release's untouched skeletons (tools/release.py writes them)


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


def generate(stages_dir: Path = ROOT / "stages", solutions: Path = ROOT / "solutions") -> list[Path]:
    """Write every ready stage's skeleton under `stages_dir`; returns the files written."""
    written = []
    for stage in load():
        if not stage.ready:
            continue
        dest = stages_dir / stage.package
        if dest.exists():
            shutil.rmtree(dest)
        for rel, text in skeleton_files(stage, solutions).items():
            path = dest / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


if __name__ == "__main__":
    for p in generate():
        print(p.relative_to(ROOT))
    sys.exit(0)
