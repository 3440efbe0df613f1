"""learn/shared/wire.py: plain data crosses exactly; nothing else crosses; garbage is refused, never run."""

from __future__ import annotations

import json
import math
import random
import struct

import pytest
import torch

from learn.shared import wire

PLAIN = [
    None, True, False, 0, -7, 2**70, 1.5, float("nan"), float("inf"), -float("inf"), "", "héllo 🙂", b"\x00\xff",
    [], (), {}, [1, [2, (3, "x")]], {"a": 1, 2: "b", (1, 2): [3], None: 0.5, 1.5: True},
    torch.arange(6, dtype=torch.float32).view(2, 3), torch.tensor(3.5, dtype=torch.float64), torch.zeros(0, 4),
    torch.tensor([True, False]), torch.randn(3, dtype=torch.bfloat16), torch.arange(4).view(2, 2).t(),
    torch.nn.Parameter(torch.ones(2)),
]  # fmt: skip


def same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return type(b) is torch.Tensor and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a.detach(), b)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("value", PLAIN, ids=lambda v: type(v).__name__)
def test_plain_data_crosses_exactly(value):
    assert same(value, wire.decode(wire.encode(value)))


class Liar(list):
    def __eq__(self, other):
        return True


class Lying(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return True


@pytest.mark.parametrize(
    ("value", "name"),
    [(Liar([1]), "Liar"), ([1, Liar()], "Liar"), ({"k": type("Str", (str,), {})("x")}, "Str"),
     (torch.ones(2).as_subclass(Lying), "Lying"), (object(), "object"), ({"a": {1, 2}}, "set"),
     (torch.ones(2, dtype=torch.complex64), "complex64"), (3j, "complex")],
    ids=["list_subclass", "nested", "str_subclass", "tensor_subclass", "object", "set", "complex_tensor", "complex"],
)  # fmt: skip
def test_anything_else_is_refused_by_name(value, name):
    with pytest.raises(wire.WireError, match=name):
        wire.encode(value)


def test_garbage_is_refused_never_crashes():
    rng = random.Random(0)
    good = wire.encode({"result": [torch.ones(3), "x", 1.5]})
    for _ in range(2000):
        data = bytearray(good)
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            wire.decode(bytes(data))
        except wire.WireError:
            pass
    for raw in [b"", b"\x00", struct.pack(">I", 99) + b"{}", struct.pack(">I", 2) + b"{}",
                struct.pack(">I", 5) + b"NaN  ", b"\x00\x00\x00\x1c" + b'["tensor","float32",[4],0,16]']:  # fmt: skip
        with pytest.raises(wire.WireError):
            wire.decode(raw)
    deep = "[" * 10_000 + "]" * 10_000
    with pytest.raises(wire.WireError):
        wire.decode(struct.pack(">I", len(deep)) + deep.encode())


def test_frames_are_capped():
    chunks = iter([struct.pack(">I", wire.MAX_MESSAGE + 1)])
    with pytest.raises(wire.WireError, match="over"):
        wire.read_frame(lambda n: next(chunks, b""))


def test_a_small_frame_cannot_make_the_judge_huge():
    """Many tiny JSON values would cost ~100 bytes each once decoded: refused before decoding."""
    header = ("[" + ",".join(['["list"]'] * (wire.MAX_ITEMS + 1)) + "]").encode()
    assert len(header) < wire.MAX_MESSAGE
    with pytest.raises(wire.WireError, match="values"):
        wire.decode(struct.pack(">I", len(header)) + header)
    big = b"[" + b" " * wire.MAX_HEADER + b"0]"
    with pytest.raises(wire.WireError, match="MB"):
        wire.decode(struct.pack(">I", len(big)) + big)
    with pytest.raises(wire.WireError, match="return a tensor instead"):
        wire.encode(list(range(wire.MAX_HEADER // 4)))


def test_a_blob_is_decoded_once():
    """Two tensors naming the same bytes would cost the judge a copy each: 100,000 of them over one
    MB would be 100 GB. Every byte of a blob is read once, in order."""
    for parts in (
        [["tensor", "uint8", [4], 0, 4], ["tensor", "uint8", [4], 0, 4]],  # shared
        [["bytes", 0, 2], ["bytes", 0, 2]],
        [["bytes", 2, 2], ["bytes", 0, 2]],  # out of order
    ):
        header = json.dumps(["list", *parts]).encode()
        with pytest.raises(wire.WireError, match="reuse"):
            wire.decode(struct.pack(">I", len(header)) + header + b"abcd")


def test_a_graded_reply_is_capped_below_a_request():
    """What the judge reads from a graded worker is capped at what the checks need."""
    assert wire.MAX_REPLY <= 16 * 2**20 < wire.MAX_MESSAGE
    chunks = iter([struct.pack(">I", wire.MAX_REPLY + 1)])
    with pytest.raises(wire.WireError, match="over the 16 MB limit"):
        wire.read_frame(lambda n: next(chunks, b""), wire.MAX_REPLY)


class LoggedError(AssertionError):
    """What the engine's `call` raises: a sentence, and the learner's traceback as its log."""

    log = "Traceback (most recent call last): ..."


def _raise(error):
    def probe(learner):
        raise error

    return probe


class OneProbe:
    """answer()'s view of the probes: `probe` for any name, and a learner's package that imports."""

    def __init__(self, probe):
        self.probe = lambda named: probe

    def learner(self, package):
        return None


@pytest.mark.parametrize("error", [ZeroDivisionError("x"), LoggedError("your code raised ...")], ids=["raised", "call"])
@pytest.mark.parametrize(("named", "logged"), [(["checks/a/test_a.py", "probe_a"], False), ("learn.engine.show:probe_a", True)],
                         ids=["check", "engine"])  # fmt: skip
def test_only_an_engine_probe_s_failure_carries_a_log(error, named, logged):
    """A run writes the traceback to its log; a graded check's verdict needs the sentence alone."""
    from learn.worker.main import answer

    reply = answer(OneProbe(_raise(error)), {"probe": named, "package": "stage1_tokenizer", "kwargs": {}})
    assert reply["kind"] == "probe" and reply["error"]
    assert ("log" in reply) == logged and (not logged or "Traceback" in reply["log"]), reply
