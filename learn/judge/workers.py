"""The judge's side of the worker: start it, send it probes, own its time, kill it.

One `Workers` per judge process (learn/judge/plugin.py makes it at start-up, so that the worker
imports torch while the judge does). Each probe is a round trip (learn/shared/protocol.py). The judge
trusts nothing that comes back: a reply is decoded by learn/shared/wire.py into plain data or refused.

The judge owns time. A probe that does not answer by its check's deadline has its worker killed
(with everything it started, learn/judge/reaper.py) and the check fails; the next probe gets a
fresh worker, started at once so that it is warm by then. No signal handler in the learner's
process is involved, so a loop that swallows signals costs one check's timeout, never more.
"""

from __future__ import annotations

import collections
import os
import queue
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

from learn import ROOT
from learn.judge import bwrap, reaper
from learn.shared import wire
from learn.shared.limits import Limits
from learn.shared.protocol import BOOT, ENGINE

ENGINE_PROBE = re.compile(re.escape(ENGINE) + r"\w+:\w+")  # how the CLI names a probe of the engine's
LOG_TAIL = 2048  # bytes of the worker's output kept for a message
MESSAGE_CAP = 2000  # characters of any sentence the worker sends
LOG_CAP = 200_000  # characters of a traceback it sends with one
MAX_FILE = 64 * 2**20  # bytes: a bigger file of the learner's is never copied for a worker
# Never copied into a worker's tree; without the sandbox, hidden from it where the OS allows.
NOT_FOR_WORKERS = ("solutions", "fixtures", "checks", "tests", ".git", ".learn", "runs", "__pycache__")
# The environment a worker gets: nothing else of the host's (tokens, paths, credentials) reaches the learner's code.
ENVIRONMENT = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM", "LC_", "OMP_", "MKL_", "KMP_", "OPENBLAS_", "CUDA_", "NVIDIA_",
               "NCCL_", "GLOO_", "TORCH_", "TORCHELASTIC_", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE",
               "GROUP_RANK", "GROUP_WORLD_SIZE", "ROLE_RANK", "ROLE_WORLD_SIZE", "ROLE_NAME", "MASTER_ADDR", "MASTER_PORT",
               "LEARN_DIST_TIMEOUT")  # fmt: skip


class ProbeFailed(Exception):
    """The check fails with this sentence. kind: probe, import, timeout, crash or internal; log: the
    worker's traceback of the learner's failure, if any (learn/cli/runs.py `failed` writes it)."""

    def __init__(self, message: str, kind: str, log: str = ""):
        super().__init__(message)
        self.kind, self.log = kind, log


class Worker:
    """One worker process and the threads that read its protocol and its log."""

    def __init__(self, cmd: list[str], env: dict, config: dict, uid: int | None, pass_fds: tuple[int, ...] = (),
                 sandboxed: bool = False, reply_limit: int = wire.MAX_REPLY):  # fmt: skip
        self.uid, self.sandboxed, self.reply_limit = uid, sandboxed, reply_limit
        self.proc = reaper.spawn(
            cmd, env=env, cwd=config["home"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, away from the judge's
            pass_fds=pass_fds,
        )  # fmt: skip
        self.pid = self.proc.pid  # its Python's, once it is ready (python_pid)
        self.replies: queue.Queue = queue.Queue()
        self.log = collections.deque(maxlen=LOG_TAIL)
        self.log_bytes = 0
        self.imported: set[str] = set()  # the learner's packages it has imported
        threading.Thread(target=self._read_replies, daemon=True).start()
        threading.Thread(target=self._read_log, daemon=True).start()
        self._send(config)

    def _read_replies(self) -> None:
        try:
            while True:
                message = wire.read_frame(self.proc.stdout.read, self.reply_limit)
                if message is None:
                    break
                self.replies.put(("reply", wire.decode(message)))
        except wire.WireError as e:
            self.replies.put(("garbage", str(e)))
            return
        except (OSError, ValueError):
            pass
        self.replies.put(("ended", None))

    def _read_log(self) -> None:
        try:
            while chunk := self.proc.stderr.read1(65536):
                self.log.extend(chunk)
                self.log_bytes += len(chunk)
        except (OSError, ValueError):
            pass

    def _send(self, value) -> None:
        """Write a request without ever blocking the judge: a worker that stops reading is killed."""

        def write():
            try:
                self.proc.stdin.write(wire.frame(wire.encode(value)))
                self.proc.stdin.flush()
            except (OSError, ValueError):
                pass  # it died; the reader reports that

        threading.Thread(target=write, daemon=True).start()

    def request(self, value, deadline: float, on_event=None) -> dict:
        """Send `value`; the worker's reply (a dict). Raises ProbeFailed on timeout, death or garbage."""
        if value is not None:
            self._send(value)
        while True:
            try:
                kind, reply = self.replies.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise ProbeFailed("timeout", "timeout") from None
            if kind == "ended":
                raise ProbeFailed(self.death(), "crash")
            if kind == "garbage":
                raise ProbeFailed(f"the process running your code sent malformed data ({reply})", "crash")
            if type(reply) is not dict:
                raise ProbeFailed("the process running your code sent a reply that is not a message", "crash")
            if reply.get("event") == "imported":
                self.imported.add(str(reply.get("package")))
            elif "event" in reply:
                if on_event is not None:
                    on_event(reply)
            else:
                return reply

    def death(self) -> str:
        """How the worker ended, in one sentence, with the tail of what it printed."""
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        if self.sandboxed and code is not None and code > 128:  # bwrap exits 128 + N for a child ended by signal N
            code = 128 - code
        if code is None:
            how = "closed its connection to the grader"
        elif code < 0:
            how = {
                getattr(signal, "SIGKILL", -1): "was killed (out of memory, or killed by your code)",
                getattr(signal, "SIGXCPU", -1): "used up its CPU time limit",
                getattr(signal, "SIGXFSZ", -1): "wrote a file over the size limit",
                signal.SIGSEGV: "crashed (segmentation fault)",
            }.get(-code, f"was ended by signal {-code}")
        else:
            how = f"exited with code {code}: does your code call os._exit or sys.exit?"
        tail = self.log_tail()
        return f"the process running your code {how}" + (f"\n  its last output:\n{tail}" if tail else "")

    def python_pid(self) -> int:
        """The host's pid of the worker's Python, for signals: in the sandbox bwrap starts it two
        levels down (bwrap, then bwrap as the namespace's init), and forwards no signal."""
        pid = self.proc.pid
        for _ in range(2 if self.sandboxed else 0):
            children = reaper.children(pid)
            if len(children) != 1:
                break
            pid = children[0]
        return pid

    def log_tail(self) -> str:
        text = bytes(self.log).decode("utf-8", errors="replace").strip()
        lines = text.splitlines()[-12:]
        cut = "    ...\n" if self.log_bytes > len(self.log) or len(text.splitlines()) > 12 else ""
        return cut + "\n".join("    " + line[:200] for line in lines) if lines else ""

    def kill(self) -> None:
        reaper.kill(self.proc, self.uid)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass


class Workers:
    """The judge's workers over one tree and its stages: at most one alive, restarted after a
    failure. One worker serves every stage being graded (torch is imported once per tree, not
    once per stage); a crash or a timeout costs a fresh one, which the next check gets.

    pass_fds: open files every worker inherits under the same numbers (learn pretrain's token file
    and checkpoint: the worker may run as a user who could not open their paths). shared: folders
    every worker may read, by the environment variable that names each to it (tiktoken's cache).
    reply_limit: bytes of one reply (the checks' need; a training run's result is larger)."""

    def __init__(self, packages: list[str], tree: Path, limits: Limits, pass_fds: tuple[int, ...] = (),
                 network: bool = False, devices: bool = False, shared: dict[str, Path] | None = None,
                 reply_limit: int = wire.MAX_REPLY):  # fmt: skip
        self.packages = list(packages)
        self.pass_fds = tuple(pass_fds)
        self.uid = reaper.worker_uid()
        self.level, self.partial_why = bwrap.level()
        self.network, self.devices = network, devices  # the engine's: several ranks of a run, a GPU
        self.reply_limit = reply_limit
        self.shared = {name: str(Path(folder).resolve()) for name, folder in (shared or {}).items()}
        hide = [] if self.level == bwrap.SANDBOX else _hidden(tree, list(self.shared.values()))
        self.dir = Path(tempfile.mkdtemp(prefix="learn-worker-", dir=_outside(hide)))
        self.view, self.tree, self.home = self.dir / "view", self.dir / "tree", self.dir / "home"
        self._make_view()
        _copy_tree(tree, self.tree)
        self.home.mkdir()
        if self.uid is not None:  # the worker's user owns its tree and home, never the view it runs
            self.dir.chmod(0o711)
            _chown_all(self.tree, self.uid)
            _chown_all(self.home, self.uid)
        self.config = {
            "tree": str(self.tree),
            "packages": self.packages,
            "checks": [str(p) for package in self.packages for p in sorted((self.view / "checks" / package).glob("test_*.py"))],
            "limits": asdict(limits),
            "hide": [h for h in hide if not self.dir.resolve().is_relative_to(h)],
            "uid": self.uid,
            "home": str(self.home),
        }
        self.import_failures: dict[str, str] = {}  # package -> why it could not be imported
        self.current: Worker | None = None
        self.ready_info: dict = {}
        self._start()

    def _make_view(self) -> None:
        """The course as the worker runs it: `learn` and the stages' checks, owned by this process's
        user and writable by nobody else, so that no worker can change the code the next one starts."""
        shutil.copytree(ROOT / "learn", self.view / "learn", ignore=shutil.ignore_patterns("__pycache__"))
        for package in self.packages:
            if (ROOT / "checks" / package).is_dir():  # a stage without graded checks yet (learn pretrain uses stage 5)
                shutil.copytree(ROOT / "checks" / package, self.view / "checks" / package,
                                ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        for folder, _, files in os.walk(self.view):
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)

    def _start(self) -> None:
        sandboxed = self.level == bwrap.SANDBOX
        user_site = self.uid is None  # as root, only the system's site-packages
        cmd = [sys.executable, "-E", "-P", "-B", *([] if user_site else ["-s"]), "-c", BOOT, str(self.view)]
        if sandboxed:
            cmd = bwrap.command(cmd, self.uid, read_only=[self.view, *self.shared.values()], writable=[self.tree, self.home],
                                home=str(self.home), network=self.network, devices=self.devices)  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k in ENVIRONMENT or any(k.startswith(p) for p in ENVIRONMENT if p[-1] == "_")}
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # tiny tensors: threads only cost here
        env.update(HOME=str(self.home), USER="learner", LOGNAME="learner", **self.shared)
        self.current = Worker(cmd, env, self.config, self.uid, self.pass_fds, sandboxed, self.reply_limit)
        self._waiting_ready = True

    def containment(self) -> dict:
        """What walls the learner's code had: {"level", "applied", "skipped"} (see learn/judge/bwrap.py).
        The level is what this side set up; the lists add what the worker says it applied itself."""
        walls = ["bubblewrap: own PID, IPC, cgroup and mount namespaces, an allow-list of read-only paths"
                 + ("" if self.network else ", own UTS namespace and no network")] if self.level == bwrap.SANDBOX else []  # fmt: skip
        skipped = [f"bubblewrap ({self.partial_why})"] if self.partial_why else []
        said = lambda key: [str(x)[:200] for x in self.ready_info.get(key, [])][:20] if type(self.ready_info.get(key)) is list else []  # noqa: E731
        return {"level": self.level, "applied": walls + said("ready"), "skipped": skipped + said("skipped")}

    def run(self, probe, kwargs: dict, seconds: float, on_event=None, package: str | None = None):
        """probe(learner, **kwargs) in the worker, given `seconds`; its result, or ProbeFailed.
        `probe` is a check module's function, whose `learner` is the package of its check folder, or
        an engine probe named "learn.engine.<module>:<function>" (learn/engine/show.py, ...), whose
        `learner` is `package`: named, so that the CLI never imports the engine (and torch) itself."""
        if isinstance(probe, str):
            if ENGINE_PROBE.fullmatch(probe) is None or package not in self.packages:
                raise ProbeFailed(f"{probe!r} is not a probe learn.engine.<module>:<function> of {package}", "internal")
            named = probe
        else:
            file, name = Path(probe.__code__.co_filename).resolve(), probe.__name__
            home = next((h for h in (ROOT / "checks" / p for p in self.packages) if file.is_relative_to(h)), None)
            if probe.__qualname__ != name or home is None:
                raise ProbeFailed(f"the probe {probe.__qualname__} is not a function of checks/<package>", "internal")
            named, package = [str(self.view / file.relative_to(ROOT)), name], home.name
        if package in self.import_failures:
            raise ProbeFailed(f"could not run: {self.import_failures[package]}", "import")
        if self.current is None:
            self._start()
        worker = self.current
        if self._waiting_ready:  # start-up is ours: it is not counted in the check's time
            self._await_ready(worker)
        request = {"probe": named, "package": package, "kwargs": kwargs}
        try:
            reply = worker.request(request, time.monotonic() + seconds, on_event)
        except ProbeFailed as e:
            self._restart()
            if package not in worker.imported:  # it never got past importing the package: so will every check
                self.import_failures[package] = _import_sentence(package, seconds, e)
                raise ProbeFailed(self.import_failures[package], "import") from None
            if e.kind == "timeout":
                raise ProbeFailed(f"your code did not finish within {seconds:g} s: is a loop in it never ending?", "timeout") from None
            raise
        return self._result(reply, package)

    def stop(self, seconds: float, on_event=None):
        """Ask the probe in flight to finish early and return its result (or ProbeFailed). The
        engine's long probes (learn/engine/pretrain.py) end their loop on SIGUSR1 and answer;
        `learn pretrain` sends it on Ctrl-C, so that the run's last step is saved."""
        worker = self.current
        if worker is None:
            raise ProbeFailed("no probe is running", "internal")
        try:
            os.kill(worker.pid, signal.SIGUSR1)
        except OSError:
            pass  # it has ended: the request below says how
        try:
            reply = worker.request(None, time.monotonic() + seconds, on_event)
        except ProbeFailed:
            self._restart()
            raise
        return self._result(reply, None)

    def _result(self, reply: dict, package: str | None):
        if "result" in reply:
            return reply["result"]
        message = str(reply.get("error", "the process running your code sent no answer"))[:MESSAGE_CAP]
        if reply.get("kind") == "import" and package is not None:
            self.import_failures[package] = message
            raise ProbeFailed(message, "import")
        raise ProbeFailed(message, "probe", str(reply.get("log") or "")[:LOG_CAP])

    def _await_ready(self, worker: Worker, seconds: float = 120) -> None:
        try:
            ready = worker.request(None, time.monotonic() + seconds)
        except ProbeFailed as e:
            self._restart()
            raise ProbeFailed(f"the grader could not start a worker ({e.kind}): {e}", "internal") from None
        self.ready_info, self._waiting_ready = ready, False
        worker.pid = worker.python_pid()  # before the learner's code runs: nothing else of its is there yet

    def _restart(self) -> None:
        """Kill the current worker and everything it started; start the next one now (it warms up)."""
        if self.current is not None:
            self.current.kill()
        self.current = None
        self._start()

    def close(self) -> None:
        if self.current is not None:
            self.current.kill()
            self.current = None
        shutil.rmtree(self.dir, ignore_errors=True)


def _import_sentence(package: str, seconds: float, e: ProbeFailed) -> str:
    if e.kind == "timeout":
        return f"importing {package} did not finish within {seconds:g} s: does your module loop forever at import?"
    return f"importing {package} ended the process running it: {e}"


def _left_out(top: bool, name: str, st: os.stat_result) -> bool:
    """Never copied for a worker: the course's own folders at the tree's top, caches, big files."""
    big = stat.S_ISREG(st.st_mode) and st.st_size > MAX_FILE
    return (top and name in NOT_FOR_WORKERS) or name == "__pycache__" or name.endswith(".pyc") or big


def tree_entries(src: Path) -> list[tuple[str, os.stat_result]]:
    """What a worker's copy of `src` is made from: every entry not left out, as its path below
    `src` ("a/b.py") and its lstat, in a stable order; folders are walked, links never followed."""
    found: list[tuple[str, os.stat_result]] = []

    def walk(folder: str, rel: str) -> None:
        for name in sorted(os.listdir(folder)):
            st = os.lstat(os.path.join(folder, name))
            if not _left_out(not rel, name, st):
                found.append((rel + name, st))
                if stat.S_ISDIR(st.st_mode):
                    walk(os.path.join(folder, name), f"{rel}{name}/")

    walk(str(src), "")
    return found


def _copy_tree(src: Path, dest: Path) -> None:
    """The learner's tree without what is left out, followed symlinks, or anything that is not a
    file, a folder or a link (a FIFO would block the copy forever)."""

    def ignore(folder, names):
        top = os.path.samefile(folder, src)
        kept = (stat.S_ISREG, stat.S_ISDIR, stat.S_ISLNK)
        modes = {n: os.lstat(os.path.join(folder, n)) for n in names}
        return {n for n, st in modes.items() if _left_out(top, n, st) or not any(k(st.st_mode) for k in kept)}

    shutil.copytree(src, dest, symlinks=True, ignore=ignore)


def _chown_all(top: Path, uid: int) -> None:
    for folder, dirs, files in os.walk(top):
        for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
            os.lchown(name, uid, uid)


def _outside(hide: list[str]) -> str | None:
    """A temporary folder that no hidden path holds (a tree right under /tmp hides /tmp), where
    the worker's own files can live; None (the default) if there is none, and then the hidden
    path that holds it stays visible."""
    for base in (tempfile.gettempdir(), "/var/tmp", "/dev/shm"):
        real = Path(base).resolve()
        if real.is_dir() and os.access(real, os.W_OK) and not any(real.is_relative_to(h) for h in hide):
            return str(real)
    return None


def _hidden(tree: Path, shared: list[str]) -> list[str]:
    """What a worker without the sandbox must not see: the course's answers, and the widest folder
    that holds the tree and nothing a worker needs (a class's submissions, however deep it lies).
    A deny-list, hence only `partial` containment: bwrap's allow-list needs none of it."""
    paths = [ROOT / name for name in ("solutions", "fixtures", "tests", ".learn", "runs")]
    needed = [Path(p).resolve() for p in (ROOT, sys.prefix, sys.base_prefix, tempfile.gettempdir(), *shared)]
    widest = None
    for folder in Path(tree).resolve().parents:
        if any(p.is_relative_to(folder) for p in needed):
            break
        widest = folder
    return [str(p) for p in paths + ([widest] if widest else [])]
