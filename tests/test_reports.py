"""Reports for people and platforms: Gradescope's results.json, the course version, flags."""

from __future__ import annotations

import shutil

import jsonschema

from conftest import copy_solutions
from learn import ROOT, manifest
from learn.judge.grader import grade
from learn.judge.reports import course_version, fingerprint, gradescope, identical_work, normalized

COURSE = [s for s in manifest.load() if s.ready]

# Gradescope's documented results.json (help.gradescope.com, "Autograder specifications"),
# written as a JSON schema: the fields we write, their types and allowed values.
GRADESCOPE_SCHEMA = {
    "type": "object",
    "required": ["tests"],
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number"},
        "output": {"type": "string"},
        "visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
        "stdout_visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "max_score"],
                "properties": {
                    "score": {"type": "number"},
                    "max_score": {"type": "number"},
                    "status": {"enum": ["passed", "failed"]},
                    "name": {"type": "string"},
                    "number": {"type": "string"},
                    "output": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
                },
                "additionalProperties": False,
            },
        },
        "leaderboard": {"type": "array"},
    },
    "additionalProperties": False,
}


def test_gradescope_results_validate_and_add_up(tmp_path):
    stage1 = COURSE[0]
    tree = copy_solutions(tmp_path / "tree")
    result = grade(stage1, tree, seed=3).to_json()
    out = gradescope([result], COURSE)
    jsonschema.validate(out, GRADESCOPE_SCHEMA)
    assert out["score"] == stage1.max_score
    assert sum(t["max_score"] for t in out["tests"]) == sum(s.max_score for s in COURSE)
    missing = [t for t in out["tests"] if t["name"].startswith(tuple(s.id + " " for s in COURSE[1:]))]
    assert all(t["score"] == 0 and "no " in t["output"] for t in missing)


def test_course_version_follows_the_grading_files(tmp_path):
    for name in ("curriculum.toml", "checks", "fixtures", "learn"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, tmp_path / name)
    assert course_version(tmp_path) == course_version(ROOT)
    (tmp_path / "checks" / "stage1_tokenizer" / "test_bpe.py").write_text("# changed\n", encoding="utf-8")
    assert course_version(tmp_path) != course_version(ROOT)


def test_fingerprint_follows_every_file_a_worker_gets(tmp_path):
    tree = copy_solutions(tmp_path / "tree")
    before = fingerprint(tree)
    for never_copied in ("tests", ".git", "stage1_tokenizer/__pycache__"):
        (tree / never_copied).mkdir()
        (tree / never_copied / "x.py").write_text("not graded")
    assert fingerprint(tree) == before
    seen = {before}
    for change in ("x = 1", "x = 2", "rename", "link"):  # a helper a stage may import: its content, name, kind
        helper = tree / "helpers.py"
        if change == "rename":
            helper.rename(tree / "helper.py")
        elif change == "link":
            (tree / "helper.py").rename(helper)
            (tree / "helper.py").symlink_to("helpers.py")
        else:
            helper.write_text(change, encoding="utf-8")
        assert fingerprint(tree) not in seen, change
        seen.add(fingerprint(tree))


def test_identical_work_is_flagged_but_untouched_skeletons_are_not(tmp_path):
    trees = {}
    for name in ("ada", "bob", "cy", "dee", "eve"):
        trees[name] = tmp_path / name
        shutil.copytree(ROOT / "stages" / "stage1_tokenizer", trees[name] / "stage1_tokenizer")
    solution = (ROOT / "solutions" / "stage1_tokenizer" / "bpe.py").read_text(encoding="utf-8")
    (trees["ada"] / "stage1_tokenizer" / "bpe.py").write_text(solution, encoding="utf-8")
    (trees["bob"] / "stage1_tokenizer" / "bpe.py").write_text(solution, encoding="utf-8")
    # Comments and blank lines added between the top-level definitions: the same program.
    disguised = "# all my own work\n\n" + solution.replace("\n\n\n", "\n\n   \n# written by me\n\n")
    (trees["cy"] / "stage1_tokenizer" / "bpe.py").write_text(disguised, encoding="utf-8")
    flags = identical_work(trees, COURSE[:1], ROOT / "stages")
    assert [f["students"] for f in flags] == [["ada", "bob", "cy"]]
    assert flags[0]["how"] == "identical without comments and whitespace"
    assert normalized("x = 1  # one\n") == normalized("x   =   1\n")


def test_check_all_writes_gradescope_results_for_a_zipped_folder_and_exits_for_classroom(tmp_path):
    """Gradescope unpacks a submission into one folder; GitHub Classroom reads the exit code."""
    import json

    from typer.testing import CliRunner

    from learn import cli

    submission = tmp_path / "submission"
    copy_solutions(submission / "my-course")  # the stage packages one level down
    shutil.rmtree(submission / "my-course" / "stage4_model")
    results = tmp_path / "results" / "results.json"
    done = CliRunner().invoke(cli.app, ["check", "--all", "--impl", str(submission), "--gradescope", str(results), "--json"])
    assert done.exit_code == 1, done.output  # stage 4 is missing: not every check passed
    report = json.loads(done.stdout)
    stage4 = manifest.find("stage4")
    assert report["max_score"] == sum(s.max_score for s in manifest.load() if s.ready)
    assert report["score"] == report["max_score"] - stage4.max_score
    out = json.loads(results.read_text())
    jsonschema.validate(out, GRADESCOPE_SCHEMA)
    assert out["score"] == report["score"] and course_version() in out["output"]
    assert [t["status"] for t in out["tests"] if t["name"].startswith("stage4")] == ["failed"]
