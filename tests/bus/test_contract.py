"""One suite, both ends of the bus: the embedded worker (multiprocessing queues) and a trainer over
Redis (`convscope trainer` + RemoteTrainer). A web server relies on exactly this from either."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from convscope.app import worker_options
from convscope.bus.remote import RemoteTrainer
from convscope.protocol import Metrics, ModelChanged, State
from convscope.settings import Settings
from convscope.worker import Worker, WorkerUnavailable
from support import TIMEOUT


class Bus:
    """A trainer and the web server's handle on it; every message and crash report it delivered."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.crashes: list[str] = []
        self.handle: Worker | RemoteTrainer | None = None
        self.kill: Callable[[], None] = lambda: None

    async def until(self, condition: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        while not (result := condition()):
            assert time.monotonic() < deadline, f"timed out; got {[type(e).__name__ for e in self.events][-20:]}"
            await asyncio.sleep(0.05)
        return result

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@contextlib.asynccontextmanager
async def embedded(settings: Settings, folder: Path) -> AsyncIterator[Bus]:
    bus = Bus()
    worker = Worker(worker_options(settings), on_event=bus.events.append, on_crash=bus.crashes.append)
    bus.handle, bus.kill = worker, lambda: worker.process.kill()
    await worker.start()
    try:
        yield bus
    finally:
        await worker.stop()


@contextlib.asynccontextmanager
async def over_redis(settings: Settings, folder: Path) -> AsyncIterator[Bus]:
    bus = Bus()
    remote = RemoteTrainer(settings.broker, on_event=bus.events.append, on_crash=bus.crashes.append,
                           on_snapshot=lambda model, messages: bus.events.extend(messages))
    env = {**os.environ, **{f"CONVSCOPE_{k.upper()}": str(v) for k, v in settings.model_dump().items()
                            if v is not None}}
    log = (folder / "trainer.log").open("w")
    trainer = subprocess.Popen([sys.executable, "-m", "convscope", "trainer"], env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    bus.handle, bus.kill = remote, lambda: trainer.send_signal(signal.SIGKILL)
    await remote.start()
    try:
        yield bus
    finally:
        await remote.stop()
        trainer.terminate()
        trainer.wait(TIMEOUT)


@pytest.fixture(params=["embedded", "redis"])
def connect(request, tmp_path, image_folder, private_cache):
    """connect(): an async context manager giving a Bus whose trainer trains lenet on the tiny data."""
    broker = request.getfixturevalue("redis_server").url if request.param == "redis" else None
    settings = Settings(data=str(image_folder), model="lenet", epochs=100_000, device="cpu", probe_hz=5,
                        runs_dir=tmp_path / "runs", broker=broker, checkpoint_every=2)
    return lambda: (over_redis if broker else embedded)(settings, tmp_path)


def test_messages_arrive_in_order(connect):
    async def check() -> None:
        async with connect() as bus:
            await bus.until(lambda: len(bus.of(Metrics)) >= 5)
            assert bus.of(State)[0].run.status == "loading"
            kinds = [type(e) for e in bus.events]
            assert kinds.index(ModelChanged) < kinds.index(Metrics)  # the layer table before its first step
            steps = [p.step for m in bus.of(Metrics) for p in m.points]
            assert steps == list(range(1, len(steps) + 1))
    asyncio.run(check())


def test_a_command_is_answered_with_its_effect_or_the_reason_it_had_none(connect):
    async def check() -> None:
        async with connect() as bus:
            await bus.until(lambda: bus.of(Metrics))
            first = await bus.handle.command("pause")
            again = await bus.handle.command("pause")
            assert (first.ok, first.message, first.run.status) == (True, "paused", "paused")
            assert (again.ok, again.message) == (False, "nothing to pause: the run is paused")
            changed = await bus.handle.command("hyperparams", lr=0.0125)
            assert changed.ok and changed.run.config["lr"] == 0.0125
            assert (await bus.handle.command("resume")).run.status == "training"
    asyncio.run(check())


def test_probe_frames_flow_only_while_someone_watches(connect):
    async def check() -> None:
        async with connect() as bus:
            await bus.until(lambda: len(bus.of(Metrics)) >= 3)
            await asyncio.sleep(1.5)
            assert not bus.of(bytes)
            bus.handle.set_viewers(1)
            await bus.until(lambda: bus.of(bytes), timeout=15)
    asyncio.run(check())


def test_a_dead_trainer_is_reported_and_its_commands_fail(connect):
    async def check() -> None:
        async with connect() as bus:
            await bus.until(lambda: bus.of(Metrics))
            pending = asyncio.create_task(bus.handle.command("model", name="vgg-mini", timeout=30))
            bus.kill()
            killed = time.monotonic()
            await bus.until(lambda: bus.crashes, timeout=15)
            assert time.monotonic() - killed < 6 and ("stopped" in bus.crashes[0] or "down" in bus.crashes[0])
            with contextlib.suppress(WorkerUnavailable):
                await pending  # answered before the kill, or failed: never left hanging
            assert pending.done()
    asyncio.run(check())
