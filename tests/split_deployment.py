"""A split deployment for tests: `convscope trainer` and `convscope web` processes on a real broker.

    with Deployment(tmp_path, redis.url, data=image_folder, store=None) as d:
        a, b = d.web(), d.web()               # web servers, each a WebServer (url, http, pid)
        d.wait(a, lambda run: run["status"] == "training")
        d.kill_trainer(); d.start_trainer()   # SIGKILL, then a fresh one (it resumes the last run)

Processes are started with CONVSCOPE_* variables, as compose.yaml does; their logs are kept in
the folder and printed by a failing test's `logs()`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import websockets

from redis_server import free_port, wait_for_port
from support import TIMEOUT

TOKEN = "split-deployment-token"


class WebServer:
    def __init__(self, process: subprocess.Popen, port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/ws"
        self.http = httpx.Client(base_url=self.url, timeout=TIMEOUT, headers={"Authorization": f"Bearer {TOKEN}"})

    @property
    def pid(self) -> int:
        return self.process.pid

    def run(self) -> dict:
        return self.http.get("/api/run").json()


class Deployment:
    def __init__(self, folder: Path, broker: str, data: Path, store: str | None = None, **settings: Any) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "CONVSCOPE_BROKER": broker, "CONVSCOPE_DATA": str(data),
                    "CONVSCOPE_RUNS_DIR": str(folder / "runs"), "CONVSCOPE_TOKEN": TOKEN,
                    "CONVSCOPE_BROWSER": "no", "CONVSCOPE_DEVICE": "cpu", "CONVSCOPE_PROBE_HZ": "5",
                    "CONVSCOPE_CHECKPOINT_EVERY": "2", "CONVSCOPE_CLASSIFY_BURST": "10000",
                    "CONVSCOPE_COMMANDS_BURST": "10000", "PYTHONUNBUFFERED": "1",
                    **({"CONVSCOPE_STORE": store} if store else {}),
                    **{f"CONVSCOPE_{k.upper()}": str(v) for k, v in settings.items()}}
        self.trainer: subprocess.Popen | None = None
        self.webs: list[WebServer] = []
        self.started = 0

    def _start(self, role: str, env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
        self.started += 1
        log = self.folder / f"{self.started:02d}-{role}.log"
        process = subprocess.Popen([sys.executable, "-m", "convscope", role], env=env, stdout=log.open("w"),
                                   stderr=subprocess.STDOUT)
        return process, log

    def start_trainer(self, **settings: Any) -> subprocess.Popen:
        env = {**self.env, **{f"CONVSCOPE_{k.upper()}": str(v) for k, v in settings.items()}}
        self.trainer, _ = self._start("trainer", env)
        return self.trainer

    def web(self, **settings: Any) -> WebServer:
        port = free_port()
        env = {**self.env, "CONVSCOPE_PORT": str(port), **{f"CONVSCOPE_{k.upper()}": str(v) for k, v in settings.items()}}
        env = {k: v for k, v in env.items() if v != "None"}  # web(token=None): no token given
        process, log = self._start("web", env)
        server = WebServer(process, port, log)
        self.webs.append(server)
        try:
            wait_for_port(port, TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"the web server did not listen:\n{self.logs()}") from None
        return server

    def kill_trainer(self) -> None:
        self.trainer.send_signal(signal.SIGKILL)
        self.trainer.wait(TIMEOUT)

    def kill_web(self, web: WebServer) -> None:
        web.process.send_signal(signal.SIGKILL)
        web.process.wait(TIMEOUT)

    def wait(self, web: WebServer, condition: Callable[[dict], Any], timeout: float = TIMEOUT) -> dict:
        """Poll the web server's GET /api/run until condition(run) holds; returns that run."""
        deadline = time.monotonic() + timeout
        run: dict = {}
        while time.monotonic() < deadline:
            try:
                run = web.run()
                if condition(run):
                    return run
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"timed out; the run is {run.get('status')} at step {run.get('step')}: "
                             f"{run.get('message')}\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in sorted(self.folder.glob("*.log")))

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc: object) -> None:
        for web in self.webs:
            web.http.close()
            if web.process.poll() is None:
                web.process.terminate()
        if self.trainer and self.trainer.poll() is None:
            self.trainer.terminate()
        for process in [w.process for w in self.webs] + ([self.trainer] if self.trainer else []):
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


async def watch(ws_url: str, seconds: float, until: Callable[[dict], bool] = lambda m: False) -> list[dict]:
    """The JSON messages a viewer gets for `seconds` (or until one satisfies `until`), hello first."""
    origin = ws_url.replace("ws://", "http://").removesuffix("/ws")
    got: list[dict] = []
    async with websockets.connect(ws_url, origin=origin, max_size=2**24) as ws:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                data = await asyncio.wait_for(ws.recv(), left)
            except TimeoutError:
                break
            if isinstance(data, str):
                got.append(json.loads(data))
                if until(got[-1]):
                    break
    return got


def steps_seen(messages: list[dict]) -> list[int]:
    """Every training step in these messages: the hellos' histories and the metrics, in order."""
    steps: list[int] = []
    for m in messages:
        if m["type"] == "hello":
            steps = [p["step"] for p in m["history"]["train"]]
        elif m["type"] == "metrics":
            steps += [p["step"] for p in m["points"]]
    return steps
