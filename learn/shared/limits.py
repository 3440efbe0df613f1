"""What a worker may use: the judge chooses it (from curriculum.toml, or a run's command), the
worker applies it to itself before the learner's code runs (learn/worker/sandbox.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Limits:
    """What the worker may use; None leaves a limit as it is."""

    address_space: int | None = 4 * 2**30  # bytes of virtual memory (torch alone maps ~0.6 GB)
    cpu_seconds: int | None = None  # total over the worker's life
    file_size: int | None = 256 * 2**20  # bytes, per file written
    processes: int = 64  # only with a dedicated user: the cap counts that user's processes
