"""Grade a class: every submission, every chosen stage, in parallel, resumable, never losing a row.

    rows = grade_class(submissions, stages, root=release, jobs=2, cache=folder, on_row=print)

Each submission is graded by one judge over all its stages (learn/judge/grader.py), several
submissions at once (`jobs`). A submission that holds no stage package, a refused zip, or a
grader failure still gives a row, with a note; a stage the submission lacks scores 0 and says
so. With `cache` (a folder of the grader's alone: own_folder), each finished row is kept under
the hash of every file a worker gets from the submission (reports.fingerprint), the course
version and the stages: a re-run grades only what changed, and a run stopped midway resumes
where it stopped. Outputs are written with write_atomically, never through a link or a name that
another process planted.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from learn import ROOT, files
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
    """A row per submission, in the order given; `on_row` is called as each one is done. `cache`
    is made a folder of this user's alone (own_folder)."""
    version = course_version(root)
    if cache is not None:
        own_folder(cache)
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
        data = json.loads(files.read_text(cache / f"{sub.file}.json"))
        if data["key"] == key:
            return Row(sub.name, data["stages"], data["note"], data["version"], cached=True)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _write_cache(cache: Path | None, file: str, key: str, row: Row) -> None:
    if cache is not None:
        kept = {"key": key, "stages": row.stages, "note": row.note, "version": row.version}
        write_atomically(cache / f"{file}.json", json.dumps(kept), mode=0o600)


class NotOurs(OSError):
    """An output that is a link or not a plain file, or a cache folder that is not the grader's
    alone: never written through, for another process (a student's) may have put it there."""


def check_output(path: Path, folder: bool = False) -> None:
    """Raise NotOurs unless `path` is missing or a regular file (a folder, with `folder`) itself."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_IFMT(mode) != (stat.S_IFDIR if folder else stat.S_IFREG):
        want = "a folder" if folder else "a plain file"
        raise NotOurs(f"{path} is {files.kind(mode)}, not {want}: it is not written through; remove it and run again")


def own_folder(path: Path) -> None:
    """Make `path` a folder of this user's alone (0700), or raise NotOurs: rows kept where another
    user could write could be forged."""
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise NotOurs(f"{path} is not a folder of this user's alone, so its kept rows could be anyone's; "
                      "remove it, or grade with --fresh")  # fmt: skip
    os.chmod(path, 0o700)


def write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    """Write `text` to `path` so that a reader sees the old file or the new one, never half, and no
    other process can make it write elsewhere: through a file made exclusively under a random name
    beside it (learn/files.py). NotOurs for a `path` that is a link or not a plain file."""
    check_output(path)
    files.write_text(path, text, mode)
