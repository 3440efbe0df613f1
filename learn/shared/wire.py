"""The one format in which data crosses between the judge and the worker: plain data, never objects.

A message is a JSON header followed by the raw bytes of its tensors and byte strings:

    frame   = length (4 bytes, big-endian) + message
    message = header length (4 bytes, big-endian) + header (UTF-8 JSON) + blob

Plain data is None, bool, int, float (NaN and inf included), str, bytes, list, tuple, dict (keys:
str, int, float, bool, None or tuples of those) and torch.Tensor. Everything is checked by its
*exact* type: a subclass of list whose __eq__ always says yes, or a tensor subclass whose
__torch_function__ lies, is refused with a sentence that names it. Decoding builds only those
types (tensors through torch.frombuffer from a whitelist of dtypes), so nothing the worker sends is
ever unpickled or executed: a worker that sends garbage gets a WireError, never a crash.

In JSON, an int, float, str, bool or None stands for itself; everything else is a tagged list:
["list", ...], ["tuple", ...], ["dict", [k, v], ...], ["bytes", offset, n],
["tensor", dtype, shape, offset, n], ["float", "nan" | "inf" | "-inf"].
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

# Sized to what crosses, with room: the largest reply of any check is a 42 KB header and a 1.2 MB
# blob (`learn check --all --impl solutions`); the engine's are of the same order (curves,
# samples, attention maps), and a learner's own corpus or tokenizer can be tens of MB; checkpoints
# travel as files. The judge's memory stays bounded by them whatever a worker sends: JSON nodes
# cost ~100 bytes each in Python, so nodes are counted too, and every byte of a blob is decoded once.
MAX_MESSAGE = 64 * 2**20  # bytes of one frame: a request, or a training run's result
MAX_REPLY = 16 * 2**20  # bytes of one frame a graded worker sends: what the checks need, with room
MAX_HEADER = 4 * 2**20  # bytes of its JSON header
MAX_ITEMS = 1_000_000  # values in it, every list, dict and number counted
MAX_DEPTH = 32  # nesting of lists and dicts

# dtype name -> bytes per element; only these cross.
DTYPES = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2,
    "int64": 8, "int32": 4, "int16": 2, "int8": 1, "uint8": 1, "bool": 1,
}  # fmt: skip


class WireError(ValueError):
    """The value cannot cross (not plain data), or a message is malformed."""


def _type_name(value) -> str:
    t = type(value)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


PLAIN = "plain data (None, bool, int, float, str, bytes, list, tuple, dict or torch.Tensor)"


def _is_tensor(value) -> bool:
    """An exact torch.Tensor or nn.Parameter: torch's own classes, never a subclass of them."""
    t = type(value)
    if t.__module__.split(".")[0] != "torch":
        return False
    import torch

    return t is torch.Tensor or t is torch.nn.Parameter


def encode(value: Any) -> bytes:
    """The message for `value`; raises WireError naming where a non-plain value sits."""
    blob = bytearray()

    def enc(v, where: str, depth: int):
        if depth > MAX_DEPTH:
            raise WireError(f"{where} is nested more than {MAX_DEPTH} levels deep")
        t = type(v)
        if v is None or t is bool or t is str or t is int:
            return v
        if t is float:
            return v if math.isfinite(v) else ["float", "nan" if v != v else ("inf" if v > 0 else "-inf")]
        if t is bytes:
            blob.extend(v)
            return ["bytes", len(blob) - len(v), len(v)]
        if t is list or t is tuple:
            return [t.__name__, *(enc(x, f"{where}[{i}]", depth + 1) for i, x in enumerate(v))]
        if t is dict:
            items = []
            for k, x in v.items():
                key = enc(k, f"a key of {where}", depth + 1)
                if isinstance(key, list) and key[0] not in ("tuple", "float"):
                    raise WireError(f"a key of {where} is a {_type_name(k)}; keys must be str, int, float, bool, None or tuples")
                items.append([key, enc(x, f"{where}[{k!r}]", depth + 1)])
            return ["dict", *items]
        if _is_tensor(v):
            return _enc_tensor(v, where, blob)
        raise WireError(f"{where} is a {_type_name(v)}, not {PLAIN}: subclasses and custom objects are refused")

    header = json.dumps(enc(value, "the result", 0), allow_nan=False, separators=(",", ":")).encode()
    if len(header) > MAX_HEADER:
        raise WireError(f"the result has {len(header) / 2**20:.0f} MB of numbers and lists, over the {MAX_HEADER // 2**20} MB "
                        "limit: return a tensor instead")  # fmt: skip
    if len(header) + len(blob) + 4 > MAX_MESSAGE:
        raise WireError(f"the result is {(len(header) + len(blob)) / 2**20:.0f} MB, over the {MAX_MESSAGE // 2**20} MB limit")
    return struct.pack(">I", len(header)) + header + bytes(blob)


def _enc_tensor(t, where: str, blob: bytearray) -> list:
    import torch

    name = str(t.dtype).removeprefix("torch.")
    if name not in DTYPES:
        raise WireError(f"{where} is a tensor of dtype {t.dtype}, which does not cross; use one of {', '.join(DTYPES)}")
    plain = torch.Tensor.detach(t).to("cpu").contiguous()  # torch's own methods: no subclass hook runs
    data = plain.reshape(-1).view(torch.uint8).numpy().tobytes() if plain.numel() else b""
    blob.extend(data)
    return ["tensor", name, list(plain.shape), len(blob) - len(data), len(data)]


def decode(message: bytes) -> Any:
    """The plain data in a message; raises WireError for anything malformed."""
    if len(message) < 4:
        raise WireError("a message shorter than its header")
    (n,) = struct.unpack(">I", message[:4])
    if 4 + n > len(message):
        raise WireError("a message whose header runs past its end")
    if n > MAX_HEADER or message.count(b",", 4, 4 + n) > MAX_ITEMS:  # before json builds a node of it
        raise WireError(f"a header over {MAX_HEADER // 2**20} MB or {MAX_ITEMS:,} values")
    try:
        tree = json.loads(message[4 : 4 + n].decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise WireError(f"a header that is not valid JSON ({type(e).__name__})") from None
    blob = memoryview(message)[4 + n :]
    start = 0  # the blob is read in order, each byte once: no reply decodes to more than it holds

    def take(offset, n) -> memoryview:
        nonlocal start
        part = _slice(blob, offset, n)
        if offset != start:
            raise WireError("bytes or a tensor that reuse, or skip, a part of the message")
        start += n
        return part

    def dec(v, depth: int):
        if depth > MAX_DEPTH:
            raise WireError(f"data nested more than {MAX_DEPTH} levels deep")
        if v is None or type(v) in (bool, int, float, str):
            return v
        if type(v) is not list or not v or type(v[0]) is not str:
            raise WireError(f"an unknown JSON value {str(v)[:40]}")
        tag, rest = v[0], v[1:]
        if tag == "list":
            return [dec(x, depth + 1) for x in rest]
        if tag == "tuple":
            return tuple(dec(x, depth + 1) for x in rest)
        if tag == "dict":
            out = {}
            for pair in rest:
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("a dict item that is not a [key, value] pair")
                key = dec(pair[0], depth + 1)
                try:
                    hash(key)
                except TypeError:
                    raise WireError("a dict key that cannot be a key") from None
                out[key] = dec(pair[1], depth + 1)
            return out
        if tag == "float" and rest in (["nan"], ["inf"], ["-inf"]):
            return float(rest[0])
        if tag == "bytes" and len(rest) == 2:
            return bytes(take(*rest))
        if tag == "tensor" and len(rest) == 4:
            return _dec_tensor(take, *rest)
        raise WireError(f"an unknown tag {tag!r}")

    return dec(tree, 0)


def _no_constant(name):
    raise WireError(f"a bare {name} in the header")


def _slice(blob: memoryview, offset, n) -> memoryview:
    if type(offset) is not int or type(n) is not int or offset < 0 or n < 0 or offset + n > len(blob):
        raise WireError("bytes that lie outside the message")
    return blob[offset : offset + n]


def _dec_tensor(take, dtype, shape, offset, n):
    import torch

    if dtype not in DTYPES:
        raise WireError(f"a tensor of unknown dtype {str(dtype)[:20]!r}")
    if type(shape) is not list or len(shape) > 16 or any(type(s) is not int or s < 0 for s in shape):
        raise WireError("a tensor with a malformed shape")
    numel = math.prod(shape)
    if numel * DTYPES[dtype] != n:
        raise WireError(f"a tensor of shape {shape} and dtype {dtype} that holds {n} bytes")
    data = take(offset, n)
    kind = getattr(torch, dtype)
    if numel == 0:
        return torch.empty(shape, dtype=kind)
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).view(kind).reshape(shape)


def frame(message: bytes) -> bytes:
    return struct.pack(">I", len(message)) + message


def read_frame(read, limit: int = MAX_MESSAGE) -> bytes | None:
    """The next framed message from `read(n)` (a blocking read of exactly n bytes or fewer at EOF).

    None at a clean end of stream; WireError if the stream ends mid-frame or a frame is too large.
    """
    head = _read_exact(read, 4)
    if head is None:
        return None
    (n,) = struct.unpack(">I", head)
    if n > limit:
        raise WireError(f"a message of {n / 2**20:.0f} MB, over the {limit // 2**20} MB limit")
    body = _read_exact(read, n)
    if body is None:
        raise WireError("the stream ended in the middle of a message")
    return body


def _read_exact(read, n: int) -> bytes | None:
    parts, got = [], 0
    while got < n:
        chunk = read(n - got)
        if not chunk:
            if got == 0:
                return None
            raise WireError("the stream ended in the middle of a message")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)
