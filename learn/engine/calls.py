"""The engine's calls into the learner's code: a failure there is the learner's, said in one line.

    call(stage4.generate, model, idx, max_new_tokens=256, eos_id=50256)

returns what the learner's function returns; when it raises, LearnerError's one line names the
stage, the function, the call the engine made and what went wrong, e.g.
    stage4_model.generate(GPTModel, (2, 57) int64, max_new_tokens=256, eos_id=50256): your code raised
    RuntimeError: Boolean value of Tensor ... (at gpt.py:42, in generate); rerun: learn check stage4
and its traceback (the learner's frames included) travels to the judge's side as the reply's "log",
which the CLI writes to a log file (learn/cli/runs.py `failed`).
"""

from __future__ import annotations

import traceback

from learn.shared.explain import explain


class LearnerError(AssertionError):
    """A call into the learner's code that raised, or returned what the engine cannot use. An
    AssertionError, so the worker sends its message alone (learn/worker/main.py `answer`)."""

    def __init__(self, line: str, log: str = "", raised: Exception | None = None):
        super().__init__(line)
        self.log, self.raised = log, raised  # what the learner's code raised, if it did


def call(function, *args, **kwargs):
    """function(*args, **kwargs), a function of the learner's; a LearnerError if it raises."""
    try:
        return function(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 (whatever the learner's code raised)
        raise LearnerError(f"{described(function, args, kwargs)}: {explain(e)}; {rerun(function)}",
                           traceback.format_exc(), e) from None  # fmt: skip


def returned(function, value, needs: str) -> LearnerError:
    """The error for `value`, which the learner's `function` returned, when the engine needs `needs`."""
    said = f"your {qualified(function)} returned {brief(value)}; the engine needs {needs}"
    return LearnerError(f"{said}; {rerun(function)}")


def number(function, value) -> float:
    """A loss or an accuracy that the learner's `function` returned, as a float (a one-element tensor
    too), e.g. number(s5.perplexity, 4.5) == 4.5; a LearnerError for anything else."""
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        raise returned(function, value, "a number (a float, or a tensor of one element)") from None


def two_numbers(function, value) -> tuple[float, float]:
    """(train loss, validation loss) that the learner's evaluate_model returned, as two floats."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise returned(function, value, "a pair (train_loss, val_loss)")
    return number(function, value[0]), number(function, value[1])


def sized(function, dataset) -> int:
    """len(dataset), a dataset that the learner's `function` (a class) made; a LearnerError without one."""
    try:
        return len(dataset)
    except TypeError:
        raise returned(function, dataset, "a dataset with a length (__len__)") from None


def qualified(function) -> str:
    """'stage4_model.generate': the learner's package and the function's name."""
    package = str(getattr(function, "__module__", "") or "").partition(".")[0]
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", None) or type(function).__name__
    return f"{package}.{name}" if package else str(name)


def rerun(function) -> str:
    """'rerun: learn check stage4': the check of the stage the function belongs to."""
    package = str(getattr(function, "__module__", "") or "")
    stage = package.partition("_")[0]
    return f"rerun: learn check {stage}" if stage.startswith("stage") else "rerun its stage's check"


def described(function, args: tuple, kwargs: dict) -> str:
    """'stage4_model.generate(GPTModel, (2, 57) int64, max_new_tokens=256)': the call, compactly."""
    shown = [brief(a) for a in args] + [f"{k}={brief(v)}" for k, v in kwargs.items()]
    return f"{qualified(function)}({', '.join(shown)})"


def brief(value) -> str:
    """A value in a few characters: a tensor's shape, dtype and device ('(2, 57) int64 on cuda:0'),
    a number or None as itself, a module or anything else by its class name."""
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):
        device = getattr(value, "device", None)
        on = f" on {device}" if device is not None and str(device) != "cpu" else ""
        return f"{tuple(shape)} {str(value.dtype).removeprefix('torch.')}{on}"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 20 else f"str of {len(value)} characters"
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__} of {len(value)}"
    return type(value).__name__
