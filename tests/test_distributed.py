"""`learn pretrain` in several processes, on this machine's CPU (torchrun, the gloo backend): two
processes take the same steps as one with the same global batch, a checkpoint of two goes on in
one, and what goes wrong (too many processes, a batch they cannot share, a rank killed, a port in
use, a rank that never comes) is one line and a non-zero exit, never a hang. The runs are
subprocesses, as a learner starts them; the data are a tiny text in tmp_path."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch

from learn import ROOT

two_cores = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="--nproc 2 on the CPU needs two cores")
#: Two micro-batches of 8 per step: each of two ranks takes 4 rows of each, and DDP averages once.
TINY = ("--model", "tiny", "--vocab-size", 300, "--precision", "fp32", "--batch-size", 8, "--accumulation", 2, "--max-steps", 6)


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    """About 20 kB of made-up words: enough pairs for a 300-token BPE and a few batches."""
    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 7))) for _ in range(200)]
    path = tmp_path_factory.mktemp("data") / "words.txt"
    path.write_text(" ".join(rng.choice(words) for _ in range(4000)), encoding="utf-8")
    return path


def pretrain(*args, env=None, timeout=240) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "learn", "pretrain", "--impl", "solutions", *map(str, args)]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def checkpoint(run) -> dict:
    return torch.load(run / "checkpoint.pt", weights_only=True)


def close(a: list, b: list, tol: float = 1e-4) -> bool:
    """Rows of numbers equal within tol (float sums in another order differ in the last digits)."""
    return len(a) == len(b) and all(abs(x - y) <= tol for ra, rb in zip(a, b) for x, y in zip(ra, rb))


@two_cores
def test_two_processes_take_the_steps_of_one_and_their_checkpoint_goes_on_in_one(text_file, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    alone = pretrain("--data", text_file, *TINY, "--run", one, "--json")
    assert alone.returncode == 0, alone.stderr
    whole = checkpoint(one)

    paused = pretrain("--data", text_file, *TINY, "--run", two, "--nproc", 2, "--stop-at", 3)
    assert paused.returncode == 0 and "--resume" in paused.stderr, paused.stderr
    lines = [line for line in paused.stderr.splitlines() if line.strip()]  # rank 0's evaluations and its last word, once: rank 1 says nothing
    assert [line.split()[1] for line in lines[:-1]] == ["1", "2", "3"] and lines[-1].startswith("stopped at step 3"), lines
    assert sorted(p.name for p in two.iterdir()) == ["checkpoint.pt", "loss.png", "run.json", "tokenizer.json"]
    half = checkpoint(two)
    assert close(half["losses"], whole["losses"][:3]), (half["losses"], whole["losses"])
    assert close(half["evals"], whole["evals"][:3]), (half["evals"], whole["evals"])  # each rank evaluated its rows
    assert set(half["model"]) == set(whole["model"])  # the GPTModel's own keys, not DDP's "module."

    resumed = pretrain("--run", two, "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    done = checkpoint(two)
    assert close(done["losses"], whole["losses"]) and close(done["evals"], whole["evals"])
    assert all(torch.allclose(done["model"][k], whole["model"][k], atol=1e-4) for k in whole["model"])
    summary = (two / "summary.json").read_text()
    assert abs(float(summary.split('"val_loss": ')[1].split(",")[0]) - float(alone.stdout.split('"val_loss": ')[1].split(",")[0])) < 1e-4


@two_cores
def test_too_many_processes_or_a_batch_they_cannot_share_is_one_line(text_file, tmp_path):
    result = pretrain("--data", text_file, "--nproc", (os.cpu_count() or 1) + 1)
    assert result.returncode == 2 and "--nproc" in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    result = pretrain("--data", text_file, *TINY, "--batch-size", 7, "--nproc", 2, "--run", tmp_path / "run")
    assert result.returncode == 2 and "not a multiple of the 2 processes" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    return sorted(found)


@two_cores
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the ranks in /proc")
def test_a_rank_that_dies_stops_the_run_with_one_line(text_file, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "learn", "pretrain", "--impl", "solutions", "--data", str(text_file), *map(str, TINY[:-1]),
           "100000", "--run", str(run), "--nproc", "2"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (run / "run.json").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(5)  # into the training loop
    ranks = _children(proc.pid)  # torchrun starts rank 0 first
    assert len(ranks) == 2, ranks
    os.kill(ranks[-1], signal.SIGKILL)
    started = time.monotonic()
    _, stderr = proc.communicate(timeout=90)
    assert proc.returncode != 0 and time.monotonic() - started < 60
    assert "was killed" in stderr and "Traceback" not in stderr, stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_port_in_use_or_a_rank_that_never_comes_is_one_line(text_file, tmp_path):
    """Rank 0 of 2 started by hand (no torchrun): it opens the rendezvous at MASTER_PORT itself."""
    env = {**os.environ, "RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "LEARN_DIST_TIMEOUT": "3"}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = pretrain("--data", text_file, *TINY, "--run", tmp_path / "a", env={**env, "MASTER_PORT": str(taken.getsockname()[1])})
    assert result.returncode == 1 and "in use" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    result = pretrain("--data", text_file, *TINY, "--run", tmp_path / "b", env={**env, "MASTER_PORT": str(_free_port())})
    assert result.returncode == 1 and "not all 2 processes came" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_precision_auto_is_bf16_only_where_the_device_computes_it_natively(monkeypatch):
    from learn.engine import distributed

    assert distributed.pick_precision("fp32", "cpu") == ("fp32", None)
    assert distributed.pick_precision("bf16", "cpu") == ("bf16", None)  # asked for: kept wherever autocast computes
    for native in (True, False):  # a CPU with AVX-512 or AMX, and one without (most laptops): emulated bf16 is slower
        monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda native=native: native)
        assert distributed.pick_precision("auto", "cpu") == ("bf16" if native else "fp32", None)
    assert distributed.pick_precision("auto", "mps") == ("fp32", None)


def test_threads_are_a_share_of_the_cores_or_what_omp_num_threads_says(monkeypatch):
    """Several processes share the cores (torchrun's OMP_NUM_THREADS=1 notwithstanding); one alone
    takes OMP_NUM_THREADS where it is set (the test suite sets 1: busy cores make threads wait), else all."""
    from learn.cli.launch import default_threads

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert default_threads() == 4
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    assert default_threads() == 1
    for unset in ("", "0", "many"):
        monkeypatch.setenv("OMP_NUM_THREADS", unset)
        assert default_threads() is None
