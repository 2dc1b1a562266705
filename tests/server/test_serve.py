"""`convscope serve` as a user runs it: it serves, and Ctrl-C stops it and its worker cleanly."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from convscope.security import is_loopback


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def wait_until_training(server: subprocess.Popen, port: int) -> dict:
    """Poll the served GET /api/run until its run trains (60 s at most); returns that run."""
    deadline = time.monotonic() + 60
    while True:
        try:
            run = httpx.get(f"http://127.0.0.1:{port}/api/run").json()
            if run["status"] == "training":
                return run
        except httpx.TransportError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
        time.sleep(0.2)


def test_serve_then_ctrl_c_stops_the_server_and_its_worker(image_folder, private_cache):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "convscope", "serve", "--port", str(port), "--data", str(image_folder),
         "--device", "cpu", "--no-browser", "--epochs", "1000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run = wait_until_training(server, port)
        workers = children(server.pid)
        assert workers, "the worker is a child process of the server"
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=30)
    finally:
        server.kill()
    assert f"serving on http://127.0.0.1:{port}/" in stderr
    assert re.search(rf"owner's address .*: http://127\.0\.0\.1:{port}/\?token=[\w-]{{32}}\n", stderr), stderr
    assert "warning" not in stderr  # loopback: nobody else can reach it
    assert "Traceback" not in stderr
    assert "stopped" in stderr and server.returncode == 0

    def running(pid: int) -> bool:
        status = Path(f"/proc/{pid}/status")
        return status.exists() and "zombie" not in status.read_text()

    deadline = time.monotonic() + 10  # the worker has stopped; multiprocessing's tracker may linger a moment
    while any(map(running, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(running, workers)), "no orphans"


def test_serve_takes_every_setting_from_the_environment(image_folder, private_cache, tmp_path):
    """CONVSCOPE_PORT, CONVSCOPE_DATA and the rest, with no flag at all."""
    import os

    port = free_port()
    env = {**os.environ, "CONVSCOPE_PORT": str(port), "CONVSCOPE_DATA": str(image_folder),
           "CONVSCOPE_DEVICE": "cpu", "CONVSCOPE_BROWSER": "false", "CONVSCOPE_EPOCHS": "1000",
           "CONVSCOPE_MODEL": "lenet", "CONVSCOPE_TOKEN": "token-from-the-environment",
           "CONVSCOPE_RUNS_DIR": str(tmp_path / "runs")}
    server = subprocess.Popen([sys.executable, "-m", "convscope", "serve"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run = wait_until_training(server, port)
        reply = httpx.post(f"http://127.0.0.1:{port}/api/run/pause",
                           headers={"Authorization": "Bearer token-from-the-environment"})
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=30)
    finally:
        server.kill()
    assert run["model"] == "lenet" and run["config"]["epochs"] == 1000
    assert run["dataset"]["source"] == f"image folder at {image_folder}"
    assert reply.status_code == 200, reply.text
    assert "?token=token-from-the-environment" in stderr
    assert list((tmp_path / "runs").glob("*/last.pt")), "the run's checkpoint is in CONVSCOPE_RUNS_DIR"


def test_only_loopback_addresses_count_as_private():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("192.168.1.5")
