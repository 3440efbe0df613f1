"""Grade a class: every submission, every chosen stage, in parallel, resumable, never losing a row.

    rows = grade_class(submissions, stages, root=release, jobs=2, cache=folder, on_row=print)

Each submission is graded by one judge over all its stages (learn/judge/grader.py), several
submissions at once (`jobs`). A submission that holds no stage package, a refused zip, or a
grader failure still gives a row, with a note; a stage the submission lacks scores 0 and says
so. With `cache`, each finished row is kept under the hash of the submission's stage files, the
course version and the stages: a re-run grades only what changed, and a run stopped midway
resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from learn import ROOT
from learn.judge.grader import GraderError, grade_stages
from learn.judge.reports import course_version, fingerprint
from learn.judge.submissions import Submission
from learn.manifest import Stage


@dataclass
class Row:
    student: str
    stages: list[dict]  # StageResult.to_json(), or {"stage", "score": 0, "max_score", "missing" | "grader_error"}
    note: str = ""
    version: str = ""
    cached: bool = field(default=False, compare=False)

    @property
    def total(self) -> int:
        return sum(r["score"] for r in self.stages)

    def to_json(self) -> dict:
        return {"student": self.student, "course_version": self.version, "total": self.total,
                "note": self.note, "stages": self.stages}  # fmt: skip


def grade_class(
    submissions: list[Submission],
    stages: list[Stage],
    root: Path = ROOT,
    jobs: int = 2,
    cache: Path | None = None,
    on_row: Callable[[Row], None] = lambda row: None,
) -> list[Row]:
    """A row per submission, in the order given; `on_row` is called as each one is done."""
    version = course_version(root)
    rows: dict[str, Row] = {}
    pool = ThreadPoolExecutor(max(1, jobs))
    futures = {pool.submit(_row, sub, stages, root, version, cache): sub for sub in submissions}
    try:
        for future in as_completed(futures):
            sub = futures[future]
            try:
                row = future.result()
            except Exception as e:  # our own bug: still a row, and it says so
                row = Row(sub.name, [_zero(s, grader_error=f"{type(e).__name__}: {e}") for s in stages], version=version)
            rows[sub.name] = row
            on_row(row)
    except BaseException:  # Ctrl-C: what is graded is kept (on_row, cache); nothing new starts
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return [rows[sub.name] for sub in submissions]


def _zero(stage: Stage, **why) -> dict:
    return {"stage": stage.id, "score": 0, "max_score": stage.max_score, **why}


def _row(sub: Submission, stages: list[Stage], root: Path, version: str, cache: Path | None) -> Row:
    if sub.tree is None:
        return Row(sub.name, [_zero(s, missing=True) for s in stages], sub.note, version)
    key = hashlib.sha256(f"{fingerprint(sub.tree)} {version} {[s.id for s in stages]}".encode()).hexdigest()
    cached = _read_cache(cache, sub, key)
    if cached is not None:
        return cached
    present = [s for s in stages if (sub.tree / s.package).is_dir()]
    graded: dict[str, dict] = {}
    if present:
        try:
            graded = {r.stage: r.to_json() for r in grade_stages(present, sub.tree, root=root)}
        except GraderError as e:
            first = str(e).splitlines()[0]
            graded = {s.id: _zero(s, grader_error=first) for s in present}
    row = Row(sub.name, [graded.get(s.id) or _zero(s, missing=True) for s in stages], sub.note, version)
    if not any("grader_error" in r for r in row.stages):  # a grader failure is worth another try
        _write_cache(cache, sub.file, key, row)
    return row


def _read_cache(cache: Path | None, sub: Submission, key: str) -> Row | None:
    if cache is None:
        return None
    try:
        data = json.loads((cache / f"{sub.file}.json").read_text(encoding="utf-8"))
        if data["key"] == key:
            return Row(sub.name, data["stages"], data["note"], data["version"], cached=True)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _write_cache(cache: Path | None, file: str, key: str, row: Row) -> None:
    if cache is None:
        return
    cache.mkdir(parents=True, exist_ok=True)
    write_atomically(cache / f"{file}.json", json.dumps({"key": key, "stages": row.stages, "note": row.note, "version": row.version}))


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
