"""Bytes for everything that crosses the broker, and back, validated; never pickled.

    data = encode(message)        # a protocol message, a probe frame, or one of messages.py's
    message = decode(data)        # raises BadEntry for anything malformed or foreign

A frame is MAGIC, a 4-byte header length, a JSON header {"kind", "fields", "arrays"} and the
arrays' raw bytes one after another. Protocol messages are checked by their pydantic models, the
rest field by field; arrays only of the dtypes listed here, and their sizes must add up.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, ValidationError

from ..messages import Command, Reply, Saved, TestPredictions, TestSet, TrainFeatures, TrainSet, Weights
from ..protocol import MESSAGES, MAX_PROBE_BYTES, RunState, decode_probe
from ..train.inputs import InputFormat

MAGIC = b"CSB1"
MAX_HEADER = 4 * 2**20  # a header's JSON: a spec, a state's names, a reply's run
NUMPY_DTYPES = {"uint8", "int16", "int64", "float16", "float32"}
TORCH_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16,
                "int64": torch.int64}
WIRE_TYPES = {m.model_fields["type"].default: m for m in MESSAGES}


class BadEntry(ValueError):
    """What was read from the broker is not a message this convscope sends."""


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Reply(_Fields):
    id: int
    ok: bool
    message: str
    run: RunState


class _Command(_Fields):
    id: int
    kind: str
    args: dict[str, Any]


class _Saved(_Fields):
    run_id: str
    step: int


class _TestSet(_Fields):
    classes: list[str]


class _Weights(_Fields):
    name: str
    spec: list[dict[str, Any]]
    classes: list[str]
    step: int
    input_format: dict[str, Any]
    time: float
    flip_tta: bool = False
    tta_shift: int = 0


class _Features(_Fields):
    weights: _Weights
    seconds: float


class _TestPredictions(_Fields):
    step: int


# -- encoding ----------------------------------------------------------------------------------
def encode(message: Any) -> bytes:
    arrays: list[tuple[str, np.ndarray | torch.Tensor]] = []
    if isinstance(message, bytes):
        kind, fields, arrays = "frame", {}, [("frame", np.frombuffer(message, np.uint8))]
    elif isinstance(message, MESSAGES):
        kind, fields = "message", message.model_dump(mode="json", by_alias=True, exclude_computed_fields=True)
    elif isinstance(message, Reply):
        kind, fields = "reply", {"id": message.id, "ok": message.ok, "message": message.message,
                                 "run": message.run.model_dump(mode="json", exclude_computed_fields=True)}
    elif isinstance(message, Command):
        kind, fields = "command", {"id": message.id, "kind": message.kind, "args": message.args}
    elif isinstance(message, Saved):
        kind, fields = "saved", {"run_id": message.run_id, "step": message.step}
    elif isinstance(message, TestSet):
        kind, fields = "testset", {"classes": message.classes}
        arrays = [("images", message.images), ("labels", message.labels)]
    elif isinstance(message, TrainSet):
        kind, fields, arrays = "trainset", {}, [("images", message.images), ("labels", message.labels)]
    elif isinstance(message, Weights):
        kind, fields = "weights", _weights_fields(message)
        arrays = [(f"state.{k}", v) for k, v in message.state.items()]
    elif isinstance(message, TrainFeatures):
        kind, fields = "features", {"weights": _weights_fields(message.weights), "seconds": message.seconds}
        arrays = [("features", message.features), *((f"state.{k}", v) for k, v in message.weights.state.items())]
    elif isinstance(message, TestPredictions):
        kind, fields, arrays = "test_predictions", {"step": message.step}, [("predicted", message.predicted)]
    else:
        raise TypeError(f"cannot send a {type(message).__name__} over the broker")
    specs, payloads = [], []
    for name, array in arrays:
        dtype, raw = _raw(array)
        specs.append({"name": name, "dtype": dtype, "shape": list(array.shape), "bytes": len(raw)})
        payloads.append(raw)
    header = json.dumps({"kind": kind, "fields": fields, "arrays": specs}).encode()
    return b"".join([MAGIC, struct.pack("<I", len(header)), header, *payloads])


def _weights_fields(w: Weights) -> dict[str, Any]:
    return {"name": w.name, "spec": w.spec, "classes": w.classes, "step": w.step,
            "input_format": w.input_format.to_dict(), "time": w.time, "flip_tta": w.flip_tta,
            "tta_shift": w.tta_shift}


def _raw(array: np.ndarray | torch.Tensor) -> tuple[str, bytes]:
    if isinstance(array, torch.Tensor):
        name = str(array.dtype).removeprefix("torch.")
        if name not in TORCH_DTYPES:
            raise TypeError(f"cannot send a {array.dtype} tensor")
        return f"torch.{name}", array.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
    if array.dtype.name not in NUMPY_DTYPES:
        raise TypeError(f"cannot send a {array.dtype} array")
    return array.dtype.name, np.ascontiguousarray(array, array.dtype.newbyteorder("<")).tobytes()


# -- decoding ----------------------------------------------------------------------------------
def decode(data: bytes) -> Any:
    """The message `data` holds; BadEntry (saying why) if it is malformed or foreign."""
    try:
        return _decode(data)
    except BadEntry:
        raise
    except (ValidationError, ValueError, TypeError, KeyError, struct.error, RuntimeError) as e:
        raise BadEntry(f"{type(e).__name__}: {str(e)[:300]}") from None


def _decode(data: bytes) -> Any:
    if not isinstance(data, bytes) or data[:4] != MAGIC:
        raise BadEntry("not a convscope entry (no CSB1 magic)")
    (length,) = struct.unpack_from("<I", data, 4)
    if length > MAX_HEADER or 8 + length > len(data):
        raise BadEntry(f"header of {length} bytes does not fit the entry")
    header = json.loads(data[8:8 + length])
    if not isinstance(header, dict) or set(header) != {"kind", "fields", "arrays"}:
        raise BadEntry("header is not {kind, fields, arrays}")
    kind, fields = header["kind"], header["fields"]
    arrays = _arrays(header["arrays"], memoryview(data)[8 + length:])
    if kind == "frame":
        frame = arrays.pop("frame").tobytes()
        if len(frame) > MAX_PROBE_BYTES:
            raise BadEntry(f"probe frame of {len(frame)} bytes")
        decode_probe(frame)  # raises on a malformed one
        message: Any = frame
    elif kind == "message":
        model = WIRE_TYPES.get(fields.get("type") if isinstance(fields, dict) else None)
        if model is None:
            raise BadEntry(f"unknown message type {fields.get('type') if isinstance(fields, dict) else fields!r}")
        message = model.model_validate(fields)
    elif kind == "reply":
        f = _Reply.model_validate(fields)
        message = Reply(f.id, f.ok, f.message, f.run)
    elif kind == "command":
        f = _Command.model_validate(fields)
        message = Command(f.id, f.kind, f.args)  # the trainer checks kind and args
    elif kind == "saved":
        f = _Saved.model_validate(fields)
        message = Saved(f.run_id, f.step)
    elif kind == "testset":
        images, labels = _images(arrays)
        message = TestSet(images, labels, _TestSet.model_validate(fields).classes)
    elif kind == "trainset":
        _Fields.model_validate(fields)
        message = TrainSet(*_images(arrays))
    elif kind == "weights":
        message = _weights(_Weights.model_validate(fields), arrays)
    elif kind == "features":
        f = _Features.model_validate(fields)
        features = _array(arrays, "features", "float16", 2)
        message = TrainFeatures(_weights(f.weights, arrays), features, f.seconds)
    elif kind == "test_predictions":
        f = _TestPredictions.model_validate(fields)
        message = TestPredictions(f.step, _array(arrays, "predicted", "int16", 1))
    else:
        raise BadEntry(f"unknown kind {kind!r}")
    if arrays:
        raise BadEntry(f"unexpected arrays {sorted(arrays)}")
    return message


def _arrays(specs: Any, payload: memoryview) -> dict[str, np.ndarray | torch.Tensor]:
    if not isinstance(specs, list):
        raise BadEntry("arrays is not a list")
    out: dict[str, np.ndarray | torch.Tensor] = {}
    offset = 0
    for spec in specs:
        name, dtype, shape, size = spec["name"], spec["dtype"], spec["shape"], spec["bytes"]
        if not (isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape)):
            raise BadEntry(f"array {name!r}: bad shape {shape!r}")
        raw = payload[offset:offset + size]
        offset += size
        if dtype.startswith("torch.") and dtype[6:] in TORCH_DTYPES:
            torch_dtype = TORCH_DTYPES[dtype[6:]]
            expected = int(np.prod(shape)) * torch.empty(0, dtype=torch_dtype).element_size()
            if size != expected or len(raw) != size:
                raise BadEntry(f"array {name!r}: {len(raw)} bytes for shape {shape}")
            out[name] = torch.frombuffer(bytearray(raw), dtype=torch_dtype).reshape(shape) if size else \
                torch.empty(shape, dtype=torch_dtype)
        elif dtype in NUMPY_DTYPES:
            expected = int(np.prod(shape)) * np.dtype(dtype).itemsize
            if size != expected or len(raw) != size:
                raise BadEntry(f"array {name!r}: {len(raw)} bytes for shape {shape}")
            out[name] = np.frombuffer(raw, np.dtype(dtype).newbyteorder("<")).astype(dtype).reshape(shape)
        else:
            raise BadEntry(f"array {name!r}: dtype {dtype!r} is not sent")
    if offset != len(payload):
        raise BadEntry(f"{len(payload) - offset} bytes after the arrays")
    return out


def _array(arrays: dict, name: str, dtype: str, ndim: int) -> np.ndarray:
    array = arrays.pop(name, None)
    if not isinstance(array, np.ndarray) or array.dtype.name != dtype or array.ndim != ndim:
        raise BadEntry(f"{name}: expected a {ndim}-d {dtype} array")
    return array


def _images(arrays: dict) -> tuple[np.ndarray, np.ndarray]:
    images, labels = _array(arrays, "images", "uint8", 4), _array(arrays, "labels", "int64", 1)
    if len(images) != len(labels):
        raise BadEntry(f"{len(images)} images and {len(labels)} labels")
    return images, labels


def _weights(f: _Weights, arrays: dict) -> Weights:
    state = {name[6:]: arrays.pop(name) for name in [n for n in arrays if n.startswith("state.")]}
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BadEntry("weights: a state entry is not a tensor")
    return Weights(f.name, f.spec, f.classes, f.step, state, InputFormat.from_dict(f.input_format), f.time,
                   f.flip_tta, f.tta_shift)
