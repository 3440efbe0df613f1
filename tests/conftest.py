"""Shared helpers for the project's own tests: build throwaway trees from the solution."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from learn import ROOT, manifest

SOLUTIONS = ROOT / "solutions"
VARIANTS = Path(__file__).parent / "variants"


def ready_stages() -> list[manifest.Stage]:
    return [s for s in manifest.load() if s.ready]


def copy_course(dest: Path) -> Path:
    """A copy of the whole course folder, for a test that changes it (no git, progress or caches)."""
    skip = shutil.ignore_patterns(".git", ".learn", ".data", "out", ".nox", ".venv", ".pytest_cache", "__pycache__", "*.egg-info")
    return Path(shutil.copytree(ROOT, dest, ignore=skip))


def run_in(course: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    """`python ARGS` in a copy of the course (or a release) as a learner runs it there: importing
    that copy's `learn`, with its own progress, and offline (any HTTP goes to a closed port)."""
    env = {k: v for k, v in os.environ.items() if k != "LEARN_PROGRESS"}
    env.update(PYTHONPATH=str(course), HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9", NO_PROXY="")
    return subprocess.run([sys.executable, *args], cwd=course, env=env, input=input, capture_output=True, text=True)


def copy_solutions(dest: Path) -> Path:
    """A tree holding every ready stage's reference solution."""
    for s in ready_stages():
        shutil.copytree(SOLUTIONS / s.package, dest / s.package, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@pytest.fixture
def solution_tree(tmp_path) -> Path:
    return copy_solutions(tmp_path / "tree")
