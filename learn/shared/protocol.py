"""How the judge and a worker talk: the command that starts a worker, and the messages after it.

The judge starts `python -E -P -B -c BOOT VIEW` (learn/judge/workers.py), where VIEW is a private
copy of the `learn` package and the stage's check modules (no solutions, no fixtures). Frames
(learn/shared/wire.py) travel on the worker's original stdin and stdout (learn/worker/main.py):

    judge -> worker   {"tree", "packages", "checks", "limits", "hide", "uid", "home"}   once
    worker -> judge   {"ready": [what was contained], "skipped": [what the platform refused]}
    judge -> worker   {"probe": [check file, function name] | "learn.engine.<module>:<function>", "package",
                       "kwargs": {...}}   then, per probe:
    worker -> judge   {"event": "imported", "package"}   once per package, after importing it
                      {"event": ..., ...}        any number: progress of a long probe (`emit`)
                      {"result": data} | {"error": sentence, "kind": "import" | "probe", "log": traceback}
"""

from __future__ import annotations

BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from learn.worker.main import main; main()"

#: How the engine's probes are named: "learn.engine.<module>:<function>", imported by the worker only.
ENGINE = "learn.engine."

_send = None  # the worker's sender, set by `connect`: what emit() sends on


def connect(send) -> None:
    """Make emit() send its events with send(message): the worker does, once its channel is open."""
    global _send
    _send = send


def emit(event: str, **fields) -> None:
    """Send one progress event {"event": event, **fields} of a long engine probe (learn pretrain)
    to the judge's side, which hands it to `Workers.run(..., on_event=...)`; outside a worker (a
    probe called directly, in a test) it does nothing. Fields must be plain data (learn/shared/wire.py)."""
    if _send is not None:
        _send({"event": event, **fields})
