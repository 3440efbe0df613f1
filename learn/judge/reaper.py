"""Leave nothing behind: kill every process the learner's code started, detached ones included.

Two nets, used together where the platform has them:
* By user id (as root): each judge's workers run as a user of their own (`worker_uid`), so a
  process forked with that id and calling kill(-1, SIGKILL) reaches all of them, however they were
  started (setsid, double fork), and nothing else.
* By parentage (Linux): the judge and the grader are child subreapers, so an orphan of the
  learner's code is re-parented to them rather than to init; `reap_orphans` kills every child that
  is not one we started.
Elsewhere the worker's process group (or, on Windows, the worker itself) is what can be killed.
In the sandbox (learn/judge/bwrap.py) the worker's PID namespace ends with it, which takes every
process inside along.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 1, 4, 36
LINUX = sys.platform.startswith("linux")
UID_BASE = 200_000  # + the judge's pid: unique among live judges, never a real account

_ours: set[int] = set()  # the children this process started and still owns
_lock = threading.Lock()


def guard_this_process() -> None:
    """Become a child subreaper, and not dumpable: a same-user process can no longer open our
    /proc/<pid>/fd, mem or environ (Linux). Harmless elsewhere."""
    if LINUX:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def die_with_parent() -> None:
    """SIGKILL this process when the one that started it dies (Linux): a judge whose grader is
    gone (stopped, killed) has nobody to report to, and must not keep a core busy. (Linux sends
    it when the *thread* that started us ends: graders start judges from threads that outlive them.)"""
    if LINUX:
        parent = os.getppid()
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # it died before the line above
            os._exit(1)


def worker_uid() -> int | None:
    """The user id this process's workers run as, or None when we cannot switch users."""
    return uid_for(os.getpid()) if switching_users() else None


def switching_users() -> bool:
    """Whether workers run as users of their own: only root can switch."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def uid_for(judge_pid: int) -> int:
    """The user id of the workers of the judge `judge_pid`."""
    return UID_BASE + judge_pid


def spawn(cmd: list[str], **kwargs) -> subprocess.Popen:
    """subprocess.Popen(cmd, **kwargs), registered as ours before any reaper can see it."""
    with _lock:
        proc = subprocess.Popen(cmd, **kwargs)
        _ours.add(proc.pid)
    return proc


def disown(proc: subprocess.Popen) -> None:
    with _lock:
        _ours.discard(proc.pid)


def kill(proc: subprocess.Popen, uid: int | None = None) -> None:
    """Kill `proc`, its process group, everything running as `uid`, and any orphan left to us."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    disown(proc)
    if uid is not None:
        kill_user(uid)
        remove_files_of(uid)
    reap_orphans()


def kill_user(uid: int) -> None:
    """Every process of `uid`, however it detached: kill(-1) from a child running as `uid`."""
    if not hasattr(os, "fork"):
        return
    for _ in range(20):  # a fork bomb may need a few rounds; the process cap bounds them
        with _lock:  # ours before another thread's reap_orphans can take it for a stray
            pid = os.fork()
            if pid != 0:
                _ours.add(pid)
        if pid == 0:  # the child: become `uid` and kill all of its processes but itself
            try:
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
                os._exit(0)
            except ProcessLookupError:
                os._exit(3)  # none left
            except BaseException:
                os._exit(4)
        _, status = os.waitpid(pid, 0)
        with _lock:
            _ours.discard(pid)
        reap_orphans()
        if os.waitstatus_to_exitcode(status) != 0:
            return


SHARED_TEMP = ("/tmp", "/var/tmp", "/dev/shm")  # where any user may leave files


def remove_files_of(uid: int) -> None:
    """Remove what `uid` left in the shared temporary folders. In the sandbox (learn/judge/bwrap.py)
    a worker's /tmp and /dev/shm are its own and vanish with it; without it they are the host's."""
    import shutil

    for folder in SHARED_TEMP:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


def reap_orphans() -> None:
    """Kill and reap every child of ours that we did not start (Linux; a no-op elsewhere)."""
    if not LINUX:
        return
    me = os.getpid()
    for _ in range(50):
        with _lock:
            strays = [pid for pid in children(me) if pid not in _ours]
            for pid in strays:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if not strays:
            return
        for pid in strays:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        time.sleep(0.01)


def children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()  # after "(comm)": state, ppid, ...
        if len(fields) > 1 and int(fields[1]) == parent:
            found.append(int(entry))
    return found
