"""The walls around a worker: bubblewrap (`bwrap`, the sandbox Flatpak uses), an allow-list.

A worker in it starts with nothing of the host and is given, by name:
  * read-only: the operating system's /usr (and the /bin, /lib links into it), the dynamic
    loader's cache, the Python runtime with its site-packages, and the course's view (its copy of
    `learn` and of the stages' checks: learn/judge/workers.py);
  * writable: its copy of the tree and a home of its own, and an empty, size-capped /tmp and
    /dev/shm that vanish with it;
  * its own PID, IPC, UTS, cgroup and network namespaces: it cannot see, signal or trace a process
    of the host, and reaches no network (the ranks of one `learn pretrain` keep the host's network,
    its name and resolver files, to find each other); it dies with the judge (--die-with-parent) and cannot
    push keys into the judge's terminal (--new-session).
As root (a grading box, CI, a Gradescope container) bwrap sets the walls up and `setpriv` drops to
the worker's own user id with no capabilities before Python starts, so the learner's code never
runs as root; as any other user, bwrap runs unprivileged in a user namespace of its own.

`level()` says what a grading gets here: SANDBOX, or PARTIAL where bwrap is missing or refused
(macOS, Windows, a container that forbids namespaces; LEARN_SANDBOX=off asks for it), and then
the worker contains itself as best it can (learn/worker/sandbox.py) and every report says so.
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

SANDBOX, PARTIAL = "sandbox", "partial"
INSTALL = "install bubblewrap (Debian, Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)"
TMPFS_BYTES = 1 << 30  # each of /tmp and /dev/shm: they live in memory, which no rlimit counts
LINKS = ("/bin", "/lib", "/lib32", "/lib64", "/sbin")  # into /usr on most systems; real folders on some
LOADER = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d")
RESOLVER = ("/etc/hosts", "/etc/host.conf", "/etc/nsswitch.conf", "/etc/resolv.conf", "/etc/gai.conf")  # with the network


@functools.cache
def level() -> tuple[str, str]:
    """(SANDBOX or PARTIAL, why partial): bwrap tried once in this process, as workers will use it."""
    if os.environ.get("LEARN_SANDBOX", "").lower() in ("0", "off", "no"):
        return PARTIAL, "LEARN_SANDBOX=off"
    if not sys.platform.startswith("linux"):
        return PARTIAL, f"bubblewrap needs Linux (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return PARTIAL, f"bubblewrap is not installed: {INSTALL}"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return PARTIAL, "setpriv (util-linux) is not installed: as root it drops the worker to its own user"
    from learn.judge import reaper

    trial = command(["true"], uid=reaper.worker_uid(), read_only=[], writable=[], home="/")
    try:
        proc = subprocess.run(trial, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return PARTIAL, f"bubblewrap could not start ({e})"
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        return PARTIAL, f"bubblewrap cannot make a sandbox here ({why}): does the container forbid namespaces?"
    return SANDBOX, ""


def command(cmd: list[str], uid: int | None, read_only: list, writable: list, home: str,
            network: bool = False, devices: bool = False) -> list[str]:
    """`cmd` inside the walls, seeing the host's paths in `read_only` and `writable` at the same
    place (so that no path needs translating). uid: the worker's own user (as root), or None.
    network: keep the host's (several ranks of one training run talk over it); devices: the GPU's."""
    args = ["bwrap", "--unshare-pid", "--unshare-ipc", "--unshare-cgroup-try",
            *([] if network else ["--unshare-net", "--unshare-uts"]), "--die-with-parent", "--new-session",
            "--proc", "/proc", "--dev", "/dev"]  # fmt: skip
    for path in ("/tmp", "/dev/shm"):
        args += ["--perms", "1777", "--size", str(TMPFS_BYTES), "--tmpfs", path]
    for path in LINKS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
    bound, made = ["/dev", "/proc"], {"/tmp"}
    args += _binds("--ro-bind", ["/usr", *(p for p in LINKS if not os.path.islink(p)), *LOADER, *(RESOLVER if network else ()),
                               *runtime(uid), *read_only],
                   bound, made)  # fmt: skip
    args += _binds("--bind", writable, bound, made)
    if devices:
        args += _devices()
    args += ["--chdir", home]
    if uid is None:  # unprivileged: a user namespace of its own
        return [*args, "--unshare-user", "--cap-drop", "ALL", "--", *cmd]
    drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
            "--bounding-set=-all", "--inh-caps=-all"]  # fmt: skip
    caps = [x for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP") for x in ("--cap-add", cap)]  # setpriv's, then gone
    return [*args, *caps, "--", *drop, "--", *cmd]


def runtime(uid: int | None) -> list[str]:
    """The folders of the Python that runs the worker, and its site-packages (the user's own too
    where the worker may use it: not as root, learn/judge/workers.py)."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, os.path.dirname(os.path.realpath(sys.executable)),
             *site.getsitepackages()}  # fmt: skip
    if uid is None and site.ENABLE_USER_SITE:
        paths.add(site.getusersitepackages())
    return sorted(paths)


def _binds(option: str, paths: list, bound: list[str], made: set[str]) -> list[str]:
    """`option SRC SRC` for each existing path not inside another bound one, after the folders
    that lead to it (0755: bwrap would copy the modes of folders such as /root, closed to others).
    Adds to `bound` and `made` what it binds and makes."""
    real = sorted({os.path.realpath(p) for p in paths if os.path.exists(p)})
    args: list[str] = []
    for path in real:
        if any(Path(path).is_relative_to(q) for q in bound):
            continue
        for folder in map(str, reversed(Path(path).parents[:-1])):  # /root, /root/.pyenv, ... (not / itself)
            if folder not in made and not any(Path(folder).is_relative_to(q) for q in bound):
                args += ["--perms", "0755", "--dir", folder]
                made.add(folder)
        args += [option, path, path]
        bound.append(path)
    return args


def _devices() -> list[str]:
    """NVIDIA's device files and /sys, read-only, where the host has a GPU (CUDA needs both)."""
    nodes = sorted(str(p) for p in Path("/dev").glob("nvidia*")) + ["/dev/dri"]
    return [x for node in nodes for x in ("--dev-bind-try", node, node)] + (["--ro-bind", "/sys", "/sys"] if nodes[:-1] else [])
