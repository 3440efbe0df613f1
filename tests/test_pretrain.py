"""`learn pretrain` and `learn generate` on solutions/ (stages 1-5): a few steps of the tiny preset
on a tiny text write a complete run folder, pause and resume bit for bit, stop on Ctrl-C with a
checkpoint, and generate; bad input is one line and a non-zero exit. No network: the data are
files in tmp_path."""

from __future__ import annotations

import json
import re
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch
from typer.testing import CliRunner

from conftest import PRETRAIN_KEYS as KEYS, PRETRAIN_TIME as TIME
from learn import ROOT, cli

pytestmark = pytest.mark.xdist_group("pretrain")  # one test worker runs them all: they share `trained`
runner = CliRunner()


def learn(*args):
    return runner.invoke(cli.app, [str(a) for a in args])


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    """About 20 kB of made-up words: enough pairs for a 300-token BPE and a few batches."""
    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 7))) for _ in range(200)]
    path = tmp_path_factory.mktemp("data") / "words.txt"
    path.write_text(" ".join(rng.choice(words) for _ in range(4000)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(text_file, tmp_path_factory):
    """(result, run, cache): one 10-step run with dropout and its progress lines, whose tokenizer
    was trained into `cache`, shared by the tests that only read a finished run."""
    from learn.cli import pretrain as command

    folder = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(command, "CACHE", folder / "cache")
        result = learn("pretrain", "--impl", "solutions", "--data", text_file, "--model", "tiny", "--vocab-size", 300,
                       "--run", folder / "run", "--max-steps", 10, "--drop-rate", 0.1)  # fmt: skip
    assert result.exit_code == 0, result.output
    return result, folder / "run", folder / "cache"


def pretrain(data, run, *more):
    return learn("pretrain", "--impl", "solutions", "--data", data, "--model", "tiny", "--vocab-size", 300,
                 "--run", run, "--json", *more)  # fmt: skip


def losses(run) -> list:
    return torch.load(run / "checkpoint.pt", weights_only=True)["losses"]


def test_run_folder_and_generate(text_file, tmp_path):
    run = tmp_path / "run"
    result = pretrain(text_file, run, "--max-steps", 4)
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary) == KEYS and json.loads(result.stdout) == summary and set(summary["time"]) == TIME
    assert summary["steps"] == summary["planned_steps"] == 4 and summary["slowdown"] is None
    assert summary["tokenizer"] == "own" and summary["config"]["vocab_size"] == 300
    assert 0 < summary["val_bpb"] < 20 and summary["val_ppl"] > 1 and summary["tokens_seen"] == 4 * 16 * 64
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run / "samples.txt").read_text() and (run / "tokenizer.json").is_file()

    result = learn("generate", "ab", "--impl", "solutions", "--run", run, "--max-new-tokens", 5, "--temperature", 0)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ab")
    png = tmp_path / "attention.png"
    result = learn("show", "attention", "ab cd ef", "--impl", "solutions", "--run", run, "--layer", 0, "--out", png)
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "4 heads" in " ".join(result.output.split())

    again = pretrain(text_file, run, "--max-steps", 4)  # a run folder is never overwritten
    assert again.exit_code == 2 and "holds a run already" in again.output and summary == json.loads((run / "summary.json").read_text())


def tree_with(tmp_path, file: str, code: str):
    """A copy of solutions/ with `code` appended to one file: a learner's slower stage."""
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "solutions", tree, ignore=shutil.ignore_patterns("__pycache__"))
    with open(tree / file, "a", encoding="utf-8") as f:
        f.write(code)
    return tree


SLOW_TOKENIZER = """
import time as _time


class _SlowMerges(dict):
    def __setitem__(self, pair, idx):
        _time.sleep(8 / 43)  # 8 s over the 43 merges of a vocabulary of 300
        super().__setitem__(pair, idx)


def _setattr(self, name, value):
    object.__setattr__(self, name, _SlowMerges(value) if name == "merges" else value)


BPETokenizer.__setattr__ = _setattr
"""


def test_a_slow_tokenizer_leaves_the_training_its_budget(text_file, tmp_path, monkeypatch):
    """--max-seconds counts from the encoded text on: 8 s of tokenizer training leave a 6 s budget
    whole. Counted, they would spend it before the first step; not counted, the first step (taken
    before any estimate of the time left) always starts in time, on a busy machine too. The worker
    watches the merges grow meanwhile (a thread, in the sandbox) and tells the bar."""
    from learn.cli import pretrain as command

    events, workers = [], command.workers

    def recorded(*args, **kwargs):
        engine = workers(*args, **kwargs)
        run = engine.run
        engine.run = lambda *a, on_event, **k: run(*a, on_event=lambda e: (events.append(e), on_event(e)), **k)
        return engine

    monkeypatch.setattr(command, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(command, "workers", recorded)
    run, tree = tmp_path / "run", tree_with(tmp_path, "stage1_tokenizer/bpe.py", SLOW_TOKENIZER)
    result = learn("pretrain", "--impl", tree, "--data", text_file, "--model", "tiny", "--vocab-size", 300,
                   "--run", run, "--max-seconds", 6)  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    seconds = summary["time"]
    assert seconds["tokenizer"] >= 8 and summary["steps"] >= 1, (summary["steps"], seconds)
    assert seconds["evaluations"] < seconds["training"] and "time: tokenizer" in result.output
    merges = [(e["done"], e["total"]) for e in events if e["event"] == "merges"]
    assert len(merges) >= 3 and merges[-1] == (43, 43) and merges == sorted(set(merges)), merges


SLOWER_STEPS = """
import time as _time

_step, _calls = train_step, [0]


def train_step(*args, **kwargs):  # noqa: F811
    _calls[0] += 1
    if _calls[0] > 14:  # after the schedule is sized
        _time.sleep(2.0)
    return _step(*args, **kwargs)
"""


def test_a_run_cut_short_says_why(text_file, tmp_path):
    """Steps 2 s slower than the first ten: summary.json records the plan and the slowdown, and a
    run that trained less than half its plan says so."""
    run, tree = tmp_path / "run", tree_with(tmp_path, "stage5_pretrain/step.py", SLOWER_STEPS)
    result = learn("pretrain", "--impl", tree, "--data", text_file, "--model", "tiny", "--vocab-size", 300,
                   "--run", run, "--max-seconds", 16, "--precision", "fp32", "--threads", 1)  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["planned_steps"] and summary["slowdown"] > 2, summary
    short = summary["steps"] < summary["planned_steps"] / 2
    said = f"trained {summary['steps']:,} of {summary['planned_steps']:,} planned steps: steps took"
    assert (said in result.output) == short


def test_pause_and_resume_follow_the_same_losses(text_file, trained, tmp_path):
    """Dropout on: the resumed run draws the masks, batches and moments the uninterrupted one did."""
    _, whole, _ = trained
    paused = tmp_path / "paused"
    result = pretrain(text_file, paused, "--max-steps", 10, "--drop-rate", 0.1, "--stop-at", 4)
    assert result.exit_code == 0 and "--resume" in result.output and not (paused / "summary.json").exists()
    assert len(losses(paused)) == 4
    result = learn("pretrain", "--impl", "solutions", "--run", paused, "--resume", "--json")
    assert result.exit_code == 0, result.output
    assert losses(paused) == losses(whole)
    a, b = (torch.load(r / "checkpoint.pt", weights_only=True)["model"] for r in (whole, paused))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_tokenizer_is_trained_once(text_file, trained, tmp_path, monkeypatch):
    from learn.cli import pretrain as command

    _, run, cache = trained
    monkeypatch.setattr(command, "CACHE", cache)
    assert len(list(cache.iterdir())) == 1
    result = learn("pretrain", "--impl", "solutions", "--data", text_file, "--model", "tiny", "--vocab-size", 300,
                   "--run", tmp_path / "b", "--max-steps", 1)  # fmt: skip
    assert result.exit_code == 0 and "training your BPE" not in result.output
    assert (run / "tokenizer.json").read_bytes() == (tmp_path / "b" / "tokenizer.json").read_bytes()


def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(text_file, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "learn", "pretrain", "--impl", "solutions", "--data", str(text_file), "--model", "tiny",
           "--vocab-size", "300", "--max-steps", "800", "--run", str(run)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    seen = []
    for line in proc.stderr:  # the first evaluation's line (step 80): training is under way
        seen.append(line)
        if line.startswith("step"):
            break
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    stderr = "".join(seen) + stderr
    assert proc.returncode == 130, stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    assert len(losses(run)) >= 80 and (run / "tokenizer.json").is_file()


@pytest.mark.parametrize(
    ("content", "said"),
    [(None, "no such file"), (b"", "empty"), (b"\xff\xfe\x00bad", "not UTF-8"), ("short text " * 30, "too short")],
)
def test_bad_data_is_one_line(tmp_path, content, said):
    path = tmp_path / "data.txt"
    if content is not None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = pretrain(path, tmp_path / "run", "--vocab-size", 257, "--max-steps", 2)
    assert result.exit_code != 0
    assert said in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_bad_settings_runs_and_trees(text_file, tmp_path, monkeypatch):
    result = learn("pretrain", "--impl", "solutions", "--data", text_file, "--model", "huge")
    assert result.exit_code == 2 and "unknown preset" in result.output
    result = learn("pretrain", "--impl", "solutions", "--data", text_file, "--emb-dim", 100, "--n-heads", 3)
    assert result.exit_code == 2 and "multiple" in result.output
    result = learn("pretrain", "--impl", "solutions", "--data", text_file, "--precision", "fp16")
    assert result.exit_code == 2 and "choose auto, bf16, fp32" in result.output
    tree = tmp_path / "tree"
    for package in ("stage1_tokenizer", "stage2_data", "stage3_attention", "stage4_model"):
        shutil.copytree(ROOT / "solutions" / package, tree / package)
    result = learn("pretrain", "--impl", tree, "--data", text_file)
    assert result.exit_code == 2 and "stage5_pretrain" in result.output
    monkeypatch.setenv("LEARN_PROGRESS", str(tmp_path / "progress.json"))  # nothing passed yet
    result = learn("pretrain", "--data", text_file)
    assert result.exit_code == 2 and "stage 1 has not passed" in result.output

    run = tmp_path / "run"
    run.mkdir()
    result = learn("generate", "ab", "--impl", "solutions", "--run", run)
    assert result.exit_code == 2 and "no readable run" in result.output
    (run / "run.json").write_text(json.dumps({"tokenizer": "own"}))
    (run / "tokenizer.json").write_text("{}")
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint")
    result = learn("generate", "ab", "--impl", "solutions", "--run", run)
    assert result.exit_code == 1 and "checkpoint cannot be read" in result.output and "Traceback" not in result.output


def test_adamw_is_fused_only_where_this_torch_has_the_kernel(monkeypatch):
    """pyproject.toml promises torch >= 2.1; fused AdamW on the CPU came in 2.4."""
    from learn.engine.pretrain import fused_adamw

    assert fused_adamw("cpu") and fused_adamw("cuda")
    monkeypatch.setattr(torch, "__version__", torch.torch_version.TorchVersion("2.3.1"))
    assert not fused_adamw("cpu") and not fused_adamw("mps") and fused_adamw("cuda")


def test_budget_sizes_a_run_from_steady_speeds():
    from learn.engine.budget import Budget

    budget = Budget(time.time() + 101, final_batches=0, eval_batches=0, sample_tokens=0, batch_size=1)
    for seconds in (5.0, 5.0, 1.0, *[0.1] * 9):  # two warm-up steps, then one slow step among ten
        budget.record_step(seconds)
    assert budget.step_seconds == pytest.approx(0.19)  # the mean of the ten: the slow one weighs a tenth
    assert 480 <= budget.steps_left(0, 1) <= 526 and 240 <= budget.steps_left(0, 2) <= 263  # 99 s at 0.19 s per micro-batch
    # Sized again, a schedule moves by at most half or twice what it had left.
    assert budget.resized(step=10, total=100, evaluations=0, k=1) == 10 + 2 * 90
    assert budget.resized(step=10, total=10_000, evaluations=0, k=1) == 10 + 4995
    assert 480 <= budget.resized(step=10, total=600, evaluations=0, k=1) - 10 <= 526
    budget.record_evaluation(4.0, batches=2)
    budget.record_evaluation(2.0, batches=2)
    assert budget.forward_seconds == pytest.approx(1.5)  # the mean of the first two evaluations


def test_the_lr_never_rises_after_its_peak_when_the_schedule_is_sized_again():
    """The engine's LR around the learner's warmup_cosine_lr, as the loop calls it, while the budget
    sizes the schedule again (shorter, then much longer: the cosine moves right and would go up)."""
    from learn.engine.budget import lr_at
    from solutions.stage5_pretrain import warmup_cosine_lr

    train = {"lr": 1e-3, "min_lr": 1e-4}
    state, peaked = {"warmup_steps": 10, "total_steps": 100, "lrs": []}, False
    for step in range(150):
        state["total_steps"] = {40: 70, 50: 200}.get(step, state["total_steps"])
        state["lrs"].append(lr_at(warmup_cosine_lr, step, train, state, peaked))
        peaked = step >= state["warmup_steps"]
    lrs = state["lrs"]
    assert lrs[10] == pytest.approx(1e-3) and all(a <= b for a, b in zip(lrs[:10], lrs[1:11]))  # warm-up
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[-1] < lrs[50] == lrs[49]  # held, then down again
    assert warmup_cosine_lr(50, 1e-3, 10, 200, 1e-5, 1e-4) > lrs[49]  # the learner's own would have risen


def test_the_eta_reads_as_a_clock():
    from learn.cli.pretrain import _clock

    assert [_clock(s) for s in (0, 65.7, 3725, None, float("inf"))] == ["0:00", "1:05", "1:02:05", "", ""]


class GrowingMerges:
    """A tokenizer whose train learns `n` merges, one each 20 ms, into `self.merges` (as the book's code and
    the reference do), or assigns them all at the end."""

    def __init__(self, at_the_end: bool = False):
        self.merges, self.at_the_end = {}, at_the_end

    def train(self, n: int) -> str:
        merges = {} if self.at_the_end else self.merges
        for i in range(n):
            time.sleep(0.02)
            merges[(i, i)] = 256 + i
        self.merges = merges
        return "trained"


class BadLength(dict):
    def __len__(self):
        raise RuntimeError("no length")


def watched(tok, total: int, train, monkeypatch) -> tuple:
    """(what train returned, the (done, total) of each merges event) with the engine's poller looking every 5 ms."""
    from learn.engine.loading import merges_progress
    from learn.shared import protocol

    events = []
    monkeypatch.setattr(protocol, "_send", events.append)
    with merges_progress(tok, total, every=0.005):
        result = train()
    assert not any(t.name == "merges-progress" for t in threading.enumerate())  # the poller has stopped
    return result, [(e["done"], e["total"]) for e in events if e["event"] == "merges"]


def test_merges_are_reported_as_they_grow_and_never_disturb_train(monkeypatch):
    tok = GrowingMerges()
    result, events = watched(tok, 10, lambda: tok.train(10), monkeypatch)
    dones = [done for done, _ in events]
    assert result == "trained" and len(events) >= 3 and events[-1] == (10, 10)
    assert dones == sorted(set(dones)) and all(total == 10 for _, total in events)

    tok = GrowingMerges(at_the_end=True)
    assert watched(tok, 10, lambda: tok.train(10), monkeypatch) == ("trained", [])  # no growth seen: nothing said

    class Slotted:  # no __dict__ to look in
        __slots__ = ()

    def missing(tok):
        del tok.merges

    changes = [(GrowingMerges(), missing), (GrowingMerges(), lambda tok: setattr(tok, "merges", 5)),
               (GrowingMerges(), lambda tok: setattr(tok, "merges", BadLength({(1, 2): 256}))),
               (Slotted(), lambda tok: None)]
    for tok, change in changes:

        def train(tok=tok, change=change):
            change(tok)
            time.sleep(0.03)
            return "trained"

        assert watched(tok, 10, train, monkeypatch) == ("trained", [])


def test_encoding_is_estimated_from_a_prefix_cut_at_a_line_end():
    from learn.engine.loading import SPECIAL, encoding_seconds

    class Slow:
        """Encodes each character as an id in a microsecond."""

        def __init__(self, fails: bool = False):
            self.texts, self.fails = [], fails

        def encode(self, text, allowed_special):
            assert allowed_special == {SPECIAL} and not self.fails
            self.texts.append(text)
            time.sleep(len(text) * 1e-6)
            return [1] * len(text)

    text = "".join(f"line {i} of the text\n" for i in range(10_000))  # 218,890 characters
    tok = Slow()
    assert 0.2 <= encoding_seconds(tok, text) < 5  # a microsecond a character, or more on a busy machine
    (prefix,) = tok.texts
    assert prefix.endswith("\n") and 9_000 < len(prefix) <= 10_000 and text.startswith(prefix)
    assert encoding_seconds(tok, text[:90_000]) is None and len(tok.texts) == 1  # short: not even timed
    assert encoding_seconds(Slow(fails=True), text) is None  # the whole text's encoding will say why


def test_the_bar_counts_down_the_time_left(monkeypatch, tmp_path):
    """The bar, rendered at chosen times of a clock of its own: rich's speed of the merges sets their time left,
    an encoding's estimate and a step's ETA count down from their event, and a passed estimate leaves the
    elapsed time alone."""
    import io

    import rich.progress
    from rich.console import Console

    from learn.cli import pretrain as command

    now, bars, seen = [0.0], [], {}

    class Clocked(rich.progress.Progress):
        def __init__(self, *columns, **kwargs):
            super().__init__(*columns, **kwargs, get_time=lambda: now[0])
            bars.append(self)

    def at(seconds: float, event: dict | None = None, on_event=None) -> str:
        now[0] = seconds
        if event is not None:
            on_event(event)
        console = Console(width=200, record=True, file=io.StringIO())
        console.print(bars[0].make_tasks_table(bars[0].tasks))
        return " ".join(console.export_text().split())

    class Engine:
        def run(self, probe, kwargs, seconds, on_event, package):
            merges = {"event": "merges", "total": 300}
            step = {"event": "step", "step": 10, "loss": 5.0, "lr": 1e-3, "tokens_per_second": 100.0, "progress": 0.1,
                    "eta": 65.0}  # fmt: skip
            seen.update(
                training=at(0, {"event": "phase", "message": "training your BPE tokenizer"}, on_event),
                first=at(10, {**merges, "done": 100}, on_event),  # no speed yet
                second=at(15, {**merges, "done": 150}, on_event),  # 10 merges a second: 15 s left
                later=at(20),
                passed=at(40),
                encoding=at(40, {"event": "phase", "message": "encoding the text", "estimate": 50.0}, on_event),
                pulse=bars[0].tasks[0].total is None,  # not the merges' bar, empty
                encoding_later=at(70),
                encoding_passed=at(95),
                steps=at(100, {"event": "phase", "message": "training"}, on_event),
                step=at(110, step, on_event),
                step_later=at(120),
            )
            return {"checkpoint": None}

        def close(self):
            pass

    monkeypatch.setattr(rich.progress, "Progress", Clocked)
    monkeypatch.setattr(command, "workers", lambda *args, **kwargs: Engine())
    command._train(tmp_path, [], {"tokenizer": "own"}, {}, None, 60, tmp_path, quiet=True)
    assert "left" not in seen["training"] + seen["first"] and "100 of 300 merges" in seen["first"]
    assert "150 of 300 merges" in seen["second"] and seen["second"].endswith("0:00:15 150 of 300 merges 0:15 left")
    assert seen["later"].endswith("0:10 left") and "left" not in seen["passed"] and "0:00:40" in seen["passed"]
    assert "merges" not in seen["encoding"] and seen["encoding"].endswith("0:50 left") and seen["pulse"]
    assert seen["encoding_later"].endswith("0:20 left") and "left" not in seen["encoding_passed"]
    assert "0:00:55" in seen["encoding_passed"] and "left" not in seen["steps"]
    assert seen["step"].endswith("1:05 left") and seen["step_later"].endswith("0:55 left")


def test_every_evaluation_converts_to_bits_per_byte_alike(trained):
    """One conversion: the last evaluation's bits per byte over its loss is the summary's (which
    covers every validation batch), and each evaluation says how many batches it covers."""
    result, run, _ = trained
    evals = re.findall(r"val loss ([\d.]+) .*?([\d.]+) bits/byte\s+\((\d+) batch(?:es)? of each split\)", result.output)
    assert evals, result.output
    loss, bpb, _ = (float(v) for v in evals[-1])
    summary = json.loads((run / "summary.json").read_text())
    assert bpb / loss == pytest.approx(summary["val_bpb"] / summary["val_loss"], rel=2e-3)


def test_losses_and_measures_returned_as_tensors_still_make_a_summary(text_file, tmp_path):
    """calc_loss_loader and perplexity returning one-element tensors pass their checks (a tensor of
    one number is a number there); the engine stores floats, never tensors, which JSON refuses."""
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "solutions", tree, ignore=shutil.ignore_patterns("__pycache__"))
    path = tree / "stage5_pretrain" / "loss.py"
    text = path.read_text().replace("    return total_loss / num_batches", "    return torch.tensor(total_loss / num_batches)")
    path.write_text(text.replace("    return math.exp(loss)", "    return torch.tensor(math.exp(loss))"))
    run = tmp_path / "run"
    result = learn("pretrain", "--impl", tree, "--data", text_file, "--model", "tiny", "--vocab-size", 300,
                   "--run", run, "--max-steps", 3, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    assert type(summary["val_loss"]) is float and type(summary["val_ppl"]) is float
