"""Fixtures are reproducible: regenerating them from solutions/ gives the committed files.

Floats that torch computes differ in their last digits from one CPU to another (BLAS kernels sum in
different orders), so a JSON fixture's floats are compared within FLOAT_TOLERANCE; everything else
(every other file, and a JSON file's keys, ints, strings and layout) must be the same bytes.
Generators store such floats with SIGNIFICANT_DIGITS significant digits (CONTRIBUTING.md).
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys

import pytest

from conftest import ready_stages
from learn import ROOT

WITH_FIXTURES = [s for s in ready_stages() if (s.fixtures_dir / "generate.py").exists()]
SIGNIFICANT_DIGITS = 6
# A few units in the 6th significant digit: what another CPU changes, and far inside the
# tolerance the checks grant a learner's code against these numbers (rtol 1e-4).
FLOAT_TOLERANCE = {"rel_tol": 2e-5, "abs_tol": 1e-6}
FLOAT = re.compile(r"-?\d+(?:\.\d+(?:[eE][-+]?\d+)?|[eE][-+]?\d+)")  # a JSON number with a fraction or an exponent


def differences(committed: str, made: str) -> list[str]:
    """How two JSON texts differ: each float by more than FLOAT_TOLERANCE, or any other byte."""
    if FLOAT.sub("0.0", committed) != FLOAT.sub("0.0", made):
        return ["they differ in more than the last digits of their floats"]
    return [f"{a} != {b}" for a, b in zip(FLOAT.findall(committed), FLOAT.findall(made))
            if not math.isclose(float(a), float(b), **FLOAT_TOLERANCE)]  # fmt: skip


def test_floats_compare_within_tolerance_and_the_rest_exactly():
    assert differences('{"a":[1,"x",2.81234]}', '{"a":[1,"x",2.81235]}') == []  # another CPU
    assert differences("[0.0]", "[4e-07]") == []
    assert differences("[2.81234]", "[2.8126]") == ["2.81234 != 2.8126"]
    for committed, made in [("[1]", "[2]"), ("[1]", "[1.0]"), ('{"a":1,"b":2}', '{"b":2,"a":1}'), ("[1.0]", "[1.0]\n")]:
        assert differences(committed, made) != []


# What another CPU does differently, on this one: torch's plain kernels instead of its vectorised
# ones, and MKL's portable code paths (where torch uses MKL).
ANOTHER_CPU = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}


def make(stage, out, **env):
    out.mkdir()
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_fixtures.py"), stage.id, "--out", str(out)],
                   check=True, capture_output=True, env={**os.environ, **env})  # fmt: skip
    return {p.name: p.read_bytes() for p in out.iterdir()}


@pytest.mark.parametrize("stage", WITH_FIXTURES, ids=lambda s: s.id)
def test_fixtures_regenerate_to_the_same_content(stage, tmp_path):
    made = make(stage, tmp_path / "a")
    assert make(stage, tmp_path / "b") == made, "two runs on one machine must write the same bytes"
    assert_committed(stage, made)


@pytest.mark.parametrize("stage", WITH_FIXTURES, ids=lambda s: s.id)
def test_fixtures_regenerate_on_another_cpu(stage, tmp_path):
    assert_committed(stage, make(stage, tmp_path / "a", **ANOTHER_CPU))


def assert_committed(stage, made: dict[str, bytes]) -> None:
    assert made, "the generator wrote nothing"
    stale = f"is stale: run tools/make_fixtures.py {stage.id}"
    for name, data in sorted(made.items()):
        committed = stage.fixtures_dir / name
        assert committed.is_file(), f"{name} is generated but not committed"
        if name.endswith(".json"):
            diffs = differences(committed.read_text(encoding="utf-8"), data.decode("utf-8"))
            assert not diffs, f"{name} {stale}: {diffs[:5]}"
        else:
            assert committed.read_bytes() == data, f"{name} {stale}"


@pytest.mark.parametrize("stage", WITH_FIXTURES, ids=lambda s: s.id)
def test_stored_floats_say_their_precision(stage):
    for path in stage.fixtures_dir.glob("*.json"):
        for text in FLOAT.findall(path.read_text(encoding="utf-8")):
            rounded = float(f"{float(text):.{SIGNIFICANT_DIGITS}g}")
            assert rounded == float(text), f"{path.name}: {text} has more than {SIGNIFICANT_DIGITS} significant digits"
