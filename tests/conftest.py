"""Shared helpers for the project's own tests: build throwaway trees from the solution."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from learn import ROOT, manifest

SOLUTIONS = ROOT / "solutions"
VARIANTS = Path(__file__).parent / "variants"


def ready_stages() -> list[manifest.Stage]:
    return [s for s in manifest.load() if s.ready]


def copy_solutions(dest: Path) -> Path:
    """A tree holding every ready stage's reference solution."""
    for s in ready_stages():
        shutil.copytree(SOLUTIONS / s.package, dest / s.package, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@pytest.fixture
def solution_tree(tmp_path) -> Path:
    return copy_solutions(tmp_path / "tree")
