"""Read curriculum.toml, the one ordered manifest that describes the whole course.

The CLI, the grader, the skeleton generator and the project's own tests all read the course from
here, so a stage, a check or its points are written down exactly once.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from learn import ROOT

MANIFEST = ROOT / "curriculum.toml"


class ManifestError(ValueError):
    """curriculum.toml is malformed; the message says where."""


class UnknownStage(LookupError):
    """A stage name on the command line matches no stage."""


@dataclass(frozen=True)
class Check:
    name: str  # the pytest function is `test_<name>` in checks/<package>/
    points: int
    idea: str  # the idea of the lesson this check grades
    hint: str  # one line that helps a learner whose check fails
    timeout: float  # seconds before the check is failed as a hang
    builds_on: tuple[str, ...] = ()  # earlier checks of the stage whose functions this one's calls run

    @property
    def test_function(self) -> str:
        return f"test_{self.name}"


@dataclass(frozen=True)
class Stage:
    number: int
    id: str  # "stage1"
    package: str  # "stage1_tokenizer": the folder in every tree, and the import name
    title: str
    status: str  # "ready" or "coming"
    lesson: str = ""  # path relative to ROOT
    files: tuple[str, ...] = ()  # the files the learner edits, relative to the package
    memory_mb: int = 4096  # address space a worker running the learner's code may map
    checks: tuple[Check, ...] = field(default=())

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    @property
    def max_score(self) -> int:
        return sum(c.points for c in self.checks)

    @property
    def checks_dir(self) -> Path:
        return ROOT / "checks" / self.package

    @property
    def fixtures_dir(self) -> Path:
        return ROOT / "fixtures" / self.package

    @property
    def lesson_path(self) -> Path:
        return ROOT / self.lesson


def _stage(number: int, raw: dict) -> Stage:
    where = f"curriculum.toml, stage {number}"
    try:
        status = raw.get("status", "ready")
        if status not in ("ready", "coming"):
            raise ManifestError(f"{where}: status must be 'ready' or 'coming', not {status!r}")
        default_timeout = float(raw.get("timeout", 10))
        checks = tuple(
            Check(
                name=c["name"],
                points=int(c["points"]),
                idea=c["idea"],
                hint=c["hint"],
                timeout=float(c.get("timeout", default_timeout)),
                builds_on=tuple(c.get("builds_on", ())),
            )
            for c in raw.get("check", [])
        )
        stage = Stage(
            number=number,
            id=raw["id"],
            package=raw["package"],
            title=raw["title"],
            status=status,
            lesson=raw.get("lesson", ""),
            files=tuple(raw.get("files", ())),
            memory_mb=int(raw.get("memory_mb", 4096)),
            checks=checks,
        )
    except KeyError as e:
        raise ManifestError(f"{where}: missing key {e.args[0]!r}") from None
    if stage.id != f"stage{number}":
        raise ManifestError(f"{where}: id should be 'stage{number}' (stages are in course order)")
    if stage.ready and not (stage.checks and stage.files and stage.lesson):
        raise ManifestError(f"{where}: a ready stage needs a lesson, files and checks")
    names = [c.name for c in checks]
    if len(set(names)) != len(names):
        raise ManifestError(f"{where}: two checks share a name")
    for i, check in enumerate(checks):
        if not set(check.builds_on) <= set(names[:i]):
            raise ManifestError(f"{where}: {check.name} builds_on names a check that is not before it")
    return stage


def load(path: Path = MANIFEST) -> list[Stage]:
    """Every stage of the course, in order."""
    with open(path, "rb") as f:
        try:
            raw = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ManifestError(f"{path.name}: {e}") from None
    return [_stage(i, s) for i, s in enumerate(raw.get("stage", []), start=1)]


def find(name: str, stages: list[Stage] | None = None) -> Stage:
    """The stage that `name` means: "stage3", "3" or "stage3_attention"."""
    stages = load() if stages is None else stages
    key = name.strip().lower()
    for s in stages:
        if key in (s.id, str(s.number), s.package):
            return s
    choices = ", ".join(s.id for s in stages)
    raise UnknownStage(f"unknown stage {name!r}: choose one of {choices} (or just its number)")
