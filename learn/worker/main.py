"""The worker's loop: contain this process, then answer the judge's probes one by one.

The judge starts it with learn/shared/protocol.py's BOOT and talks to it as that module says, in
frames of learn/shared/wire.py on the original stdin and stdout; fd 1 and fd 2 are then pointed at
the log pipe, so that whatever the learner prints never mixes with the protocol.

A probe is a function `probe(learner, **kwargs)` in a check module: it calls the learner's code
on the judge's inputs and returns plain data. Nothing it returns is trusted by the judge. The
engine's probes (learn/engine/) are named by string and imported here only.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

from learn.shared import protocol, wire
from learn.shared.explain import explain
from learn.shared.limits import Limits
from learn.worker.sandbox import contain

_channel: Channel | None = None  # set by main(): the protocol's channel


class Channel:
    """The protocol, on file descriptors that the learner's prints can no longer reach."""

    def __init__(self):
        self._in = os.fdopen(os.dup(0), "rb", buffering=0)
        self._out = os.fdopen(os.dup(1), "wb", buffering=0)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(2, 1)  # print() goes to the log pipe
        os.close(null)
        sys.stdin = open(os.devnull)  # noqa: SIM115 (lives as long as the process)

    def receive(self):
        message = wire.read_frame(self._in.read)
        if message is None:
            raise SystemExit(0)  # the judge hung up
        return wire.decode(message)

    def send(self, value) -> None:
        """Send `value`; a reply that cannot cross becomes an error that says why."""
        try:
            message = wire.encode(value)
        except wire.WireError as e:
            message = wire.encode({"error": f"your code returned something that is not plain data: {e}", "kind": "probe"})
        self._out.write(wire.frame(message))


class Probes:
    """The check modules, imported from the view by file; each learner's package, imported once."""

    def __init__(self, packages: list[str], tree: str, channel: Channel):
        self.packages, self.tree, self.channel = packages, tree, channel
        self._modules: dict[str, object] = {}
        self._learners: dict[str, object] = {}

    def probe(self, named: list | str):
        """A check module's function ([file, name]), or the engine's, named "learn.engine.<module>:<function>"
        (the view's copy of `learn`, imported before the tree was on the path): no other module."""
        if not isinstance(named, str):
            path, name = named
            return getattr(self.module(path), name)
        module, _, name = named.partition(":")
        if not module.startswith(protocol.ENGINE):
            raise ValueError(f"{named!r} is not a probe of learn.engine")
        return getattr(importlib.import_module(module), name)

    def module(self, path: str):
        if path not in self._modules:
            name = "learn_probes_" + Path(path).stem
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            self._modules[path] = module
        return self._modules[path]

    def learner(self, package: str):
        if package not in self.packages:
            raise ValueError(f"{package!r} is not a package being graded")
        if package not in self._learners:
            self._learners[package] = importlib.import_module(package)
            self.channel.send({"event": "imported", "package": package})
        return self._learners[package]


def answer(probes: Probes, request: dict) -> dict:
    """Run one probe; the reply to send. Every exception is the learner's, put in one sentence; for
    an engine probe, its traceback too, the "log" (learn/engine/calls.py's LearnerError carries its
    own), which the CLI writes to the run's log file."""
    import traceback

    package = request["package"]
    probe = probes.probe(request["probe"])
    engine = isinstance(request["probe"], str)  # named "learn.engine.<module>:<function>", not a check's
    try:
        learner = probes.learner(package)
    except BaseException as e:  # SystemExit and KeyboardInterrupt included: the learner's doing
        return {"error": f"importing {package} failed: {explain(e)}", "kind": "import"}
    try:
        value = probe(learner, **request["kwargs"])
    except AssertionError as e:  # a probe's own expect(): what is wrong, in the check's words
        return failure(str(e) or "an assertion failed", getattr(e, "log", ""), engine)
    except BaseException as e:
        return failure(explain(e), traceback.format_exc(), engine)
    return {"result": value}


def failure(sentence: str, log: str, engine: bool) -> dict:
    """The reply of a probe that raised. Only an engine probe's carries the log: a graded check's
    verdict needs the sentence alone, and the judge is sent nothing it does not need."""
    reply = {"error": sentence, "kind": "probe"}
    return {**reply, "log": log} if engine else reply


def main() -> None:
    global _channel
    channel = _channel = Channel()
    protocol.connect(channel.send)  # the engine's progress events
    config = channel.receive()
    limits = Limits(**config["limits"])
    done = contain(limits, config["hide"], config["uid"], config["home"])
    probes = Probes(config["packages"], config["tree"], channel)
    for path in config["checks"]:  # torch and the oracles' imports, while the judge starts too, and
        probes.module(path)  # before the tree is on the path: a module of the learner's cannot shadow them
    os.chdir(config["tree"])
    os.environ["LEARN_TREE"] = config["tree"]  # to name the learner's own files in messages
    sys.path.insert(0, config["tree"])  # the learner's packages come first, as a learner expects
    channel.send({"ready": done.applied, "skipped": done.skipped})
    while True:
        request = channel.receive()
        channel.send(answer(probes, request))
