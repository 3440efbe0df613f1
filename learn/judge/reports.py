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
import os
import stat
import tokenize
from pathlib import Path

from learn import ROOT, files
from learn.judge.workers import tree_entries
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


def fingerprint(tree: Path) -> str:
    """A hash of everything of a submission's that a worker gets (learn/judge/workers.py): every
    name, kind and content, so that a grade kept under it is the grade of exactly this code."""
    h = hashlib.sha256()
    for rel, st in tree_entries(tree):
        if stat.S_ISREG(st.st_mode):
            data = b"file " + files.read_bytes(tree / rel)  # a FIFO put there since: refused, never waited on
        elif stat.S_ISLNK(st.st_mode):
            data = b"link " + os.fsencode(os.readlink(tree / rel))
        else:
            data = b"folder " if stat.S_ISDIR(st.st_mode) else b"never copied "
        name = os.fsencode(rel)
        h.update(b"%d %s %d " % (len(name), name, len(data)) + data)
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
            texts: dict[str, bytes] = {}  # student -> the file's bytes
            for student, tree in sorted(trees.items()):
                try:
                    texts[student] = files.read_bytes(tree / stage.package / rel)
                except OSError:  # missing, or not a plain file: nothing to compare
                    continue
                norm = normalized(texts[student].decode("utf-8", errors="replace"))
                if norm != untouched:
                    groups.setdefault(hashlib.sha256(norm.encode()).hexdigest(), []).append(student)
            for students in groups.values():
                if len(students) > 1:
                    same = len({texts[s] for s in students}) == 1
                    how = "identical" if same else "identical without comments and whitespace"
                    flags.append({"stage": stage.id, "file": f"{stage.package}/{rel}", "students": students, "how": how})
    return flags
