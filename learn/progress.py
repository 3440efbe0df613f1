"""The learner's progress: `.learn/progress.json` in the course folder (git-ignored).

    {
      "version": 1,
      "stages": {
        "stage1": {"passed": true, "score": 20, "max_score": 20, "checked_at": "2026-11-24T21:05:00"}
      }
    }

A stage is *open* when every stage before it has passed at its latest check; stage 1 is always
open. (Break a passed stage and the stages after it lock again: they import its code.) Only
`learn check` on the default tree (the course's stages/) writes this file. It is a learning aid,
not security: delete it and you start over; a missing or corrupt file is rebuilt with a warning.
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


@dataclass
class Progress:
    stages: dict[str, dict] = field(default_factory=dict)
    warning: str = ""  # set when the file on disk was unreadable and has been rebuilt

    def passed(self, stage_id: str) -> bool:
        return bool(self.stages.get(stage_id, {}).get("passed"))

    def state(self, stage: Stage, course: list[Stage]) -> str:
        """'coming', 'passed', 'open' or 'locked'."""
        if not stage.ready:
            return "coming"
        if self.passed(stage.id):
            return "passed"
        return "open" if self.blocker(stage, course) is None else "locked"

    def blocker(self, stage: Stage, course: list[Stage]) -> Stage | None:
        """The first earlier stage not yet passed, or None if `stage` is open."""
        for earlier in course[: stage.number - 1]:
            if not self.passed(earlier.id):
                return earlier
        return None

    def record(self, stage_id: str, passed: bool, score: int, max_score: int) -> None:
        self.stages[stage_id] = {
            "passed": passed,
            "score": score,
            "max_score": max_score,
            "checked_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }


def path() -> Path:
    return Path(os.environ.get("LEARN_PROGRESS", PROGRESS))


def load() -> Progress:
    file = path()
    if not file.exists():
        return Progress()
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
        if raw.get("version") != VERSION or not isinstance(raw.get("stages"), dict):
            raise ValueError("unknown layout")
        stages = {k: v for k, v in raw["stages"].items() if isinstance(v, dict)}
        return Progress(stages)
    except (ValueError, OSError, AttributeError) as e:
        backup = file.with_suffix(".corrupt")
        file.replace(backup)
        return Progress(warning=f"{file} was unreadable ({e}); kept it as {backup.name} and started afresh")


def save(progress: Progress) -> None:
    file = path()
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": VERSION, "stages": progress.stages}, indent=2) + "\n")
    tmp.replace(file)  # atomic: a crash never leaves half a file
