"""Grade one stage of one tree: start a judge, read its verdicts, never crash on the learner's code.

A *tree* is a folder that holds the stage packages (stages/, solutions/, a student's submission).
`grade` runs in the caller's process (the CLI, a gradebook) and starts the judge, a pytest process
over checks/<package>/ that never imports the tree (learn/judge/plugin.py); the judge sends the
learner's code to workers. Verdicts come back on the judge's stdout, one JSON line per event; a
line that is not a well-formed event is ignored, so nothing the judge's children print can crash
or fool this side. If the judge dies mid-check (on Linux a same-user learner's code can signal
it), the running check fails and a new judge grades the checks that are left.

Each run draws a seed (or takes `seed`), shown in the result: the judge draws its inputs from it,
so that a run can be replayed (`learn check --seed`) and no answer can be stored in advance.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from learn import ROOT
from learn.judge import bwrap, reaper
from learn.manifest import Stage

#: Failures that are not the learner's: `learn check` exits 3 on them.
INTERNAL = "internal"


class GraderError(RuntimeError):
    """The grader itself could not grade (never the learner's doing); `log` holds the details."""

    def __init__(self, message: str, log: str):
        super().__init__(message)
        self.log = log


@dataclass
class CheckResult:
    name: str
    points: int
    passed: bool
    message: str  # empty when passed; else expected vs got, the lesson idea, and a hint
    kind: str = ""  # what failed: see learn/judge/plugin.py

    @property
    def score(self) -> int:
        return self.points if self.passed else 0


@dataclass
class StageResult:
    stage: str
    tree: str
    checks: list[CheckResult]
    seconds: float
    seed: int
    containment: dict = field(default_factory=dict)  # {"level", "applied", "skipped"}: learn/judge/bwrap.py

    @property
    def score(self) -> int:
        return sum(c.score for c in self.checks)

    @property
    def max_score(self) -> int:
        return sum(c.points for c in self.checks)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_json(self) -> dict:
        return {
            "stage": self.stage,
            "tree": self.tree,
            "seed": self.seed,
            "score": self.score,
            "max_score": self.max_score,
            "passed": self.passed,
            "seconds": round(self.seconds, 2),
            "checks": [asdict(c) for c in self.checks],
            "containment": self.containment,
        }


def new_seed() -> int:
    return secrets.randbelow(10**6)


def _judge(stages: list[Stage], tree: Path, seed: int, todo: set[str], log, root: Path = ROOT) -> subprocess.Popen:
    """The judge of `stages`' checks `todo` ("stage1:name"), with the checks, fixtures and engine of
    the course at `root` (this checkout, or a release of it: see learn/judge/gradebook.py)."""
    cmd = [
        sys.executable, "-P", "-m", "pytest", *(str(root / "checks" / s.package) for s in stages),
        "-p", "learn.judge.plugin", "-p", "no:cacheprovider", "-s", "-q",
        "--import-mode=importlib", "-o", "addopts=", f"--rootdir={root}",
        f"--learn-stages={','.join(s.id for s in stages)}", f"--learn-tree={tree}", f"--learn-seed={seed}",
        f"--learn-checks={','.join(sorted(todo))}",
    ]  # fmt: skip
    env = {**_environ(), "PYTHONPATH": str(root), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "OMP_NUM_THREADS": "1"}
    return reaper.spawn(cmd, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                        start_new_session=True)  # fmt: skip


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}


def _events(proc: subprocess.Popen, budget: float) -> tuple[list[dict], bool]:
    """The judge's well-formed events, and whether it had to be killed past `budget` seconds."""
    events: list[dict] = []

    def read():
        for raw in proc.stdout:
            if len(raw) > 64 * 1024:
                continue
            try:
                ev = json.loads(raw)
            except ValueError:
                continue
            if type(ev) is dict and type(ev.get("event")) is str:
                events.append(ev)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    killed = False
    try:
        proc.wait(timeout=budget)
    except subprocess.TimeoutExpired:
        killed = True
    except KeyboardInterrupt:  # Ctrl-C reaches only our session: take the judge and workers down too
        _end(proc)
        raise
    _end(proc)
    reader.join(timeout=5)
    return events, killed


def _end(proc: subprocess.Popen) -> None:
    """The judge, its workers and anything they left, all gone."""
    reaper.kill(proc, reaper.uid_for(proc.pid) if reaper.switching_users() else None)


def grade(stage: Stage, tree: Path, seed: int | None = None) -> StageResult:
    """Run every graded check of `stage` against `tree`; never raises for the learner's bugs.

    Raises GraderError when the grader itself cannot work (its log says why)."""
    return grade_stages([stage], tree, seed)[0]


def grade_stages(stages: list[Stage], tree: Path, seed: int | None = None, root: Path = ROOT) -> list[StageResult]:
    """Every graded check of `stages` (in course order) against `tree`, in one judge: a stage's
    crash or timeout costs a fresh worker, not a fresh judge. A stage given with fewer checks than
    the manifest's (`dataclasses.replace`) is graded on those alone. `root`: the course whose checks
    and fixtures judge (this checkout by default)."""
    tree = Path(tree).resolve()
    seed = new_seed() if seed is None else seed
    start = time.time()
    ends: dict[str, float] = {}  # stage id -> when its last check ended (time.time())
    checks = {(s.id, c.name): c for s in stages for c in s.checks}
    results: dict[tuple[str, str], CheckResult] = {}
    walls = {"level": bwrap.level()[0], "applied": [], "skipped": [bwrap.level()[1]] if bwrap.level()[1] else []}
    reaper.guard_this_process()

    def record(key, passed: bool, message: str, kind: str) -> None:
        results[key] = CheckResult(key[1], checks[key].points, passed, message, kind)

    with tempfile.TemporaryDirectory(prefix="learn-") as tmp:
        log_path = Path(tmp) / "judge.log"
        with open(log_path, "ab") as log:
            while len(results) < len(checks):
                left = [s for s in stages if any((s.id, c.name) not in results for c in s.checks)]
                budget = 60 + 2 * sum(c.timeout for k, c in checks.items() if k not in results)
                todo = {f"{sid}:{name}" for sid, name in checks if (sid, name) not in results}
                proc = _judge(left, tree, seed, todo, log, root)
                events, killed = _events(proc, budget)
                done_before, running = len(results), None
                for ev in events:
                    walls = _containment(ev) or walls
                    if ev["event"] == "collect_error":
                        raise GraderError("the grader could not load its checks", _tail(log_path))
                    key = (ev.get("stage"), ev.get("name"))
                    if key not in checks or key in results:
                        continue
                    if ev["event"] == "start":
                        running = key
                    elif ev["event"] == "end" and type(ev.get("passed")) is bool:
                        message = ev.get("message") if type(ev.get("message")) is str else ""
                        record(key, ev["passed"], message, ev.get("kind") if type(ev.get("kind")) is str else "")
                        ends[key[0]] = max(ends.get(key[0], start), ev["t"] if type(ev.get("t")) is float else time.time())
                        running = None
                if len(results) == len(checks):
                    break
                if running is not None:  # the judge died in the middle of a check
                    how = "ran past its time" if killed else f"ended (code {proc.returncode})"
                    record(running, False, f"the grading process {how} during this check: does your code signal or "
                                           "kill other processes?", "crash")  # fmt: skip
                elif len(results) == done_before:
                    raise GraderError(f"the grader's judge {'ran past its time' if killed else 'ended'} "
                                      "before grading any check", _tail(log_path))  # fmt: skip
    out, since = [], start
    for stage in stages:  # a stage's time: from the end of the one before (or the start) to its own end
        seconds, since = max(0.0, ends.get(stage.id, since) - since), max(since, ends.get(stage.id, since))
        stage_checks = [results[(stage.id, c.name)] for c in stage.checks]
        _explain(stage, stage_checks)
        internal = next((c for c in stage_checks if c.kind == INTERNAL), None)
        if internal is not None:
            raise GraderError(f"the grader could not grade {stage.id}: {internal.message}", internal.message)
        out.append(StageResult(stage.id, str(tree), stage_checks, seconds, seed, walls))
    return out


def _containment(ev: dict) -> dict | None:
    """The walls a judge reports its workers had, if `ev` says so in the expected shape."""
    strings = lambda v: type(v) is list and all(type(x) is str for x in v)  # noqa: E731
    if ev["event"] == "containment" and ev.get("level") in (bwrap.SANDBOX, bwrap.PARTIAL) \
            and strings(ev.get("applied")) and strings(ev.get("skipped")):  # fmt: skip
        return {k: ev[k] for k in ("level", "applied", "skipped")}
    return None


def _explain(stage: Stage, checks: list[CheckResult]) -> None:
    """Add the lesson's idea and the hint; an import failure is told once, on the first check. A
    check that builds on a failing one says so instead of its hint: the cause is there."""
    first_import = next((c for c in checks if c.kind == "import"), None)
    failed = {check.name for check, res in zip(stage.checks, checks) if not res.passed}
    for check, res in zip(stage.checks, checks):
        if res.passed:
            continue
        if res.kind == "import":
            if res is not first_import:
                res.message = f"not run: {stage.package} could not be imported (see {first_import.name} above)"
            continue
        causes = [name for name in check.builds_on if name in failed]
        hint = f"it builds on {', '.join(causes)}, which fails too: fix that first" if causes else check.hint
        res.message = f"{res.message}\n  lesson: {check.idea}\n  hint: {hint}"


def _tail(log: Path, lines: int = 30) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return "\n".join(text.strip().splitlines()[-lines:]) or "(no output)"
