"""Shared helpers for the project's own tests: build throwaway trees from the solution."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# One torch thread in every run the tests start (learn/cli/launch.py default_threads reads it): the
# suite runs two gradings or runs at once on two cores, where more threads only wait on each other.
os.environ["OMP_NUM_THREADS"] = "1"

from learn import ROOT, cli, manifest  # noqa: E402

SOLUTIONS = ROOT / "solutions"
VARIANTS = Path(__file__).parent / "variants"
BOOK = Path(__file__).parent / "book"
PRETRAIN_KEYS = {"val_loss", "val_ppl", "val_bpb", "train_loss", "tokens_per_second", "steps", "tokens_seen", "seconds",
                 "parameters", "config", "data", "tokenizer", "time", "planned_steps", "slowdown"}  # fmt: skip
PRETRAIN_TIME = {"tokenizer", "training", "evaluations", "final_evaluation", "samples"}  # where a run's seconds went
SPAM = "win cash prize free call now claim urgent txt offer reply stop".split()
HAM = "see you at lunch later ok home mum love tonight dinner sorry".split()


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


def overlaid(dest: Path, overlays: Path) -> Path:
    """A tree of the reference solutions overlaid with `overlays`' packages: one with its own
    __init__.py replaces the stage's package (tests/variants); one without replaces only the
    files it holds, the learner's (tests/book)."""
    tree = copy_solutions(dest)
    for stage in ready_stages():
        package = overlays / stage.package / stage.package
        if (package / "__init__.py").is_file():
            shutil.rmtree(tree / stage.package)
        if package.is_dir():
            shutil.copytree(package, tree / stage.package, dirs_exist_ok=True)
    return tree


def mutate(tree: Path, stage: manifest.Stage, mutant) -> None:
    """Make the mistake `mutant` (tests/mutants) in `tree`'s copy of `stage`."""
    path = tree / stage.package / mutant.file
    path.write_text(path.read_text(encoding="utf-8").replace(mutant.old, mutant.new), encoding="utf-8")


@pytest.fixture
def solution_tree(tmp_path) -> Path:
    return copy_solutions(tmp_path / "tree")


def stage_uses() -> dict[str, set[str]]:
    """Each ready stage's package -> the other stage packages its solution builds on (imports,
    transitively): stage 4's GPTModel is built on stage 3's MultiHeadAttention."""
    packages = [s.package for s in ready_stages()]
    uses = {}
    for p in packages:
        source = "\n".join(f.read_text(encoding="utf-8") for f in (SOLUTIONS / p).rglob("*.py"))
        uses[p] = {q for q in packages if q != p and re.search(rf"^\s*(from|import)\s+{q}\b", source, re.M)}
    for _ in packages:  # the closure: a package uses what the packages it uses use
        for p in packages:
            uses[p] |= {r for q in uses[p] for r in uses[q]}
    return uses


def pack_by_stage(items: list[tuple]) -> list[list[tuple]]:
    """(stage, thing) pairs packed into as few groups as the stages allow, each group to be graded
    in one tree by one judge (a judge and a worker cost seconds of torch import each): at most one
    thing per stage, and never two stages of which one builds on the other, for a broken stage 3
    fails stage 4's checks on its own and would fake a verdict about the thing in stage 4."""
    uses, groups = stage_uses(), []
    for stage, thing in items:
        fits = (g for g in groups if all(o.package != stage.package and o.package not in uses[stage.package]
                                         and stage.package not in uses[o.package] for o, _ in g))  # fmt: skip
        group = next(fits, None)
        if group is None:
            groups.append(group := [])
        group.append((stage, thing))
    return groups


def finetune_files(folder: Path, impl: str | Path, *more) -> Path:
    """In `folder`: made-up words (words.txt), a tiny `learn pretrain` run of `impl` on them
    (pretrained/; `more` are further options), 30 spam and 70 ham texts in the UCI layout
    (spam.tsv), and 30 instructions."""
    from typer.testing import CliRunner

    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 7))) for _ in range(200)]
    text = folder / "words.txt"
    text.write_text(" ".join(rng.choice(words + SPAM + HAM) for _ in range(4000)), encoding="utf-8")
    args = ["pretrain", "--impl", impl, "--data", text, "--model", "tiny", "--vocab-size", 300, "--context-length", 192,
            "--batch-size", 4, "--max-steps", 2, "--run", folder / "pretrained", "--json", *more]  # fmt: skip
    result = CliRunner().invoke(cli.app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    lines = [f"spam\t{' '.join(rng.choices(SPAM, k=rng.randint(3, 8)))}" for _ in range(30)]
    lines += [f"ham\t{' '.join(rng.choices(HAM, k=rng.randint(3, 8)))}" for _ in range(70)]
    rng.shuffle(lines)
    (folder / "spam.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    entries = [{"instruction": f"Say {w}.", "input": "", "output": w} for w in words[:20]]
    entries += [{"instruction": "Name the first word.", "input": f"{a} {b}", "output": a}
                for a, b in zip(words[20:30], words[30:40])]
    (folder / "instructions.json").write_text(json.dumps(entries), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def solution_files(tmp_path_factory) -> Path:
    """`finetune_files` of solutions/, made once for the test files that only read them (a run's
    failure log goes into its folder: a test that may fail a run copies the folder first)."""
    return finetune_files(tmp_path_factory.mktemp("solution-files"), "solutions")
