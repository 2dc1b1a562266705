"""The broker's codec: every kind of message survives the trip exactly; anything else is refused."""

import json
import struct

import numpy as np
import pytest
import torch

from convscope.bus.codec import MAGIC, BadEntry, decode, encode
from convscope import messages
from convscope.messages import Command, Reply, Saved, TrainFeatures, TrainSet, Weights
from convscope.protocol import Error, Metrics, MetricPoint, ProbeHeader, ProbeSource, RunState, State, encode_probe
from convscope.train.inputs import CIFAR10


def point(step: int) -> MetricPoint:
    return MetricPoint(step=step, epoch=0.5, loss=2.25, accuracy=0.125, lr=0.01, batch_size=64,
                       images_per_second=800.0, seconds=1.5, time=1e9)


def weights() -> Weights:
    state = {"0.weight": torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2),
             "1.num_batches_tracked": torch.tensor(7), "2.weight": torch.ones(3, dtype=torch.bfloat16) / 3}
    return Weights("lenet", [{"type": "conv"}], ["a", "b"], 12, state, CIFAR10, 1700000000.5, True, 1)


def test_protocol_messages_and_replies_round_trip():
    for message in (Metrics(points=[point(1), point(2)]), Error(message="no"),
                    State(run=RunState(status="training", model="lenet", config={"lr": 0.1}))):
        assert decode(encode(message)) == message
    reply = Reply(3, False, "nothing to pause", RunState(status="paused", model="m", config={}))
    assert decode(encode(reply)) == reply
    assert decode(encode(Command(4, "hyperparams", {"lr": 0.5}))) == Command(4, "hyperparams", {"lr": 0.5})
    assert decode(encode(Saved("20261201-100000-abcd", 40))) == Saved("20261201-100000-abcd", 40)


def test_arrays_keep_dtype_shape_and_values():
    images = np.random.default_rng(0).integers(0, 256, (5, 4, 3, 3), dtype=np.uint8)
    test = decode(encode(messages.TestSet(images, np.arange(5), ["x"] * 10)))
    assert test.images.dtype == np.uint8 and test.images.shape == (5, 4, 3, 3) and (test.images == images).all()
    assert test.labels.tolist() == [0, 1, 2, 3, 4] and test.classes == ["x"] * 10
    train = decode(encode(TrainSet(images[:2], np.array([9, 8]))))
    assert train.labels.dtype == np.int64 and train.labels.tolist() == [9, 8]
    w = decode(encode(weights()))
    assert w.state["0.weight"].tolist() == weights().state["0.weight"].tolist()
    assert w.state["1.num_batches_tracked"].item() == 7
    assert w.state["2.weight"].dtype == torch.bfloat16 and w.state["2.weight"][0].item() == pytest.approx(1 / 3, 1e-2)
    assert (w.input_format, w.step, w.time, w.flip_tta, w.tta_shift) == (CIFAR10, 12, 1700000000.5, True, 1)
    features = np.eye(3, 8, dtype=np.float16)
    f = decode(encode(TrainFeatures(weights(), features, 2.5)))
    assert (f.features == features).all() and f.seconds == 2.5 and f.weights.name == "lenet"
    p = decode(encode(messages.TestPredictions(5, np.array([1, 2, 3], np.int16))))
    assert p.step == 5 and p.predicted.dtype == np.int16 and p.predicted.tolist() == [1, 2, 3]


def test_probe_frames_pass_as_they_are():
    header = ProbeHeader(step=3, image=ProbeSource(source="test", index=0), blobs=[])
    frame = encode_probe(header, b"\x01\x02")
    assert decode(encode(frame)) == frame


def entry(kind: str, fields: dict, arrays: list = (), payload: bytes = b"") -> bytes:
    header = json.dumps({"kind": kind, "fields": fields, "arrays": list(arrays)}).encode()
    return MAGIC + struct.pack("<I", len(header)) + header + payload


@pytest.mark.parametrize("data, why", [
    (b"", "magic"),
    (b"\x80\x04\x95pickle", "magic"),
    (MAGIC + struct.pack("<I", 10**9), "does not fit"),
    (entry("message", {"type": "hello-from-elsewhere"}), "unknown message type"),
    (entry("message", {"type": "error", "message": 5}), "ValidationError"),
    (entry("message", {"type": "error", "message": "x", "extra": 1}), "ValidationError"),
    (entry("exec", {}), "unknown kind"),
    (entry("reply", {"id": "1", "ok": True, "message": "", "run": {}}), "ValidationError"),
    (entry("saved", {"run_id": "r", "step": 1}, [{"name": "x", "dtype": "object", "shape": [1], "bytes": 8}],
           b"\0" * 8), "dtype"),
    (entry("test_predictions", {"step": 1}, [{"name": "predicted", "dtype": "int16", "shape": [4], "bytes": 8}],
           b"\0" * 6), "bytes for shape"),
    (entry("test_predictions", {"step": 1}, [{"name": "predicted", "dtype": "int16", "shape": [1], "bytes": 2}],
           b"\0" * 4), "after the arrays"),
    (entry("frame", {}, [{"name": "frame", "dtype": "uint8", "shape": [4], "bytes": 4}], b"nope"), "probe"),
])
def test_malformed_or_foreign_entries_are_refused_with_the_reason(data, why):
    with pytest.raises(BadEntry, match=why):
        decode(data)


def test_a_model_change_with_its_layer_table_round_trips():
    from convscope.models import get_preset
    from convscope.protocol import ModelChanged
    from convscope.summary import summarize

    preset = get_preset("lenet")
    summary = summarize("lenet", preset.spec, 10)
    message = ModelChanged(name="lenet", spec=summary.spec, layers=summary.layers, run_id="r", resumed_step=3)
    assert decode(encode(message)) == message
