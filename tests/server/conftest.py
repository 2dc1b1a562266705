"""Fixtures: real servers (uvicorn in a thread) on the tiny image folder (tests/conftest.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from convscope.app import create_app
from convscope.settings import Settings
from support import TIMEOUT



class LiveServer:
    """A running app: `http` for REST (as the owner: it sends the token), `anonymous` for REST as
    a viewer, `ws_url` for websocket clients, `app` to look inside."""

    def __init__(self, app: Any, port: int) -> None:
        self.app = app
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/ws"
        self.token = app.state.settings.token
        self.http = httpx.Client(base_url=self.url, timeout=TIMEOUT,
                                 headers={"Authorization": f"Bearer {self.token}"})
        self.anonymous = httpx.Client(base_url=self.url, timeout=TIMEOUT)

    def run(self) -> dict:
        return self.http.get("/api/run").json()

    def wait_for(self, condition: Callable[[dict], Any], timeout: float = TIMEOUT) -> dict:
        """Poll GET /api/run until condition(run) holds; returns that run."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run()
            if condition(run):
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting; the run is {run['status']} at step {run['step']}: "
                                     f"{run['message']}")
            time.sleep(0.1)


@contextmanager
def live_server(settings: Settings) -> Iterator[LiveServer]:
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           ws_per_message_deflate=False))  # as convscope serve
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    live = LiveServer(app, server.servers[0].sockets[0].getsockname()[1])
    try:
        yield live
    finally:
        live.http.close()
        live.anonymous.close()
        server.should_exit = True
        thread.join(TIMEOUT)


# the tests share one client address: rate limits are tested on their own (test_limits.py)
UNLIMITED = {"classify_per_minute": 1e6, "classify_burst": 10_000, "commands_per_minute": 1e6,
             "commands_burst": 10_000}


def tiny_settings(data: Path | str, **overrides: Any) -> Settings:
    """The convnetjs preset on the tiny data, long enough never to finish during the tests."""
    return Settings(**{"data": str(data), "epochs": 100_000, "device": "cpu", "probe_hz": 5,
                       "predictions_every": 0.5, **UNLIMITED, **overrides})


@pytest.fixture(scope="session")
def server(image_folder: Path, private_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the session's tests; each test gets it training (see `live`)."""
    with live_server(tiny_settings(image_folder, runs_dir=tmp_path_factory.mktemp("runs"))) as live:
        live.wait_for(lambda run: run["status"] == "training")
        live.http.patch("/api/run/hyperparams", json={"batch_size": 32})  # quick steps
        yield live


@pytest.fixture(scope="module")
def module_server(image_folder: Path, private_cache: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server for one test module's own, training: for tests that change its run at will (the fuzz)."""
    with live_server(tiny_settings(image_folder, runs_dir=tmp_path_factory.mktemp("runs"))) as live:
        live.wait_for(lambda run: run["status"] == "training")
        live.http.patch("/api/run/hyperparams", json={"batch_size": 32})  # quick steps
        yield live


@pytest.fixture
def start_server(private_cache: Path, tmp_path: Path) -> Callable[..., Any]:
    """start_server(data, **settings): a context manager running another server of your own; its
    runs are kept in tmp_path/runs unless runs_dir is given. Settings that name epochs or a model
    start a new run: a second server that should go on with the last run passes epochs=None."""
    return lambda data, **overrides: live_server(tiny_settings(data, **{"runs_dir": tmp_path / "runs", **overrides}))


@pytest.fixture
def live(server: LiveServer) -> LiveServer:
    """The session's server with its run training: resumed if a test paused it, and endless again if a
    test's model switch brought a preset's own schedule (seconds long on the tiny data)."""
    run = server.wait_for(lambda run: run["status"] in ("training", "paused", "finished"))
    if run["config"]["epochs"] != 100_000:
        reply = server.http.patch("/api/run/hyperparams", json={"epochs": 100_000, "batch_size": 32})
        assert reply.status_code == 200, reply.text
        run = server.wait_for(lambda run: run["status"] in ("training", "paused"))
    if run["status"] == "paused":
        server.http.post("/api/run/resume")
    return server
