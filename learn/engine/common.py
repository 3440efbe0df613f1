"""What every probe of the engine shares: the end-of-text token, the error for input that cannot
train, and the request to stop (Ctrl-C in the CLI)."""

from __future__ import annotations

import signal

SPECIAL = "<|endoftext|>"


class BadInput(AssertionError):
    """Input that cannot train (text too short for one batch, a corrupt checkpoint): one line.
    An AssertionError, so the worker sends its message alone, as for a probe's expect()."""


class Stop:
    """Set by SIGUSR1: the loop ends after the step it is in."""

    def __init__(self):
        self.requested = False
        signal.signal(signal.SIGUSR1, self._set)

    def _set(self, signum, frame) -> None:
        self.requested = True
