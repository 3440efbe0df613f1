"""What every probe of the engine shares: the end-of-text token, the error for input that cannot
train, a number the learner's code returned, and the request to stop (Ctrl-C in the CLI)."""

from __future__ import annotations

import signal

SPECIAL = "<|endoftext|>"


class BadInput(AssertionError):
    """Input that cannot train (text too short for one batch, a corrupt checkpoint): one line.
    An AssertionError, so the worker sends its message alone, as for a probe's expect()."""


def number(value, function: str) -> float:
    """A loss or an accuracy the learner's `function` returned, as the float summary.json holds
    (a one-element tensor too), or a sentence that says what came back."""
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        raise BadInput(f"your {function} returned {type(value).__name__}, not a number") from None


class Stop:
    """Set by SIGUSR1: the loop ends after the step it is in."""

    def __init__(self):
        self.requested = False
        signal.signal(signal.SIGUSR1, self._set)

    def _set(self, signum, frame) -> None:
        self.requested = True
