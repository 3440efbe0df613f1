"""The learner's release (learn/release.py) holds no solution, and works on its own: its checks
and fixtures grade the reference to full marks, its skeleton fails, and `learn reset` works."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib

import pytest

from conftest import SOLUTIONS, copy_course, ready_stages, run_in
from learn.skeleton import skeleton_files

pytestmark = pytest.mark.xdist_group("release")  # one test worker runs them all: they share `release`


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "course"
    subprocess.run([sys.executable, "-m", "learn.release", str(out)], check=True, capture_output=True)
    return out


def test_release_holds_no_solution(release):
    assert not (release / "solutions").exists() and not (release / "tests").exists()
    for path in (release / "fixtures").rglob("generate.py"):
        pytest.fail(f"{path} needs the solution and must not ship")


def test_release_checks_grade_the_reference_to_full_marks(release):
    done = run_in(release, "-m", "learn", "check", "--all", "--impl", str(SOLUTIONS), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    scores = {r["stage"]: r["score"] for r in json.loads(done.stdout)["stages"]}
    assert scores == {s.id: s.max_score for s in ready_stages()}


def test_release_skeleton_fails_and_reset_restores_it(release):
    done = run_in(release, "-m", "learn", "check", "1", "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["score"] == 0
    assert (release / ".learn" / "progress.json").exists()
    bpe = release / "stages" / "stage1_tokenizer" / "bpe.py"
    pristine = bpe.read_text()
    bpe.write_text("# my work in progress\n")
    done = run_in(release, "-m", "learn", "reset", "1", "--yes")
    assert done.returncode == 0, done.stderr
    assert bpe.read_text() == pristine


def test_release_builds_from_solutions_whatever_stages_holds(tmp_path):
    course = copy_course(tmp_path / "course")
    bpe = course / "stages" / "stage1_tokenizer" / "bpe.py"
    bpe.write_text("# a learner's work in progress\n")
    done = run_in(course, "-m", "learn.release", str(tmp_path / "release"))
    assert done.returncode == 0, done.stderr
    assert bpe.read_text() == "# a learner's work in progress\n"  # untouched
    for stage in ready_stages():
        for top in ("stages", "pristine"):
            folder = tmp_path / "release" / top / stage.package
            assert {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*") if p.is_file()} == skeleton_files(stage)


def documented_commands(readme: str) -> list[str]:
    """The `learn ...` lines of the README's bash blocks, comments cut off."""
    blocks = [b.replace("\\\n", " ") for b in re.findall(r"```bash\n(.*?)```", readme, re.S)]  # continued lines joined
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines() if line.startswith("learn ")]


def test_release_readme_is_the_learners_and_its_commands_work_offline(tmp_path):
    release = tmp_path / "course"
    subprocess.run([sys.executable, "-m", "learn.release", str(release)], check=True, capture_output=True)
    readme = (release / "README.md").read_text(encoding="utf-8")
    for absent in ("solutions", "tools/", "tests/", "pytest", "--impl solutions"):
        assert absent not in readme, f"the learner's README names {absent!r}, which a release lacks"
    assert 0 <= readme.index("pip install torch==2.13.0") < readme.index("pip install -e .")  # torch first: no CUDA build

    # The `learn` script, exactly as pip installs it from the release's pyproject.toml.
    module, attr = tomllib.loads((release / "pyproject.toml").read_text())["project"]["scripts"]["learn"].split(":")
    script = f"import sys; from {module} import {attr}; sys.argv[0] = 'learn'; sys.exit({attr}())"
    commands = documented_commands(readme)
    assert {c.split()[1] for c in commands} >= {"status", "lesson", "check", "reset"}
    expected = {"status": 0, "lesson": 0, "check": 1, "reset": 0}  # check: the untouched skeleton fails
    for line in commands:
        words = shlex.split(line)
        if words[1] not in expected:
            continue
        done = run_in(release, "-c", script, *words[1:], input="n\n")
        assert done.returncode == expected[words[1]], f"{line}: {done.stdout[-2000:]}{done.stderr}"
        assert "Traceback" not in done.stdout + done.stderr and "error:" not in done.stderr, line
    assert ".learn/progress.json" in readme and (release / ".learn" / "progress.json").is_file()  # where the README says


def test_what_a_learner_reads_names_no_file_the_release_lacks(release):
    """Lessons, skeletons and README name course files by path: each is in the release (what a
    command writes, runs/ data/ out/ .learn/ .data/, is not)."""
    path = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)+[\w.-]+\.(?:py|md|toml|json|txt))\b")
    written = ("runs/", "data/", "out/", ".learn/", ".data/")
    missing = []
    for text_file in [release / "README.md", *release.glob("lessons/*.md"), *release.glob("stages/**/*.py")]:
        for named in path.findall(text_file.read_text(encoding="utf-8")):
            if not named.startswith(written) and not (release / named).exists() and not (text_file.parent / named).exists():
                missing.append(f"{text_file.relative_to(release)} names {named}")
    assert not missing, "\n".join(missing)
