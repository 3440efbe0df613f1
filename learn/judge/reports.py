"""What a grading run hands to people and platforms: the course version, Gradescope's
results.json, a submission's fingerprint, and the flags for identical work.

Gradescope's autograder reads /autograder/results/results.json:

    {"score": 83.0, "output": "...", "tests": [{"name", "score", "max_score", "status", "output"}, ...]}

one test per graded check (named "stage1 · get_stats_counts_adjacent_pairs"), plus one failed test
per stage the submission does not hold, so that the maximum is always the course's.
"""

from __future__ import annotations

import hashlib
import io
import tokenize
from pathlib import Path

from learn import ROOT
from learn.manifest import Stage

#: What decides a grade, hashed into the course version.
GRADING_FILES = ("curriculum.toml", "checks", "fixtures", "learn")


def course_version(root: Path = ROOT) -> str:
    """A hash of everything that decides a grade: the same checks and fixtures, the same version."""
    h = hashlib.sha256()
    for name in GRADING_FILES:
        path = root / name
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        for p in files:
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def fingerprint(tree: Path, stages: list[Stage]) -> str:
    """A hash of a submission's stage files: unchanged files, unchanged fingerprint."""
    h = hashlib.sha256()
    for stage in stages:
        for p in sorted((tree / stage.package).rglob("*.py")) if (tree / stage.package).is_dir() else []:
            h.update(p.relative_to(tree).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def gradescope(stage_results: list[dict], course: list[Stage], version: str = "") -> dict:
    """results.json for one submission, from StageResult.to_json() dicts (missing stages included);
    `version`, the course version that graded it, is named in the overall output."""
    by_stage = {r["stage"]: r for r in stage_results}
    tests = []
    for stage in course:
        r = by_stage.get(stage.id)
        if r is None or "checks" not in r:
            why = (r.get("note") or r.get("grader_error")) if r else None
            tests.append({"name": f"{stage.id} · {stage.title}", "score": 0, "max_score": stage.max_score,
                          "status": "failed", "output": why or f"no {stage.package}/ folder in the submission"})  # fmt: skip
            continue
        for c in r["checks"]:
            tests.append({
                "name": f"{stage.id} · {c['name']}", "score": c["points"] if c["passed"] else 0,
                "max_score": c["points"], "status": "passed" if c["passed"] else "failed", "output": c["message"],
            })  # fmt: skip
    score = sum(t["score"] for t in tests)
    seed = next((r["seed"] for r in stage_results if "seed" in r), None)
    walls = next((r["containment"]["level"] for r in stage_results if "containment" in r), None)
    about = ([f"seed {seed}"] * (seed is not None) + [f"course version {version}"] * bool(version)
             + [f"containment {walls}"] * bool(walls))  # fmt: skip
    return {"score": score, "output": f"{score} of {sum(t['max_score'] for t in tests)} points" + (f" ({', '.join(about)})" if about else ""),
            "tests": tests}  # fmt: skip


def normalized(source: str) -> str:
    """Python source without comments, docstrings' layout or whitespace: what copying keeps."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
                  if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)]  # fmt: skip
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return " ".join(source.split())
    return " ".join(t.string for t in tokens)


def identical_work(trees: dict[str, Path], stages: list[Stage], skeletons: Path) -> list[dict]:
    """Groups of students whose stage files are identical, exactly or after stripping comments and
    whitespace; files identical to the skeleton (untouched work) are never flagged."""
    flags = []
    for stage in stages:
        for rel in stage.files:
            skeleton_file = skeletons / stage.package / rel
            untouched = normalized(skeleton_file.read_text(encoding="utf-8")) if skeleton_file.is_file() else None
            groups: dict[str, list[str]] = {}  # hash of the normalized file -> students
            for student, tree in sorted(trees.items()):
                path = tree / stage.package / rel
                if not path.is_file():
                    continue
                text = path.read_text(encoding="utf-8", errors="replace")
                norm = normalized(text)
                if norm == untouched:
                    continue
                groups.setdefault(hashlib.sha256(norm.encode()).hexdigest(), []).append(student)
            for students in groups.values():
                if len(students) > 1:
                    texts = {(trees[s] / stage.package / rel).read_bytes() for s in students}
                    how = "identical" if len(texts) == 1 else "identical without comments and whitespace"
                    flags.append({"stage": stage.id, "file": f"{stage.package}/{rel}", "students": students, "how": how})
    return flags
