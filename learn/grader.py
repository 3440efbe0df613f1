"""Grade one stage of one tree in a separate, expendable process.

A *tree* is a folder that holds the stage packages (stages/, solutions/, a student's submission).
The tree is chosen in exactly one way: it is put first on PYTHONPATH of a fresh `python -m pytest`
process. The learner's code runs only there, so a hang, a crash, `sys.exit` or `os._exit` can take
down that process and never the CLI. The pytest plugin (learn/plugin.py) streams one JSON line per
event; if the process dies mid-check, the check that was running is failed with a clear message and
a new process grades the checks that are left.
"""

from __future__ import annotations

import json
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from learn import ROOT
from learn.isolation import run_isolated
from learn.manifest import Stage


@dataclass
class CheckResult:
    name: str
    points: int
    passed: bool
    message: str  # empty when passed; else expected vs got, the lesson idea, and a hint

    @property
    def score(self) -> int:
        return self.points if self.passed else 0


@dataclass
class StageResult:
    stage: str
    tree: str
    checks: list[CheckResult]
    seconds: float

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
            "score": self.score,
            "max_score": self.max_score,
            "passed": self.passed,
            "seconds": round(self.seconds, 2),
            "checks": [asdict(c) for c in self.checks],
        }


# SIGALRM interrupts a stuck check and lets the next one run in the same process; where there is
# no SIGALRM (Windows) pytest-timeout's thread method ends the process and the grader starts anew.
TIMEOUT_METHOD = "signal" if hasattr(signal, "SIGALRM") else "thread"


def _events(report: Path) -> list[dict]:
    if not report.exists():
        return []
    events = []
    for line in report.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by a killed process
            pass
    return events


def _run_pytest(stage: Stage, tree: Path, report: Path, skip: set[str], log: Path) -> int | None:
    """One grading process over the checks not in `skip`. Returns its exit code, None if killed."""
    cmd = [
        sys.executable, "-m", "pytest", str(stage.checks_dir),
        "-p", "pytest_timeout", "-p", "learn.plugin", "-p", "no:cacheprovider",
        "--import-mode=importlib", "-q", f"--timeout-method={TIMEOUT_METHOD}",
        "-o", "addopts=", f"--rootdir={ROOT}",
        f"--learn-stage={stage.id}", f"--learn-report={report}", f"--learn-skip={','.join(sorted(skip))}",
    ]  # fmt: skip
    # The whole process gets every remaining check's timeout plus start-up; past that it is killed.
    budget = 30 + sum(c.timeout for c in stage.checks if c.name not in skip)
    with open(log, "ab") as out:
        # Only the plugins named in cmd load: nothing from the learner's site-packages.
        return run_isolated(cmd, tree, budget, stdout=out, stderr=out, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")


def grade(stage: Stage, tree: Path) -> StageResult:
    """Run every graded check of `stage` against `tree`; never raises for the learner's bugs."""
    tree = Path(tree).resolve()
    start = time.perf_counter()
    by_name = {c.name: c for c in stage.checks}
    results: dict[str, CheckResult] = {}

    def fail(name: str, message: str) -> None:
        results[name] = CheckResult(name, by_name[name].points, False, message)

    with tempfile.TemporaryDirectory(prefix="learn-") as tmp:
        report, log = Path(tmp) / "report.jsonl", Path(tmp) / "pytest.log"
        while len(results) < len(by_name):
            done_before = len(results)
            code = _run_pytest(stage, tree, report, set(results), log)
            running, importing, collect_error = None, False, None
            for ev in _events(report):
                kind, name = ev.get("event"), ev.get("name")
                if kind == "start":
                    running = name
                elif kind == "importing":
                    importing = True
                elif kind == "imported":
                    importing = False
                elif kind == "collect_error":
                    collect_error = ev["message"]
                elif kind == "end" and name in by_name and name not in results:
                    results[name] = CheckResult(name, by_name[name].points, ev["passed"], ev["message"])
                    running = None
            report.unlink(missing_ok=True)
            left = [n for n in by_name if n not in results]
            if not left:
                break
            how = "was killed after running too long" if code is None else f"exited with code {code}"
            if running in left and importing:
                # Every check imports the package: if importing it kills the process, all fail.
                for n in left:
                    fail(n, f"importing {stage.package} ended the grading process ({how}): "
                            "does your module call os._exit, sys.exit or loop forever at import?")
            elif running in left:
                fail(running, f"the grading process {how} during this check: "
                              "does your code call os._exit or crash the interpreter?")
            elif collect_error is not None or len(results) == done_before:
                why = collect_error or _tail(log)
                for n in left:
                    fail(n, f"the checks could not run ({how}):\n{why}")
    checks = [results[c.name] for c in stage.checks]
    for check, res in zip(stage.checks, checks):
        if not res.passed:
            res.message = f"{res.message}\n  lesson: {check.idea}\n  hint: {check.hint}"
    return StageResult(stage.id, str(tree), checks, time.perf_counter() - start)


def _tail(log: Path, lines: int = 8) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return "\n".join(text.strip().splitlines()[-lines:]) or "(no output)"
