"""A run's time budget (when training must stop, how many steps fit) and its learning rate."""

from __future__ import annotations

import time

from learn.engine.calls import call, number


class Budget:
    """When a run with a deadline must stop training, and how many steps its schedule can have.

    The deadline is the budget's end (pretraining's budget starts once the text is encoded).
    Training stops early enough for what comes after it: the final evaluation (a forward pass per
    batch, timed at every evaluation; before the first, taken as half a training step's time per
    batch), the samples (a forward pass of one sequence per new token: about a batch's time over
    the batch size, measured at twice the truth) and writing the run folder. Sizing trusts steady
    speeds, not single steps: a 60-second run once trained 17 steps, once 105, when one slow step
    or evaluation could cut the schedule.
    """

    def __init__(self, deadline: float, final_batches: int, eval_batches: int, sample_tokens: int, batch_size: int):
        self.deadline, self.final_batches, self.eval_batches = deadline, final_batches, eval_batches
        self.sample_tokens, self.batch_size = sample_tokens, batch_size
        self.step_seconds: float | None = None  # per micro-batch of training: a mean, then a moving average
        self.forward_seconds: float | None = None  # per batch of evaluation, averaged over evaluations
        self.steps = self.evaluations = 0

    def record_step(self, seconds: float) -> None:
        """Time of a step per micro-batch; the first two (memory being allocated) are left out. The
        plain mean of the first ten, then a moving average: one slow early step must not size a run."""
        self.steps += 1
        if self.steps > 2:
            weight = max(0.1, 1 / (self.steps - 2))
            self.step_seconds = seconds if self.step_seconds is None else (1 - weight) * self.step_seconds + weight * seconds

    def record_evaluation(self, seconds: float, batches: int) -> None:
        """Time of an evaluation of `batches` forward passes: the mean of the first ones, then a moving average."""
        self.evaluations += 1
        weight = max(0.5, 1 / self.evaluations)
        now = seconds / max(batches, 1)
        self.forward_seconds = now if self.forward_seconds is None else (1 - weight) * self.forward_seconds + weight * now

    def _forward(self) -> float:
        return self.forward_seconds or (self.step_seconds or 0.0) / 2

    def _after_training(self) -> float:
        writing = 2.0  # the run folder, after the worker: loss.png (matplotlib's import), the checkpoint, samples.txt
        return self.final_batches * self._forward() + self.sample_tokens * self._forward() / self.batch_size + writing

    def seconds_left(self) -> float:
        return max(0.0, self.deadline - time.time())

    def out_of_time(self) -> bool:
        if self.step_seconds is None:  # no estimate yet
            return time.time() >= self.deadline
        return time.time() >= self.deadline - self._after_training()

    def steps_left(self, evaluations: int, k: int) -> int:
        """Steps of k micro-batches that fit before training must stop, `evaluations` included."""
        left = self.deadline - self._after_training() - time.time() - evaluations * self.eval_batches * self._forward()
        return max(1, int(left / max(k * (self.step_seconds or 1.0), 1e-6)))

    def evaluation_batches(self, evaluations: int, share: float) -> int:
        """Forward batches per evaluation for `evaluations` of them to take `share` of the time left."""
        return max(1, int(share * self.seconds_left() / (evaluations * max(self._forward(), 1e-6))))

    def resized(self, step: int, total: int, evaluations: int, k: int) -> int:
        """The schedule's new length at `step` of `total`, sized again from the latest speeds: at most
        half as many or twice as many steps left as before, for one evaluation slower or faster than
        the rest is no trend (should the machine really slow down, out_of_time still stops in time)."""
        left = total - step
        return step + min(max(self.steps_left(evaluations, k), (left + 1) // 2), 2 * left)


def slowdown(plan: tuple | None, step: int, train_seconds: float) -> float | None:
    """How many times longer the steps after the plan took than the plan assumed (None without one)."""
    if plan is None or step == plan[0]:
        return None
    return (train_seconds - plan[1]) / (step - plan[0]) / max(plan[2], 1e-9)


def lr_at(schedule, step: int, train: dict, state: dict, peaked: bool) -> float:
    """The learner's warmup_cosine_lr at `step`, held once past the peak (peaked: the last step's LR
    was): sized again longer, the schedule moves its cosine to the right, which would raise the LR
    in mid-decay; held, it stays where it was until the cosine comes down to it."""
    lr = call(schedule, step, train["lr"], state["warmup_steps"], state["total_steps"] or 10**9, initial_lr=train["lr"] / 100,
              min_lr=train["min_lr"])  # fmt: skip
    lr = number(schedule, lr)
    return min(lr, state["lrs"][-1]) if peaked else lr
