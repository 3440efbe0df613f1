"""Contain the worker before it imports a line of the learner's code, where the OS allows.

Inside bubblewrap (learn/judge/bwrap.py) the walls and the user are set before Python starts,
and only step 1 is left to do here. Without it (`partial` containment) the worker applies to
itself, in this order (learn/worker/main.py):

1. Resource limits (POSIX): address space, CPU seconds, file size, no core dumps, and, with a
   dedicated user, a cap on processes. Past a limit the kernel stops the learner's code; the judge
   then fails that check with one sentence.
2. Hidden paths (Linux, as root): a private mount namespace with an empty, unreadable tmpfs over
   solutions/, fixtures/, the project's tests and the folder of the other submissions, so they
   cannot be read even by path. Python itself may live where only root can go (pyenv under
   /root, say): then the closed folder is covered by a tmpfs that holds nothing but the way to
   Python, so the dedicated user can run it and still sees nothing else there.
3. A dedicated user (as root: containers, CI, an instructor's grading box): the worker drops to a
   user id of its own, so that it can write nothing of the course or other submissions, cannot
   signal the judge, and everything it starts can be killed by that id (learn/judge/reaper.py).
   No new privileges can be gained afterwards (no setuid programs).

Each step that the platform refuses is skipped and named in `Containment.skipped`, which the
worker sends with its first message; the judge puts it in the grader's log and every report
(learn/judge/workers.py `containment`), and its verdicts never depend on it.
"""

from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import dataclass, field

from learn.shared.limits import Limits

# Linux constants (linux/sched.h, linux/mount.h, linux/prctl.h).
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38


@dataclass
class Containment:
    applied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def contain(limits: Limits, hide: list[str], uid: int | None, home: str) -> Containment:
    """Apply every step the platform allows to this process; say which ones it refused."""
    done = Containment()
    _set_limits(limits, uid is not None, done)
    if sys.platform.startswith("linux"):
        _libc().prctl(PR_SET_PDEATHSIG, 9)  # SIGKILL when the judge dies
    if hide:  # without the sandbox (learn/judge/bwrap.py), which hides everything it does not bind
        _mount_namespace(hide, home, done)
    if uid is not None and os.getuid() != uid:
        _drop_to(uid, home, done)
    elif uid is not None:
        done.applied.append(f"user {uid} (from the start)")
    os.environ["HOME"] = os.environ["TMPDIR"] = home
    return done


def _set_limits(limits: Limits, own_user: bool, done: Containment) -> None:
    try:
        import resource
    except ImportError:  # Windows
        done.skipped.append("resource limits (no `resource` module on this platform)")
        return
    wanted = [
        ("RLIMIT_AS", limits.address_space),
        ("RLIMIT_CPU", limits.cpu_seconds),
        ("RLIMIT_FSIZE", limits.file_size),
        ("RLIMIT_CORE", 0),
        ("RLIMIT_NPROC", limits.processes if own_user else None),
    ]
    for name, value in wanted:
        if value is None or not hasattr(resource, name):
            continue
        which = getattr(resource, name)
        try:
            _, hard = resource.getrlimit(which)
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (value, value))
            done.applied.append(f"{name}={value}")
        except (ValueError, OSError) as e:
            done.skipped.append(f"{name} ({e})")


def _mount_namespace(hide: list[str], home: str, done: Containment) -> None:
    """Hide `hide`, and open the way to Python where it lies in a folder others cannot enter."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        done.skipped.append("hiding solutions and other submissions (needs Linux and root)")
        return
    libc = _libc()
    if libc.unshare(CLONE_NEWNS) != 0 or libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        done.skipped.append(f"hiding paths (no mount namespace: {os.strerror(ctypes.get_errno())})")
        return

    def mount(source, target, fstype, flags, data=None) -> bool:
        enc = lambda v: v.encode() if isinstance(v, str) else v  # noqa: E731
        return libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) == 0

    for path in hide:
        if os.path.isdir(path):
            if mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=000"):
                done.applied.append(f"hid {path}")
            else:
                done.skipped.append(f"hiding {path} ({os.strerror(ctypes.get_errno())})")
    for closed, children in _closed_folders().items():
        staged = []
        for k, child in enumerate(children):  # keep each way in, before covering the folder
            stage = os.path.join(home, f".python-{k}")
            os.makedirs(stage, exist_ok=True)
            if mount(os.path.join(closed, child), stage, None, MS_BIND | MS_REC):
                staged.append((child, stage))
        if not mount("tmpfs", closed, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755"):
            done.skipped.append(f"opening {closed} to Python ({os.strerror(ctypes.get_errno())})")
            continue
        for child, stage in staged:
            os.makedirs(os.path.join(closed, child), exist_ok=True)
            mount(stage, os.path.join(closed, child), None, MS_MOVE)
        done.applied.append(f"covered {closed}, leaving {', '.join(children)}")


MS_BIND, MS_MOVE = 4096, 8192


def _closed_folders() -> dict[str, list[str]]:
    """{folder others cannot enter: [its children on the way to Python's files]}."""
    import site

    needed = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()}
    closed: dict[str, list[str]] = {}
    for path in sorted(needed):
        parts = os.path.abspath(path).split(os.sep)[1:]
        folder = os.sep
        for part in parts:
            if not os.stat(folder).st_mode & 0o001:  # others may not pass through
                closed.setdefault(folder, [])
                if part not in closed[folder]:
                    closed[folder].append(part)
                break
            folder = os.path.join(folder, part)
    return closed


def _drop_to(uid: int, home: str, done: Containment) -> None:
    try:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    except OSError as e:
        done.skipped.append(f"dropping to user {uid} ({e})")
        return
    if sys.platform.startswith("linux"):
        _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    done.applied.append(f"user {uid}")
