"""Hostile trees: learner code that breaks, hangs, lies or attacks the grader.

Each is graded like any submission and must earn no more than its honest code (the untouched
skeleton: 0 points), leave the grader alive with every check reported, finish within a bound,
leave no process behind, and leave the course and other submissions untouched. Containment that
needs Linux and root (a user of its own, hidden paths) is tested where the machine has it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from conftest import copy_solutions
from learn import ROOT, manifest
from learn.judge import bwrap
from learn.judge.grader import grade

STAGE1 = manifest.find("stage1")
CONTAINED = sys.platform.startswith("linux") and os.geteuid() == 0
needs_containment = pytest.mark.skipif(not CONTAINED, reason="hiding paths and a user of its own need Linux and root")
SANDBOXED = bwrap.level()[0] == bwrap.SANDBOX
needs_sandbox = pytest.mark.skipif(not SANDBOXED, reason=f"no sandbox here: {bwrap.level()[1]}")


def _tree(tmp_path, prepend="", replace=None, skeleton=False, files=None):
    """A tree of every ready stage's solution (stage 1's skeleton if `skeleton`), with `prepend`
    run first when stage1_tokenizer is imported, one snippet of bpe.py replaced, or extra files."""
    tree = copy_solutions(tmp_path / "students" / "mallory")
    if skeleton:
        shutil.rmtree(tree / "stage1_tokenizer")
        shutil.copytree(ROOT / "stages" / "stage1_tokenizer", tree / "stage1_tokenizer")
    init = tree / "stage1_tokenizer" / "__init__.py"
    init.write_text(textwrap.dedent(prepend) + init.read_text())
    if replace:
        path, (old, new) = tree / "stage1_tokenizer" / "bpe.py", replace
        assert path.read_text().count(old) == 1
        path.write_text(path.read_text().replace(old, new))
    for name, text in (files or {}).items():
        (tree / name).write_text(textwrap.dedent(text))
    return tree


def _fingerprint(*folders) -> str:
    h = hashlib.sha256()
    for folder in folders:
        for p in sorted(folder.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                h.update(str(p).encode() + p.read_bytes())
    return h.hexdigest()


def _processes_with(mark: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if mark.encode() in f.read():
                    found.append(int(entry))
        except (OSError, ValueError):
            pass
    return found


def _grade_hostile(tmp_path, limit: float, **tree_kwargs):
    """Grade the tree; check the grader's invariants; return the result."""
    other = tmp_path / "students" / "alice"
    copy_solutions(other)
    course = [ROOT / d for d in ("checks", "fixtures", "solutions", "learn")]
    before = _fingerprint(*course, other)
    tree = _tree(tmp_path, **tree_kwargs)
    start = time.monotonic()
    result = grade(STAGE1, tree)
    elapsed = time.monotonic() - start
    assert elapsed < limit, f"grading took {elapsed:.0f}s"
    assert [c.name for c in result.checks] == [c.name for c in STAGE1.checks]
    assert _fingerprint(*course, other) == before, "the course or another submission changed"
    return result


ATTACKS = {
    # Forge verdicts on every channel it can reach: stdout, stderr, any inherited fd, the judge's fds.
    "forged_report_lines": """\
        import json, os, atexit
        def _forge():
            line = "".join(json.dumps({"event": "end", "name": c, "passed": True, "message": "", "kind": ""}) + "\\n"
                           for c in ["get_stats_counts_adjacent_pairs", "merge_replaces_left_to_right"])
            print(line, flush=True)
            for fd in range(1, 64):
                try: os.write(fd, line.encode())
                except OSError: pass
            for fd in range(64):
                try:
                    with open(f"/proc/{os.getppid()}/fd/{fd}", "w") as f: f.write(line)
                except OSError: pass
        _forge(); atexit.register(_forge)
    """,
    # Patch what judges it: only the worker's copies exist here.
    "monkeypatch_the_judge": """\
        import learn.shared.checking as c, learn.shared.wire as w
        c.expect = c.expect_equal = lambda *a, **k: None
        w.encode = lambda value: b"\x00\x00\x00\x02{}"  # every reply becomes an empty header
    """,
    # Values that equal anything.
    "lying_values": """\
        class Liar(list):
            def __eq__(self, other): return True
            def __ne__(self, other): return False
        class Text(str):
            def __eq__(self, other): return True
        from . import bpe
        bpe.get_stats = lambda ids: {(1, 2): Liar()}
        bpe.merge = lambda ids, pair, idx: Liar()
        bpe.BPETokenizer.decode = lambda self, ids: Text("")
        bpe.BPETokenizer.encode = lambda self, text, allowed_special="all": Liar()
    """,
    # Kill its parent and its parent's group.
    "kill_the_grader": """\
        import os, signal
        for target in (os.getppid(), -os.getpgid(os.getppid())):
            try: os.kill(target, signal.SIGKILL)
            except OSError: pass
    """,
    # Garbage on the protocol: write to every fd it holds.
    "garbage_on_every_fd": """\
        import os
        for fd in range(0, 64):
            try: os.write(fd, b"\\xff\\x00\\x00\\x10garbage" * 100)
            except OSError: pass
    """,
    # A flood of output, then exit.
    "flood_of_output": """\
        import os, sys
        chunk = ("x" * 1023 + "\\n").encode()
        for _ in range(100_000):  # 100 MB
            os.write(2, chunk)
        os._exit(0)
    """,
}


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_attack_earns_nothing(tmp_path, attack):
    result = _grade_hostile(tmp_path, limit=60, prepend=ATTACKS[attack], skeleton=True)
    assert result.score == 0, {c.name: c.message for c in result.checks if c.passed}
    assert all(len(c.message) < 5000 for c in result.checks)


def test_shadowing_modules_in_the_tree_earn_nothing(tmp_path):
    forge = 'import sys; sys.stdout.write(\'{"event": "end", "name": "merge_replaces_left_to_right", "passed": true}\\n\')\n'
    files = {name: forge for name in ("sitecustomize.py", "usercustomize.py", "pytest.py", "json.py", "regex.py", "_pytest.py")}
    result = _grade_hostile(tmp_path, limit=60, skeleton=True, files=files)
    assert result.score == 0


def test_signal_swallowing_loop_costs_its_check_one_timeout(tmp_path):
    hang = ('        # BEGIN SOLUTION: JSON with "pattern"',  # in save: one check reaches it, the rest must still report
            "        import signal\n        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM): signal.signal(s, signal.SIG_IGN)\n"
            '        while True:\n            pass\n        # BEGIN SOLUTION: JSON with "pattern"')  # fmt: skip
    timeout = STAGE1.checks[0].timeout
    start = time.monotonic()
    result = _grade_hostile(tmp_path, limit=len(STAGE1.checks) * timeout + 30, replace=hang)
    elapsed = time.monotonic() - start
    hung = [c for c in result.checks if "did not finish within" in c.message]
    assert [c.name for c in hung] == ["save_load_roundtrip"]
    assert elapsed < timeout + 20  # the hung check costs its timeout, no more
    assert all(c.passed for c in result.checks if c not in hung)  # the others, after it too, still report


def test_detached_child_is_killed(tmp_path):
    mark = f"LEARN_HOSTILE_{uuid.uuid4().hex}"
    spawn = f"""\
        import os, subprocess, sys
        os.environ["{mark}"] = "1"
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                import time; time.sleep(120)
            os._exit(0)
    """
    result = _grade_hostile(tmp_path, limit=60, prepend=spawn, skeleton=True)
    assert result.score == 0
    time.sleep(0.5)
    assert _processes_with(mark) == [], "a process started by the learner's code outlived grading"


@needs_containment
def test_fork_bomb_is_capped_and_cleaned_up(tmp_path):
    mark = f"LEARN_HOSTILE_{uuid.uuid4().hex}"
    bomb = f"""\
        import os, subprocess, sys
        os.environ["{mark}"] = "1"
        for _ in range(300):  # the worker's user may run 64 processes: the rest are refused
            try:
                subprocess.Popen([sys.executable, "-S", "-c", "import time; time.sleep(120)"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except OSError:
                break
        print("started", len(os.listdir("/proc")), file=sys.stderr)
    """
    result = _grade_hostile(tmp_path, limit=90, prepend=bomb, skeleton=True)
    assert result.score == 0
    time.sleep(0.5)
    assert _processes_with(mark) == [], "a process started by the learner's code outlived grading"


def test_memory_hog_fails_its_check(tmp_path):
    hog = ("    # BEGIN SOLUTION: count each adjacent", "    _ = bytearray(64 * 2**30)\n    # BEGIN SOLUTION: count each adjacent")
    result = _grade_hostile(tmp_path, limit=60, replace=hog)
    by_name = {c.name: c for c in result.checks}
    assert not by_name["get_stats_counts_adjacent_pairs"].passed
    assert "memory" in by_name["get_stats_counts_adjacent_pairs"].message
    assert by_name["merge_replaces_left_to_right"].passed


@needs_containment
def test_reference_answers_and_other_submissions_are_out_of_reach(tmp_path):
    steal = f"""\
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        try:
            from solutions.stage1_tokenizer.bpe import *  # the reference, instead of the skeleton's stubs
        except Exception:
            pass
        for path in [{str(ROOT / "fixtures" / "stage1_tokenizer" / "merges.json")!r}, "../alice/stage1_tokenizer/bpe.py",
                     {str(tmp_path / "students" / "alice" / "stage1_tokenizer" / "bpe.py")!r}]:
            try:
                open(path).read()
                raise SystemExit("read " + path)
            except OSError:
                pass
        for path in [{str(ROOT / "checks" / "stage1_tokenizer" / "test_bpe.py")!r},
                     {str(tmp_path / "students" / "alice" / "stage1_tokenizer" / "bpe.py")!r}]:
            try:
                open(path, "a").write("# changed")
            except OSError:
                pass
    """
    result = _grade_hostile(tmp_path, limit=60, prepend=steal, skeleton=True)
    assert result.score == 0, {c.name: c.message for c in result.checks if c.passed}
    assert all("not implemented yet" in c.message or "could not" in c.message for c in result.checks), result.checks[0].message


@pytest.mark.parametrize(
    ("prepend", "words"),
    [
        ("import os\nos._exit(0)\n", "importing stage1_tokenizer ended the process running it"),
        ("import sys\nsys.exit(3)\n", "sys.exit(3)"),
        ("raise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
        ("def broken(:\n", "SyntaxError: invalid syntax (at stage1_tokenizer/__init__.py:1)"),
    ],
    ids=["os_exit", "sys_exit", "raises", "syntax_error"],
)
def test_broken_import_is_reported_once(tmp_path, prepend, words):
    result = _grade_hostile(tmp_path, limit=60, prepend=prepend)
    assert not any(c.passed for c in result.checks)
    first, *rest = result.checks
    assert words in first.message, first.message
    assert "lesson:" not in first.message  # a failed import is not about any one idea of the lesson
    for c in rest:
        assert c.message == f"not run: stage1_tokenizer could not be imported (see {first.name} above)", c.message


def test_crash_inside_one_function_fails_only_the_checks_that_reach_it(tmp_path):
    crash = ("    # BEGIN SOLUTION: count each adjacent", "    import os; os._exit(1)\n    # BEGIN SOLUTION: count each adjacent")
    result = _grade_hostile(tmp_path, limit=60, replace=crash)
    by_name = {c.name: c for c in result.checks}
    assert "exited with code 1" in by_name["get_stats_counts_adjacent_pairs"].message
    assert by_name["merge_replaces_left_to_right"].passed
    assert by_name["decode_replaces_invalid_utf8"].passed


def test_hang_at_import_costs_one_timeout(tmp_path):
    result = _grade_hostile(tmp_path, limit=STAGE1.checks[0].timeout + 30, prepend="while True:\n    pass\n")
    assert not any(c.passed for c in result.checks)
    assert "did not finish within" in result.checks[0].message


def test_learn_check_survives_and_prints_complete_json(tmp_path):
    tree = _tree(tmp_path, prepend=ATTACKS["kill_the_grader"] + ATTACKS["forged_report_lines"], skeleton=True)
    proc = subprocess.run([sys.executable, "-m", "learn", "check", "stage1", "--impl", str(tree), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    import json

    report = json.loads(proc.stdout)
    assert report["score"] == 0 and len(report["checks"]) == len(STAGE1.checks)


def test_huge_file_fails_its_check(tmp_path):
    big = ("    # BEGIN SOLUTION: count each adjacent",
           "    with open('big.bin', 'wb') as f:\n        f.write(b'x' * (512 * 2**20))\n    # BEGIN SOLUTION: count each adjacent")  # fmt: skip
    result = _grade_hostile(tmp_path, limit=60, replace=big)
    by_name = {c.name: c for c in result.checks}
    assert "size limit" in by_name["get_stats_counts_adjacent_pairs"].message
    assert by_name["merge_replaces_left_to_right"].passed


# Stage 3: a fake attention that returns zeros, graded plainly (its honest score) and with every
# lie it can add: the judge's oracles patched in the worker (torch.allclose, SDPA, Tensor.__eq__)
# and tensors of a subclass whose __torch_function__ answers True to everything.
FAKE_ATTENTION = """
import torch


class _Fake(torch.nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads=1, qkv_bias=False):
        super().__init__()
        self.W_query = torch.nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = torch.nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = torch.nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = torch.nn.Linear(d_out, d_out)
        self.d_out = d_out

    def forward(self, x):
        return {out}


CausalAttention = MultiHeadAttention = _Fake
"""
LIES = """
class _Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return True


torch.allclose = torch.equal = lambda *a, **k: True
torch.nn.functional.scaled_dot_product_attention = lambda q, k, v, *a, **kw: torch.zeros_like(q)
torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)
"""


def test_patched_oracles_and_lying_tensors_earn_no_more_than_honest_zeros(tmp_path):
    stage = manifest.find("stage3")
    scores = {}
    for name, source in {
        "honest": FAKE_ATTENTION.format(out="x.new_zeros(x.shape[:-1] + (self.d_out,))"),
        "lying": FAKE_ATTENTION.format(out="x.new_zeros(x.shape[:-1] + (self.d_out,)).as_subclass(_Liar)") + LIES,
    }.items():
        tree = copy_solutions(tmp_path / name)
        (tree / "stage3_attention" / "__init__.py").write_text(source)
        start = time.monotonic()
        result = grade(stage, tree)
        assert time.monotonic() - start < 60
        assert [c.name for c in result.checks] == [c.name for c in stage.checks]
        scores[name] = result.score
    assert scores["lying"] <= scores["honest"] < stage.max_score // 2, scores




# Containment, probed from inside: the learner's code looks at everything it should not reach and
# says what it found in its import error, which the first check's message carries (so it ran).
LOOK_AROUND = """\
import os, socket
found = [f"uid={{os.getuid()}}", f"euid={{os.geteuid()}}"]
for name, path in [("alice", {alice!r}), ("solutions", {solutions!r}), ("course", {course!r})]:
    try:
        open(path, "rb").read(1)
        found.append(f"read:{{name}}")
    except OSError:
        pass
found += [f"env:{{k}}" for k in os.environ if k.startswith("LEARN_HOSTILE_SECRET")]
found += [f"judge:{{p}}" for p in {judges!r} if os.path.exists(f"/proc/{{p}}")]
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    found.append("net:connected")
except OSError:
    pass
for folder in ("/tmp", "/dev/shm"):
    try:
        with open(os.path.join(folder, "{mark}"), "w") as f:
            f.write("left behind")
        found.append(f"wrote:{{folder}}")
    except OSError:
        pass
raise SystemExit("looked: [" + " ".join(found) + "]")
"""


def _look_around(tmp_path) -> set[str]:
    """Grade a tree one folder down (students/mallory/mallory-main/, as a zipped folder unpacks)
    that looks around while a classmate sits beside it; what it found. Nothing it wrote in /tmp
    or /dev/shm may outlive the grading."""
    import socket

    mark = f"learn-hostile-{uuid.uuid4().hex}"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        look = LOOK_AROUND.format(alice=str(tmp_path / "students" / "alice" / "stage1_tokenizer" / "bpe.py"),
                                  solutions=str(ROOT / "solutions" / "stage1_tokenizer" / "bpe.py"),
                                  course=str(ROOT / "curriculum.toml"), judges=[os.getpid(), os.getppid()],
                                  port=listener.getsockname()[1], mark=mark)  # fmt: skip
        copy_solutions(tmp_path / "students" / "alice")
        tree = copy_solutions(tmp_path / "students" / "mallory" / "mallory-main")
        init = tree / "stage1_tokenizer" / "__init__.py"
        init.write_text(look + init.read_text())
        result = grade(STAGE1, tree)
    message = result.checks[0].message
    assert "looked: " in message, message
    for folder in ("/tmp", "/dev/shm"):
        assert not os.path.exists(os.path.join(folder, mark)), f"a file the learner's code wrote outlived grading in {folder}"
    return set(re.search(r"looked: \[([^\]]*)\]", message).group(1).split())


@needs_sandbox
def test_the_sandbox_shows_the_learner_s_code_nothing_it_was_not_given(tmp_path, monkeypatch):
    monkeypatch.setenv("LEARN_HOSTILE_SECRET", "a token of the grading machine's")
    found = _look_around(tmp_path)
    assert found & {"uid=0", "euid=0"} == set(), found  # never root
    assert {f for f in found if f.split(":")[0] in ("read", "env", "judge", "net")} == set(), found
    assert {"wrote:/tmp", "wrote:/dev/shm"} <= found, found  # its own, gone with it


@needs_containment
def test_without_the_sandbox_grading_says_so_and_hides_what_it_can(tmp_path, monkeypatch):
    monkeypatch.setenv("LEARN_HOSTILE_SECRET", "a token of the grading machine's")
    monkeypatch.setenv("LEARN_SANDBOX", "off")
    bwrap.level.cache_clear()
    try:
        found = _look_around(tmp_path)
        result = grade(STAGE1, _tree(tmp_path / "again", skeleton=True))
    finally:
        monkeypatch.delenv("LEARN_SANDBOX")
        bwrap.level.cache_clear()
    assert found & {"uid=0", "euid=0", "read:alice", "read:solutions", "env:LEARN_HOSTILE_SECRET"} == set(), found
    assert result.containment["level"] == bwrap.PARTIAL
    assert "bubblewrap (LEARN_SANDBOX=off)" in result.containment["skipped"]


def test_every_grading_records_its_containment(tmp_path):
    result = grade(STAGE1, _tree(tmp_path, skeleton=True))
    assert result.containment["level"] == bwrap.level()[0]
    assert result.to_json()["containment"] == result.containment
    assert any(line.startswith("RLIMIT_AS=") for line in result.containment["applied"]), result.containment


# The worker runs the course's code from its view. Learner's code that rewrites the view, then
# crashes so that the judge starts the next worker from it, must change nothing: that next worker
# once ran as root, and forged passes through the judge's /proc/<pid>/fd.
FORGE = """
import json, os
line = json.dumps({"event": "end", "stage": "stage1", "name": "get_stats_counts_adjacent_pairs", "passed": True,
                   "message": "", "kind": ""}) + "\\n"
for pid in os.listdir("/proc"):
    try:
        if b"learn.judge.plugin" not in open(f"/proc/{pid}/cmdline", "rb").read():  # the judges, nothing else
            continue
    except OSError:
        continue
    for fd in range(64):
        try:
            with open(f"/proc/{pid}/fd/{fd}", "a") as f:
                f.write(line)
        except (OSError, ValueError):
            pass
"""
REWRITE_THE_VIEW = f"""\
import os, pathlib, learn
for name in ("worker/main.py", "wire.py", "__init__.py"):
    path = pathlib.Path(learn.__file__).parent / name
    try:
        os.chmod(path, 0o666)
    except OSError:
        pass
    try:
        with open(path, "a") as f:
            f.write({FORGE!r})
    except OSError:
        pass
os._exit(1)
"""


def test_rewriting_the_course_view_then_crashing_earns_nothing(tmp_path):
    result = _grade_hostile(tmp_path, limit=90, prepend=REWRITE_THE_VIEW, skeleton=True)
    assert result.score == 0, {c.name: c.message for c in result.checks if c.passed}


# Replies the learner's code forges by replacing the check modules' probes in the worker: empty
# answers, raw bytes with no merges, merges of a token with itself (each doubles its bytes).
FORGED_REPLIES = """\
import sys
EOT = "<|endoftext|>"
def _reply(learner, texts=(), vocab_size=300, special_tokens=None, **kwargs):
    raw = [list(t.encode()) for t in texts]
    merges = {merges}
    return {{"merges": merges, "special_tokens": {{EOT: vocab_size - 1}}, "encoded": raw, "decoded": list(texts),
            "loaded": raw, "loaded_special_tokens": {{EOT: vocab_size - 1}}, "vocab_ids": list(range(vocab_size)),
            "merge_ids": list(range(256, 256 + len(merges))), "decoded_texts": list(texts)}}
for module in [m for name, m in list(sys.modules.items()) if name.startswith("learn_probes_")]:
    for name in dir(module):
        if name.startswith("probe_"):
            setattr(module, name, _reply if "train" in name or "save" in name else lambda learner, **kwargs: [])
"""


@pytest.mark.parametrize("merges", ["[]", "[[0, 0]] + [[256 + k, 256 + k] for k in range(400)]"], ids=["none", "doubling"])
def test_forged_probe_replies_earn_nothing(tmp_path, merges):
    result = _grade_hostile(tmp_path, limit=60, prepend=FORGED_REPLIES.format(merges=merges), skeleton=True)
    passed = {c.name for c in result.checks if c.passed}
    assert passed <= {"roundtrip_on_diverse_text"}, passed  # what a tokenizer of raw bytes earns honestly


def test_a_fifo_in_the_tree_blocks_nothing(tmp_path):
    tree = _tree(tmp_path, skeleton=True)
    os.mkfifo(tree / "stage1_tokenizer" / "pipe.py")
    start = time.monotonic()
    result = grade(STAGE1, tree)
    assert time.monotonic() - start < 60
    assert result.score == 0 and [c.name for c in result.checks] == [c.name for c in STAGE1.checks]


def test_a_module_that_shadows_a_library_of_the_checks_breaks_neither_the_grader_nor_the_checks(tmp_path):
    """The worker imports the checks' libraries before the tree is on its path (it once exited 3)."""
    shadow = "raise ImportError('a module of the learner shadows this library')\n"
    result = _grade_hostile(tmp_path, limit=60, files={"regex.py": shadow, "tiktoken.py": shadow, "torch.py": shadow})
    assert result.score == STAGE1.max_score, {c.name: c.message for c in result.checks if not c.passed}


# One reply frame under the cap whose 200 tensors all name the same 8 MB of bytes: decoded as
# sent, it would cost the judge 1.6 GB (the cap allowed 100,000 of them: a terabyte).
SHARED_BLOB = """\
import json, struct
import learn.worker.main as main
n = 8 * 2**20
header = json.dumps(["dict", ["result", ["list", *[["tensor", "uint8", [n], 0, n]] * 200]]]).encode()
main._channel._out.write(struct.pack(">II", 4 + len(header) + n, len(header)) + header + bytes(n))
"""


def test_a_reply_that_names_its_bytes_many_times_is_refused(tmp_path):
    result = _grade_hostile(tmp_path, limit=90, prepend=SHARED_BLOB, skeleton=True)
    assert result.score == 0
    assert any("reuse, or skip" in c.message for c in result.checks), [c.message for c in result.checks]
