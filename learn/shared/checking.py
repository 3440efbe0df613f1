"""What a graded check is written with (checks/<package>/test_*.py).

A check runs in the judge and reads as

    def probe_merge(learner, ids, pair, idx):          # runs in the worker, on the learner's code
        return learner.merge(ids, pair, idx)           # plain data back

    def test_merge_replaces_left_to_right():           # runs in the judge
        ids = draw_ids()                               # inputs chosen here, from the run's seed
        got = run(probe_merge, ids=ids, pair=(1, 2), idx=9)
        expect_equal(got, oracle_merge(ids, (1, 2), 9), "merge(...)")

`run` sends the probe to the worker, which calls the learner's code and sends back plain data
only (learn/shared/wire.py). Everything expected is computed here, by oracles and stored fixtures, never
by the learner's process. A failed check says what was expected, what came, and (added by the
grader from curriculum.toml) the lesson's idea and a hint.

Probes are module-level functions of the check module whose first argument is the learner's
package. They may call `expect` themselves (to say that an attribute is missing, say): that
failure reaches the learner as the check's message. Module-level code of a check module runs in
the worker too, so it must not read fixtures: read them inside a check (`fixture(...)`).
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from pathlib import Path
from typing import NamedTuple

from learn import ROOT
from learn.shared.explain import explain

# Set by the judge's plugin (learn/judge/plugin.py) for the check that is running.
_state = {"workers": None, "seed": 0, "check": "", "seconds": 0.0}


def fixture(package: str, name: str) -> Path:
    """The path of a stored reference file, e.g. fixture("stage1_tokenizer", "merges.json")."""
    path = ROOT / "fixtures" / package / name
    if _state["workers"] is None and not path.exists():
        raise RuntimeError(f"fixtures are read by the judge only: read {name} inside a check, not at module level")
    return path


def run(probe, /, on_event=None, **kwargs):
    """probe(learner, **kwargs), run in the worker on the learner's code: its plain-data result.

    Every probe of a check shares the check's time limit from curriculum.toml. If the learner's
    code raises, hangs, crashes or returns something that is not plain data, the check fails here
    with one sentence (learn.judge.workers.ProbeFailed), and the next probe gets a fresh worker.
    """
    workers = _state["workers"]
    if workers is None:
        raise RuntimeError("run() works inside a graded check only (run the checks with `learn check`)")
    start = time.monotonic()
    try:
        return workers.run(probe, kwargs, max(0.5, _state["seconds"]), on_event)
    finally:
        _state["seconds"] -= time.monotonic() - start


def seed() -> int:
    """This check's seed: the run's seed (shown in the report; `learn check --seed` replays it)
    mixed with the check's name, so that each check draws its own inputs."""
    digest = hashlib.sha256(f"{_state['seed']}:{_state['check']}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


def rng() -> random.Random:
    """A random.Random for this check's inputs: public answers cannot be stored in advance."""
    return random.Random(seed())


def torch_gen(offset: int = 0):
    """A torch.Generator for this check's inputs (see `rng`)."""
    import torch

    return torch.Generator().manual_seed(seed() + offset)


# ------------------------------------------------------------------------------ verdicts


def short(value, limit: int = 160) -> str:
    """repr(value), cut to `limit` characters so that a message stays readable."""
    return _cut(repr(value), limit)


def _cut(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 15] + f" ... ({len(text)} chars)"


def expect(ok: bool, what: str, expected, got) -> None:
    """Fail the check with 'what: expected ..., got ...' unless `ok`.

    A str is shown as it is: checks pass descriptions ("a tensor of shape (2, 3)") and values they
    have formatted already (repr(x), short(x)), which a second repr would quote twice. Any other
    value is shown as short(value). To compare values that are strings, use expect_equal.
    """
    if not ok:
        shown = [_cut(v) if isinstance(v, str) else short(v) for v in (expected, got)]
        raise AssertionError(f"{what}\n  expected: {shown[0]}\n  got:      {shown[1]}")


def expect_equal(got, expected, what: str) -> None:
    """Fail unless got == expected, showing both as short(): a string once quoted."""
    if got != expected:
        expect(False, what, short(expected), short(got))


def expect_type(value, kind: type, what: str):
    """`value` if it is exactly a `kind` (data from the worker is plain, but may be the wrong plain)."""
    expect(type(value) is kind, what, kind.__name__, type(value).__name__)
    return value


def answers(got, n: int, what: str) -> list:
    """`got` once it is a list of exactly `n` answers, one per case asked: a short reply (or an
    empty one) would otherwise compare nothing and pass."""
    expect_type(got, list, what)
    expect(len(got) == n, f"{what}: one answer per case", f"{n} answers", f"{len(got)}")
    return got


def expect_near(got, expected: float, what: str, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """One number: `got` an int or a float (never a bool, a string or an int too large for a float)
    within tolerance of `expected`; NaN is never near."""
    ok = type(got) in (int, float) and abs(got) <= 1e300 and abs(got - expected) <= atol + rtol * abs(expected)
    expect(ok, what, f"{expected:.6g}", f"{got:.6g}" if type(got) is float else short(got, 60))


def expect_near_list(got, expected: list, what: str, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """A list of numbers, one per expected number, each near it (see `expect_near`)."""
    for i, (a, b) in enumerate(zip(answers(got, len(expected), what), expected)):
        expect_near(a, b, f"{what}[{i}]", atol, rtol)


def expect_close(got, expected, what: str, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Tensors: same shape and values within tolerance; the message names the worst element."""
    import torch  # only the checks of torch stages pay for this import

    if type(got) is not torch.Tensor:
        expect(False, what, f"a torch.Tensor of shape {tuple(expected.shape)}", type(got).__name__)
    expect(tuple(got.shape) == tuple(expected.shape), f"{what}: shape", str(tuple(expected.shape)), str(tuple(got.shape)))
    if got.dtype == torch.bool or expected.dtype == torch.bool:
        expect(got.dtype == expected.dtype, f"{what}: dtype", str(expected.dtype), str(got.dtype))
    got_f, exp_f = got.detach().double(), expected.detach().double()
    if not torch.allclose(got_f, exp_f, atol=atol, rtol=rtol, equal_nan=False):
        diff = (got_f - exp_f).abs().nan_to_num(nan=float("inf"))
        flat = int(diff.argmax())
        index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), diff.shape))
        raise AssertionError(
            f"{what}: values differ (largest |difference| {diff.max().item():.3g} at index {index})\n"
            f"  expected: {exp_f[index].item():.6g}\n  got:      {got_f[index].item():.6g}"
        )


class TensorData(NamedTuple):
    """A tensor that crossed as plain data (`plain_tensor`), checked to be well formed: its dtype's
    name (int64, float32, ...), its shape, and its values as nested lists (what tolist() gives).
    Checks that read tensors this way keep torch out of the judge."""

    dtype: str
    shape: tuple
    values: list


def plain_tensor(t, what: str) -> dict:
    """In a probe: the learner's tensor as {"dtype", "shape", "values"}, so that the judge needs
    no torch to read it (`tensor_data`). A subclass of torch.Tensor is refused by name."""
    import torch

    expect(isinstance(t, torch.Tensor), f"{what}: type", "a torch.Tensor", type(t).__name__)
    expect(type(t) in (torch.Tensor, torch.nn.Parameter), f"{what}: type", "a torch.Tensor", f"a subclass of it, {type(t).__name__}")
    t = t.detach()
    return {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape), "values": t.tolist()}


def forward_calls(module, calls: list, what: str) -> list:
    """In a probe: module(x) for each [x, train, seed] of `calls`, in train or eval mode, torch
    seeded first where a seed is given (dropout draws), without gradients."""
    import torch

    outputs = []
    for x, train, seed in calls:
        module.train(train)
        if seed is not None:
            torch.manual_seed(seed)
        with torch.no_grad():
            out = module(x)
        expect(isinstance(out, torch.Tensor), f"{what} should return a tensor", "torch.Tensor", type(out).__name__)
        outputs.append(out)
    return outputs


def one_device():
    """In a probe: cuda's rule on the meta device, which alone lets an embedding look up CPU ids: under
    `with one_device():` every tensor a call gets (but 0-dim ones) is on one device, or RuntimeError.
    A TorchFunctionMode (OneDevice), made here so that the judge, which imports this module, needs no torch."""
    import torch
    from torch.overrides import TorchFunctionMode

    class OneDevice(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            devices = {a.device for a in [*args, *kwargs.values()] if isinstance(a, torch.Tensor) and a.dim() > 0}
            if len(devices) > 1:
                raise RuntimeError(f"{getattr(func, '__name__', func)}: tensors on {sorted(map(str, devices))}")
            return func(*args, **kwargs)

    return OneDevice()


def emulated_device(kind: str = "cuda", what: str = ""):
    """In a probe: `with emulated_device("cuda"):` runs code as if a `kind` device (cuda, mps) were there,
    on the CPU, with values, so that .item(), argmax and sampling work where meta has none. With `what`,
    a RuntimeError or TypeError inside fails the check, as what failed on that device: run the same call on
    the CPU first, so that what fails here is the device's doing. emulated_device("cpu") does nothing, so that
    a probe can loop over ("cpu", "cuda").

    Emulated: a tensor moved there (.to("cuda"), .to(torch.device("cuda")), .to(other), .cuda(), a factory's
    device=, a module's .to) is a CPU tensor marked as on `kind`; .device reads "cuda:0" (so torch.arange(T,
    device=x.device) follows); an op's result is marked as its inputs; an op that mixes marked tensors with
    unmarked ones of dim > 0 raises cuda's RuntimeError (a CPU index of x[i], copy_ and x[i] = v excepted, as
    on cuda); .cpu() unmarks; .numpy() of a marked tensor raises cuda's TypeError; gradients, .data and an
    optimizer's state follow their parameters. torch.autocast(kind) runs as CPU autocast, and
    torch.autocast("cpu") does nothing (there is no CPU work to cast).
    Not emulated: speed, memory, cuda's own kernels and dtypes (bf16 on an old GPU), asynchronous errors,
    several devices (cuda:1, .to(0)), streams, pinned memory, memory formats, torch.cuda.* calls.
    A TorchFunctionMode, made here so that the judge, which imports this module, needs no torch; the marks
    are weak references to the tensors themselves (a view is a new tensor, marked as its input).
    """
    import contextlib
    import weakref

    import torch
    from torch.amp import autocast_mode
    from torch.overrides import TorchFunctionMode

    if kind == "cpu":
        return contextlib.nullcontext()
    T = torch.Tensor
    get_device, set_data, moves = T.device.__get__, T.data.__set__, (T.to, T.cuda, T.cpu)
    # where only the first tensor counts: cuda moves a CPU index or source itself, and _apply compares types
    self_only = (T.__getitem__, T.__setitem__, T.copy_, torch._has_compatible_shallow_copy_type)

    class EmulatedDevice(TorchFunctionMode):
        def __init__(self):
            super().__init__()
            self.marks = weakref.WeakValueDictionary()  # id(tensor) -> tensor, for the marked ones

        def marked(self, t) -> bool:
            return self.marks.get(id(t)) is t

        def mark(self, out, on: bool):
            for t in _tensors(out):
                if on:
                    self.marks[id(t)] = t
                else:
                    self.marks.pop(id(t), None)
            return out

        def ours(self, device) -> bool | None:
            """True for `kind`, False for another device, None for no device given."""
            return None if device is None else torch.device(device).type == kind

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func == get_device:
                return torch.device(kind, 0) if self.marked(args[0]) else func(*args)
            if func in (T.numpy, T.__array__) and self.marked(args[0]):
                raise TypeError(f"can't convert {kind}:0 device type tensor to numpy. Use Tensor.cpu() to copy the "
                                "tensor to host memory first.")  # fmt: skip
            if func == set_data:  # a module's .to swaps its parameters' data
                func(*args)
                return self.mark(args[0], self.marked(args[1]))
            if func in moves:
                return self.move(func, args[0], args[1:], kwargs)
            inputs = _tensors(args[:1] if func in self_only else (args, kwargs))
            on = any(self.marked(t) for t in inputs)
            if on and any(t.dim() > 0 and not self.marked(t) for t in inputs):
                raise RuntimeError(f"Expected all tensors to be on the same device, got {kind}:0 and cpu (in "
                                   f"{getattr(func, '__name__', func)})")  # fmt: skip
            target = self.ours(kwargs.get("device"))
            if target is not None:
                kwargs = {**kwargs, "device": "cpu"}
                on = target
            out = func(*args, **kwargs)
            return self.mark(out, on) if on or target is not None else out

        def move(self, func, t, args, kwargs):
            """t.to(...), t.cuda(), t.cpu(): t itself where nothing changes, else a copy, marked or not."""
            if func is not T.to:
                on, dtype = func is T.cuda and kind == "cuda", t.dtype
            elif args and isinstance(args[0], torch.Tensor):  # t.to(other): other's device and dtype
                on, dtype = self.marked(args[0]), args[0].dtype
            else:
                rest = {k: v for k, v in kwargs.items() if k != "copy"}  # which _parse_to refuses
                device, dtype, _, _ = torch._C._nn._parse_to(*args, **rest)
                on, dtype = self.ours(device), dtype or t.dtype
            on = self.marked(t) if on is None else on
            return self.mark(T.to(t, dtype=dtype, copy=on != self.marked(t) or bool(kwargs.get("copy"))), on)

        def __enter__(self):
            self.autocast_init = autocast_mode.autocast.__init__

            def init(ctx, device_type, dtype=None, enabled=True, cache_enabled=None):
                dtype = dtype or torch.get_autocast_dtype(device_type)  # cuda's default is float16
                enabled = enabled and device_type != "cpu"
                self.autocast_init(ctx, "cpu" if device_type == kind else device_type, dtype, enabled, cache_enabled)

            autocast_mode.autocast.__init__ = init
            return super().__enter__()

        def __exit__(self, kind_, error, tb):
            autocast_mode.autocast.__init__ = self.autocast_init
            super().__exit__(kind_, error, tb)
            if what and isinstance(error, (RuntimeError, TypeError)):
                got = explain(error, tb)
                raise AssertionError(f"{what}, on a {kind} device (emulated)\n  expected: no error\n  got:      {got}")

    return EmulatedDevice()


def _tensors(obj) -> list:
    """The tensors in obj, a tensor or lists, tuples and dicts of them."""
    import torch

    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in _tensors(v)]
    return [t for v in obj.values() for t in _tensors(v)] if isinstance(obj, dict) else []


def _well_formed(values, shape) -> bool:
    if not shape:
        return type(values) in (int, float, bool)
    return type(values) is list and len(values) == shape[0] and all(_well_formed(v, shape[1:]) for v in values)


def tensor_data(v, what: str) -> TensorData:
    """In the judge: what `plain_tensor` sent, or the check fails with a clear message (a hostile
    worker may send any plain data)."""
    ok = type(v) is dict and type(v.get("dtype")) is str and type(v.get("shape")) is list and len(v["shape"]) <= 8
    ok = ok and all(type(n) is int and n >= 0 for n in v["shape"]) and _well_formed(v.get("values"), v["shape"])
    expect(ok, f"{what}: type", "a torch.Tensor", short(v, 80))
    return TensorData(v["dtype"], tuple(v["shape"]), v["values"])


def flat(values) -> list:
    """The numbers of nested lists (TensorData.values, say) in order, as one list."""
    return [x for v in values for x in flat(v)] if type(values) is list else [values]


def expect_close_data(got: TensorData, expected: list, shape: tuple, what: str, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """expect_close for a tensor that crossed as plain data (`tensor_data`), against nested lists
    the judge computed, without torch: same shape, values within tolerance, the message naming
    the worst element."""
    expect(got.shape == tuple(shape), f"{what}: shape", str(tuple(shape)), str(got.shape))
    got_flat, exp_flat = flat(got.values), flat(expected)
    worst, where = -1.0, 0
    for k, (g, e) in enumerate(zip(got_flat, exp_flat)):
        diff = abs(g - e) if math.isfinite(g) else math.inf
        if diff > atol + rtol * abs(e) and diff > worst:
            worst, where = diff, k
    if worst >= 0:
        index = tuple((where // math.prod(shape[i + 1 :])) % shape[i] for i in range(len(shape)))
        raise AssertionError(
            f"{what}: values differ (largest |difference| {worst:.3g} at index {index})\n"
            f"  expected: {exp_flat[where]:.6g}\n  got:      {got_flat[where]:.6g}"
        )


def as_tiktoken(pattern: str, merges: list[list[int]], special_tokens: dict[str, int]):
    """A tiktoken.Encoding that applies a stage-1 tokenizer's merges: an independent encoder.

    `merges` is [[a, b], ...] in the order learned (the k-th makes token 256 + k). Token ids
    0..255 are the bytes; a merge's id is its rank, so tiktoken's rule (merge the adjacent pair
    whose joined bytes have the lowest rank) is BPE by merge order.
    """
    import tiktoken

    vocab = {i: bytes([i]) for i in range(256)}
    for k, (a, b) in enumerate(merges):  # callers pass the judge's own merges, never a learner's claim
        vocab[256 + k] = vocab[a] + vocab[b]
    ranks: dict[bytes, int] = {}
    for idx in sorted(vocab):
        ranks.setdefault(vocab[idx], idx)
    return tiktoken.Encoding(name="learner", pat_str=pattern, mergeable_ranks=ranks, special_tokens=dict(special_tokens))
