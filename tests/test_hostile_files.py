"""Run folders the learner's code wrote, read by a CLI that may run as root: a link in one makes
the CLI read or write nothing but that folder's own plain files (learn/files.py)."""

from __future__ import annotations

import json
import os

from typer.testing import CliRunner

from learn import cli, files

runner = CliRunner()


def _secret(tmp_path):
    secret = tmp_path / "root-only.txt"
    secret.write_text("the grading machine's secret")
    secret.chmod(0o600)
    return secret


def test_a_run_folder_whose_files_are_links_is_refused_in_one_line(tmp_path):
    secret = _secret(tmp_path)
    for linked in ("run.json", "checkpoint.pt"):
        run = tmp_path / f"run-{linked}"
        run.mkdir()
        (run / "run.json").write_text(json.dumps({"tokenizer": "gpt2"}))
        (run / "checkpoint.pt").write_bytes(b"weights")
        (run / linked).unlink()
        (run / linked).symlink_to(secret)
        result = runner.invoke(cli.app, ["generate", "ab", "--impl", "solutions", "--run", str(run)])
        assert result.exit_code == 2 and "no readable run" in result.output, result.output
        assert "Traceback" not in result.output


def test_writes_replace_links_and_never_follow_them(tmp_path):
    secret = _secret(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").symlink_to(secret)
    files.write_text(run / "summary.json", "{}")
    assert secret.read_text() == "the grading machine's secret"
    assert not (run / "summary.json").is_symlink() and (run / "summary.json").read_text() == "{}"
    assert sorted(p.name for p in run.iterdir()) == ["summary.json"]  # no temporary file left


def test_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "run.json"
    os.mkfifo(fifo)
    try:
        files.read_bytes(fifo)
    except OSError as e:
        assert "not a plain file" in str(e)
    else:
        raise AssertionError("a FIFO was read")
