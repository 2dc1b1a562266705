"""The live stream through real websocket clients: hello first, then metrics and probe frames."""

from __future__ import annotations

import json
import socket
import time

from websockets.sync.client import connect

from convscope import hub as hub_module
from convscope.hub import MAX_MESSAGES
from convscope.protocol import MAX_PROBE_BYTES, decode_probe


def receive(ws, seconds: float, until=None) -> tuple[list[dict], list[bytes]]:
    """Messages and frames that arrive within `seconds` (or until until(messages, frames))."""
    messages, frames = [], []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (until and until(messages, frames)):
        try:
            item = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            break
        (frames.append(item) if isinstance(item, bytes) else messages.append(json.loads(item)))
    return messages, frames


def test_a_new_client_gets_hello_with_state_and_history_first(live):
    live.wait_for(lambda run: run["step"] > 2)
    with connect(live.ws_url) as ws:
        hello = json.loads(ws.recv(timeout=10))
    assert hello["type"] == "hello" and hello["protocol_version"] == 1
    assert hello["run"]["status"] == "training" and hello["run"]["model"] == "convnetjs"
    assert hello["history"]["train"] and hello["history"]["train"][-1]["step"] <= hello["run"]["step"]
    assert hello["classes"] == [f"class{i}" for i in range(10)]
    assert [p["name"] for p in hello["presets"]][0] == "convnetjs"
    assert hello["probe"] == hello["run"]["probe"] and len(hello["layers"]) == 12


def test_metrics_and_probe_frames_arrive_and_decode_to_the_documented_shapes(live):
    with connect(live.ws_url) as ws:
        messages, frames = receive(ws, 30, until=lambda m, f: len(f) >= 2 and
                                   any(x["type"] == "metrics" for x in m) and
                                   any(x["type"] == "predictions" for x in m))
    metrics = [p for m in messages if m["type"] == "metrics" for p in m["points"]]
    assert metrics and set(metrics[0]) == {"step", "epoch", "loss", "accuracy", "lr", "batch_size",
                                           "images_per_second", "seconds", "time"}
    steps = [p["step"] for p in metrics]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)  # in order, none twice
    predictions = next(m for m in messages if m["type"] == "predictions")
    # the sample is the first test image of each of the first 8 classes: 10 a class, in class order
    items = predictions["items"]
    assert [(item["index"], item["label"]) for item in items] == [(10 * c, f"class{c}") for c in range(8)]
    classes = {f"class{c}" for c in range(10)}
    for item in items:
        p = [g["p"] for g in item["top"]]
        assert len({g["class"] for g in item["top"]} & classes) == 3, item  # three different classes
        assert p == sorted(p, reverse=True), item  # most likely first
        # the 3 largest of 10 probabilities: at least their mean 1/10 each, so 0.3 or more, and at most 1
        assert p[0] >= 0.1 - 1e-6 and 0.3 - 1e-6 <= sum(p) <= 1 + 1e-6, item

    layers = {row["index"]: row for row in live.run()["layers"]}
    frame = frames[-1]
    assert len(frame) <= MAX_PROBE_BYTES
    header, payload = decode_probe(frame)
    assert header.image.source == "test" and header.step > 0
    blobs = {(b.layer, b.kind): b for b in header.blobs}
    assert (blobs[-1, "input"].height, blobs[-1, "input"].width, blobs[-1, "input"].channels) == (32, 32, 3)
    for (layer, kind), blob in blobs.items():
        assert blob.length == blob.count * blob.height * blob.width * blob.channels
        assert blob.offset + blob.length <= len(payload)
        if kind == "activation":
            shape = layers[layer]["output_shape"]
            expected = (min(shape[0], 64), *shape[1:]) if len(shape) == 3 else (1, 1, shape[0])
            assert (blob.count, blob.height, blob.width) == expected
    first_filters = blobs[1, "filter"]  # conv 5x5 on RGB: colour tiles, one per filter
    assert (first_filters.count, first_filters.height, first_filters.channels) == (16, 5, 3)
    assert blobs[4, "filter"].channels == 1 and blobs[4, "filter"].count == 64  # (out, in) pairs
    grad = blobs[4, "activation_grad"]
    assert grad.min == -grad.max and (4, "filter_grad") in blobs


def never_reading_client(live) -> socket.socket:
    """A websocket handshake on a socket with a tiny receive buffer, whose owner never reads."""
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(("127.0.0.1", int(live.url.rsplit(":", 1)[1])))
    stuck.sendall(b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    return stuck


def test_a_client_that_never_reads_does_not_stall_the_others(live):
    stuck = never_reading_client(live)
    try:
        time.sleep(1)  # it reads nothing, ever (tests/server/test_hub.py: what its mailbox does)
        with connect(live.ws_url) as ws:
            messages, frames = receive(ws, 30, until=lambda m, f: len(f) >= 2 and len(m) >= 5)
        assert messages[0]["type"] == "hello" and len(frames) >= 2 and len(messages) >= 5
        latest = max(p["time"] for m in messages if m["type"] == "metrics" for p in m["points"])
        assert time.time() - latest < 5  # live, not a backlog
        for client in live.app.state.hub.clients:  # the stuck one included: bounded
            assert len(client.messages) <= MAX_MESSAGES
    finally:
        stuck.close()


def test_a_client_that_stopped_reading_is_let_go(live, monkeypatch):
    """Its mailbox is bounded anyway, but the kernel holds megabytes for its socket until it is closed."""
    monkeypatch.setattr(hub_module, "STALL_SECONDS", 1.0)
    hub = live.app.state.hub
    before = len(hub.clients)
    stuck = never_reading_client(live)
    try:
        deadline = time.monotonic() + 10
        while len(hub.clients) == before:  # connected
            assert time.monotonic() < deadline
            time.sleep(0.05)
        stalled_at = time.monotonic()
        while len(hub.clients) > before:  # let go once the kernel's buffers filled and a send waited 1 s
            assert time.monotonic() - stalled_at < 90, "a client that reads nothing was kept"
            time.sleep(0.2)
    finally:
        stuck.close()
