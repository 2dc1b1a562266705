"""Limits (server/limits.py, routes/ws.py): per-client rate limits answered 429 with Retry-After,
and a bounded number of websocket viewers, past which a client is told the server is full.
Limits counted in Redis and shared by web servers: test_limits_redis.py; behind a proxy: test_proxy.py."""

from __future__ import annotations

import asyncio
import json
import time
from unittest import mock

import pytest
from limits.aio.storage import MemoryStorage
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from convscope.limits import RateLimit, rate_limits
from convscope.settings import Settings


class Clock:
    """time.time, moved only by the test: the library's memory storage and limits.py both read it."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    clock = Clock()
    with mock.patch("time.time", clock):
        yield clock


def test_a_client_may_make_its_burst_back_to_back_then_waits_for_its_window(clock):
    limit = RateLimit("classify", per_minute=60, burst=3)  # 3 in any 3 s

    async def main() -> None:
        assert [await limit.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
        assert await limit.take("a") == pytest.approx(3.0)  # until the first leaves the window
        assert await limit.take("b") == 0.0  # each client has its own budget
        clock.now += 1
        assert await limit.take("a") == pytest.approx(2.0)  # refused requests are not counted
        clock.now += 2.01  # the burst has left the window: three at once again
        assert [await limit.take("a") for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(3.0)]

    asyncio.run(main())


def test_in_the_long_run_a_client_gets_per_minute_and_never_more_than_a_token_bucket_would(clock):
    limit = RateLimit("commands", per_minute=120, burst=30)  # 30 in any 15 s
    start, passed = clock.now, []

    async def main() -> None:
        for i in range(10 * 60 * 10):  # ten requests a second for ten minutes
            clock.now = start + i / 10
            if await limit.take("a") == 0.0:
                passed.append(i / 10)

    asyncio.run(main())
    assert 0.98 * 120 * 10 <= len(passed) <= 120 * 10 + 30
    for first, t in enumerate(passed):  # in any minute, at most burst + per_minute (the bucket's bound)
        assert sum(1 for u in passed[first:first + 200] if u < t + 60) <= 30 + 120


def test_the_windows_follow_the_settings_rounded_up_to_whole_seconds():
    limits = rate_limits(Settings(classify_per_minute=60, classify_burst=20, commands_per_minute=120,
                                  commands_burst=30))
    assert (limits["classify"].window, limits["commands"].window) == (20, 15)
    assert limits["classify"].counts is limits["commands"].counts  # one storage: this process's memory
    assert isinstance(limits["classify"].counts.storage, MemoryStorage)
    assert RateLimit("classify", per_minute=7, burst=20).window == 172  # 6.98 a minute, not 7.03
    assert RateLimit("classify", per_minute=1e6, burst=10).window == 1  # the library's finest unit


def test_the_memory_storage_forgets_clients_once_their_window_has_passed(clock):
    limit = RateLimit("classify", per_minute=60, burst=2)  # 2 in any 2 s
    storage = limit.counts.storage

    async def expired() -> None:  # the library's expiry task, started by hits
        while storage.timer is not None and not storage.timer.done():
            await storage.timer

    async def main() -> None:
        for i in range(1000):
            await limit.take(f"10.0.{i // 250}.{i % 250}")
        assert len(storage.events) == 1000
        clock.now += 2.5
        for _ in range(2):  # a task that started before the clock moved, then one after
            await expired()
            await limit.take("192.0.2.1")
        await expired()
        assert len(storage.events) == 1  # 192.0.2.1 alone

    asyncio.run(main())


@pytest.fixture
def tight_limits(live):
    saved = dict(live.app.state.limits)
    tight = {"classify_per_minute": 6, "classify_burst": 1, "commands_per_minute": 12, "commands_burst": 2}
    live.app.state.limits.update(rate_limits(live.app.state.settings.model_copy(update=tight)))  # 10 s windows
    yield live
    live.app.state.limits.update(saved)


def test_commands_and_classifications_past_the_limit_get_429_with_retry_after(tight_limits):
    live = tight_limits
    assert live.http.post("/api/run/pause").status_code == 200
    assert live.http.post("/api/run/resume").status_code == 200
    r = live.http.post("/api/run/pause")
    seconds = int(r.headers["retry-after"])
    assert r.status_code == 429 and 1 <= seconds <= 10
    assert r.json()["detail"] == f"too many commands from your address: wait {seconds} s and try again"
    assert live.anonymous.post("/api/run/pause").status_code == 429  # strangers count too
    assert live.run()["status"] == "training"
    live.http.post("/api/classify", content=b"", headers={"Content-Type": "image/png"})  # 422, but counted
    r = live.anonymous.post("/api/classify", content=b"", headers={"Content-Type": "image/png"})
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 10
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
