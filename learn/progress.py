"""The learner's progress: `.learn/progress.json` in the course folder (git-ignored).

    {
      "version": 1,
      "stages": {
        "stage1": {"passed": true, "score": 20, "max_score": 20, "checked_at": "2026-11-24T21:05:00"}
      }
    }

Each stage's record is its latest `learn check` on the default tree (the course's stages/); only
that writes this file. From the records, one rule gives every stage its state (`Progress.state`;
`learn status` shows it and `learn check` obeys it):

  * coming  the stage is not ready yet;
  * passed  its latest check passed, and every stage before it is passed;
  * open    not passed, and every stage before it is passed (stage 1 is always open or passed);
  * locked  a stage before it is not passed: `Progress.blocker` names the first such stage.

So breaking a passed stage locks the stages after it (they import its code), and their records
stay: once the broken stage passes again, they show as passed again, with their scores.

The file is a learning aid, not security: delete it and you start over. A file that cannot be
read or holds a field of the wrong type is set aside (progress.corrupt, then progress.corrupt2, ...)
and progress starts afresh with a warning.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from learn import ROOT
from learn.manifest import Stage

PROGRESS = ROOT / ".learn" / "progress.json"  # LEARN_PROGRESS overrides it (tests do)
VERSION = 1
#: Every field of a stage's record: its type, and how a warning names that type.
RECORD = {"passed": (bool, "true or false"), "score": (int, "a whole number"),
          "max_score": (int, "a whole number"), "checked_at": (str, "a string")}  # fmt: skip


class ProgressError(Exception):
    """The progress file is unreadable and could not be set aside; the message says what to do."""


@dataclass
class Progress:
    stages: dict[str, dict] = field(default_factory=dict)
    warning: str = ""  # set when the file on disk was unreadable and has been set aside

    def _latest_check_passed(self, stage_id: str) -> bool:
        return self.stages.get(stage_id, {}).get("passed", False)

    def blocker(self, stage: Stage, course: list[Stage]) -> Stage | None:
        """The first earlier stage that is not passed, or None if `stage` is open or passed."""
        for earlier in course[: stage.number - 1]:
            if not (earlier.ready and self._latest_check_passed(earlier.id)):
                return earlier  # every stage before `earlier` is passed, so it is the one to pass
        return None

    def state(self, stage: Stage, course: list[Stage]) -> str:
        """'coming', 'passed', 'open' or 'locked': the rule in the module's docstring."""
        if not stage.ready:
            return "coming"
        if self.blocker(stage, course) is not None:
            return "locked"
        return "passed" if self._latest_check_passed(stage.id) else "open"

    def next_stage(self, course: list[Stage]) -> Stage | None:
        """The first stage not passed (open, or coming once every ready stage passed); None at the end."""
        return next((s for s in course if self.state(s, course) != "passed"), None)

    def record(self, stage_id: str, passed: bool, score: int, max_score: int) -> None:
        self.stages[stage_id] = {
            "passed": passed,
            "score": score,
            "max_score": max_score,
            "checked_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }


def path() -> Path:
    return Path(os.environ.get("LEARN_PROGRESS", PROGRESS))


def _parse(text: str) -> dict[str, dict]:
    """The stage records in the file's text; ValueError says what is wrong."""
    raw = json.loads(text)
    if not isinstance(raw, dict) or raw.get("version") != VERSION or not isinstance(raw.get("stages"), dict):
        raise ValueError(f"not a version {VERSION} progress file")
    for stage_id, rec in raw["stages"].items():
        if not isinstance(rec, dict):
            raise ValueError(f"the record of {stage_id} is not an object")
        for name, (kind, words) in RECORD.items():
            value = rec.get(name)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):  # True is an int too
                raise ValueError(f"{stage_id}.{name} should be {words}, not {json.dumps(value)}")
    return raw["stages"]


def _set_aside(file: Path) -> Path:
    """Move an unreadable progress file (or whatever is in its place) to a free name beside it."""
    n = 1
    while os.path.lexists(backup := file.with_suffix(".corrupt" + (str(n) if n > 1 else ""))):
        n += 1
    try:
        file.replace(backup)
    except OSError as e:
        raise ProgressError(f"{file} is unreadable and cannot be moved aside ({e.strerror or e}): move or delete it") from None
    return backup


def load() -> Progress:
    file = path()
    if not file.exists():
        return Progress()
    try:
        return Progress(_parse(file.read_text(encoding="utf-8")))
    except (ValueError, OSError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        why = e.strerror if isinstance(e, OSError) and e.strerror else e
        backup = _set_aside(file)
        return Progress(warning=f"{file} was unreadable ({why}); kept it as {backup.name} and started afresh")


def save(progress: Progress) -> None:
    file = path()
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": VERSION, "stages": progress.stages}, indent=2) + "\n")
    tmp.replace(file)  # atomic: a crash never leaves half a file
