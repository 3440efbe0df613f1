"""Fixtures are reproducible: regenerating them from solutions/ gives the committed bytes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ready_stages
from learn import ROOT

WITH_FIXTURES = [s for s in ready_stages() if (s.fixtures_dir / "generate.py").exists()]


@pytest.mark.parametrize("stage", WITH_FIXTURES, ids=lambda s: s.id)
def test_fixtures_regenerate_to_the_same_bytes(stage, tmp_path):
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_fixtures.py"), stage.id, "--out", str(tmp_path)],
                   check=True, capture_output=True)  # fmt: skip
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made, "the generator wrote nothing"
    for name in made:
        committed = stage.fixtures_dir / name
        assert committed.is_file(), f"{name} is generated but not committed"
        assert committed.read_bytes() == (tmp_path / name).read_bytes(), f"{name} is stale: run tools/make_fixtures.py {stage.id}"
