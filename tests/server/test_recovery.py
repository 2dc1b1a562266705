"""Checkpoints in a folder (settings.checkpoint_dir): a killed worker comes back from the last one,
a damaged one is reported and set aside, not trusted."""

from __future__ import annotations

import os
import signal
import time


def wait_for_file(path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} was not written"
        time.sleep(0.1)


def test_a_killed_worker_restarts_from_the_last_checkpoint(start_server, image_folder, tmp_path):
    with start_server(image_folder, checkpoint_dir=tmp_path, checkpoint_every=0.5) as live:
        live.wait_for(lambda run: run["status"] == "training")
        live.http.patch("/api/run/hyperparams", json={"batch_size": 32})
        wait_for_file(tmp_path / "last.json")
        live.wait_for(lambda run: run["step"] > 40)
        time.sleep(1.0)  # a checkpoint after step 40
        worker = live.app.state.worker
        for kill in range(2):
            os.kill(worker.process.pid, signal.SIGKILL)
            run = live.wait_for(lambda run: run["status"] == "error")
            assert "restarting it from the run's last checkpoint" in run["message"]
            run = live.wait_for(lambda run: run["status"] == "training" and run["message"]
                                and run["message"].startswith("resumed from the checkpoint at step"))
            resumed = int(run["message"].rsplit(" ", 1)[1])
            assert resumed > 40 and run["step"] >= resumed and run["config"]["batch_size"] == 32
            history = live.app.state.mirror.train.points
            assert history and history[0].step == 1 and history[-1].step >= resumed - 1  # charts whole
            live.wait_for(lambda run: run["step"] > resumed + 5)
            time.sleep(1.0)


def test_a_damaged_checkpoint_is_reported_and_set_aside(start_server, image_folder, tmp_path):
    (tmp_path / "last.pt").write_bytes(b"not a checkpoint at all")
    (tmp_path / "last.json").write_text('{"name": "convnetjs", "step": 5}')
    with start_server(image_folder, checkpoint_dir=tmp_path, checkpoint_every=0.5) as live:
        run = live.wait_for(lambda run: run["status"] == "training")
        assert run["step"] < 1000 and not (run["message"] or "").startswith("resumed")
        assert (tmp_path / "last.damaged").read_bytes() == b"not a checkpoint at all"


def test_a_restarted_server_goes_on_with_the_last_run_its_chart_whole(start_server, image_folder, tmp_path):
    with start_server(image_folder, checkpoint_dir=tmp_path, checkpoint_every=3600) as live:
        live.wait_for(lambda run: run["status"] == "training")
        live.http.patch("/api/run/hyperparams", json={"batch_size": 32, "lr": 0.02})
        before = live.wait_for(lambda run: run["step"] > 20)["step"]
    # no periodic checkpoint in that time: this one was written on shutdown
    with start_server(image_folder, checkpoint_dir=tmp_path) as live:
        run = live.wait_for(lambda run: run["status"] == "training")
        assert run["message"].startswith("resumed from the checkpoint at step")
        assert run["step"] >= before and run["config"]["lr"] == 0.02 and run["config"]["batch_size"] == 32
        assert live.app.state.mirror.train.points[0].step == 1
