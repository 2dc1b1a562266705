"""The worker process: restarted when it dies; missing data is an error state, not a crash."""

from __future__ import annotations

import json
import os
import signal
import time

from websockets.sync.client import connect


def test_a_killed_worker_is_noticed_announced_and_restarted(live):
    live.wait_for(lambda run: run["step"] > 0)
    old = live.app.state.worker.process.pid
    with connect(live.ws_url) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        os.kill(old, signal.SIGKILL)
        deadline, said = time.monotonic() + 30, []
        while time.monotonic() < deadline and "error" not in said:
            item = ws.recv(timeout=30)
            if isinstance(item, str):
                message = json.loads(item)
                if message["type"] == "error":
                    said.append("error")
                    assert "SIGKILL" in message["message"]
    assert "error" in said
    run = live.wait_for(lambda run: run["status"] == "training" and live.app.state.worker.process.pid != old)
    assert live.http.get("/api/health").json()["worker"] == "alive"
    live.wait_for(lambda r: r["step"] > run["step"])  # a fresh run, training


def test_missing_data_is_an_error_state_and_the_server_stays_up(tmp_path, start_server):
    with start_server(tmp_path / "nowhere") as live:
        run = live.wait_for(lambda run: run["status"] == "error")
        assert "no such file or folder" in run["message"]
        assert live.http.get("/api/health").json()["worker"] == "alive"
        reply = live.http.post("/api/run/pause").json()
        assert reply["ok"] is False and reply["run"]["status"] == "error"
        assert live.http.get("/api/images/test/0.png").status_code == 409


def test_a_crash_loop_backs_off_but_a_worker_killed_while_training_comes_back_at_once(monkeypatch):
    """Dying young before training a step (bad data, out of memory at start) doubles the wait;
    a worker that trained and was then killed restarts without waiting."""
    import asyncio
    from types import SimpleNamespace

    from convscope.protocol import MetricPoint, Metrics
    from convscope.worker import Worker, WorkerOptions

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("convscope.worker.process.asyncio.sleep", sleep)
    options = WorkerOptions(name="x", spec=[], data=None, device="cpu", probe_hz=2.0, predictions_every=3.0,
                            runs_dir=None, checkpoint_every=30.0)
    worker = Worker(options, on_event=lambda e: None, on_crash=lambda m: None)
    monkeypatch.setattr(worker, "_spawn", lambda: setattr(worker, "started_at", time.monotonic()) or
                        setattr(worker, "trained", False))
    worker.process = SimpleNamespace(exitcode=-9)
    worker.commands = SimpleNamespace(cancel_join_thread=lambda: None)
    point = MetricPoint(step=1, epoch=0.0, loss=2.3, accuracy=0.1, lr=0.1, batch_size=32,
                        images_per_second=100.0, seconds=0.1, time=0.0)

    async def deaths() -> None:
        for trained in (False, False, False, True, False):
            worker._spawn()
            if trained:
                worker._dispatch(Metrics(points=[point]))
            await worker._restart()

    asyncio.run(deaths())
    assert waits == [1.0, 2.0, 4.0, 0.0, 1.0]


def test_the_restart_message_says_a_checkpoint_only_when_there_is_one(monkeypatch, tmp_path):
    import asyncio
    from types import SimpleNamespace

    from convscope.runs import checkpoint_path
    from convscope.worker import Worker, WorkerOptions

    said: list[str] = []
    options = WorkerOptions(name="x", spec=[], data=None, device="cpu", probe_hz=2.0, predictions_every=3.0,
                            runs_dir=str(tmp_path), checkpoint_every=30.0, resume="20261201-090000-abcd")
    worker = Worker(options, on_event=lambda e: None, on_crash=said.append)
    monkeypatch.setattr(worker, "_spawn", lambda: None)
    worker.process = SimpleNamespace(exitcode=-9)
    worker.commands = SimpleNamespace(cancel_join_thread=lambda: None)
    worker.started_at = time.monotonic() - 60  # it lived a minute: no crash-loop wait before the restart
    asyncio.run(worker._restart())
    path = checkpoint_path(tmp_path, "20261201-090000-abcd")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"a checkpoint")
    asyncio.run(worker._restart())
    assert said == ["the training worker stopped unexpectedly (signal SIGKILL); starting a fresh run",
                    "the training worker stopped unexpectedly (signal SIGKILL); restarting it from the run's "
                    "last checkpoint"]
