"""Limits (server/limits.py, routes/ws.py): per-client rate limits answered 429 with Retry-After,
and a bounded number of websocket viewers, past which a client is told the server is full."""

from __future__ import annotations

import json
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from convscope.limits import MAX_CLIENTS, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_token_bucket_allows_a_burst_then_the_sustained_rate():
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(1.0)  # one a second
    assert limiter.take("b") == 0.0  # each client has its own bucket
    clock.now = 0.5
    assert limiter.take("a") == pytest.approx(0.5)
    clock.now = 1.0
    assert limiter.take("a") == 0.0 and limiter.take("a") > 0
    clock.now = 100.0  # refilled, but never past the burst: three at once again, then one a second
    assert [limiter.take("a") for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(1.0)]


def test_buckets_stay_bounded():
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=2, clock=clock)
    for i in range(MAX_CLIENTS + 10):
        clock.now = i * 1e-3
        limiter.take(str(i))
    assert len(limiter.buckets) <= MAX_CLIENTS


@pytest.fixture
def tight_limits(live):
    saved = dict(live.app.state.limits)
    live.app.state.limits.update(classify=RateLimiter(60, 1), commands=RateLimiter(30, 2))
    yield live
    live.app.state.limits.update(saved)


def test_commands_and_classifications_past_the_limit_get_429_with_retry_after(tight_limits):
    live = tight_limits
    assert live.http.post("/api/run/pause").status_code == 200
    assert live.http.post("/api/run/resume").status_code == 200
    r = live.http.post("/api/run/pause")
    assert r.status_code == 429 and r.headers["retry-after"] == "2"
    assert r.json()["detail"] == "too many commands from your address: wait 2 s and try again"
    assert live.anonymous.post("/api/run/pause").status_code == 429  # strangers count too
    assert live.run()["status"] == "training"
    live.http.post("/api/classify", content=b"", headers={"Content-Type": "image/png"})  # 422, but counted
    r = live.anonymous.post("/api/classify", content=b"", headers={"Content-Type": "image/png"})
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert live.http.get("/api/run").status_code == 200  # viewing is never limited


def test_past_max_viewers_a_client_is_told_the_server_is_full(live):
    settings = live.app.state.settings
    live.app.state.settings = settings.model_copy(update={"max_viewers": len(live.app.state.hub.clients) + 2})
    try:
        with connect(live.ws_url) as one, connect(live.ws_url) as two:
            assert json.loads(one.recv(timeout=10))["type"] == "hello"
            assert json.loads(two.recv(timeout=10))["type"] == "hello"
            with connect(live.ws_url) as three:
                message = json.loads(three.recv(timeout=10))
                assert message == {"type": "error", "message": "the server is full: "
                                   f"{live.app.state.settings.max_viewers} viewers are watching already; try again later"}
                with pytest.raises(ConnectionClosed) as closed:
                    three.recv(timeout=10)
                assert closed.value.rcvd.code == 1013
        deadline = time.monotonic() + 10
        while len(live.app.state.hub.clients) >= live.app.state.settings.max_viewers and time.monotonic() < deadline:
            time.sleep(0.05)  # the server notices them leave
        with connect(live.ws_url) as again:  # room again once they left
            assert json.loads(again.recv(timeout=10))["type"] == "hello"
    finally:
        live.app.state.settings = settings
