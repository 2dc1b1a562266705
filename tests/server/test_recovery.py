"""Crash recovery with the runs folder: a killed worker comes back from the run's last checkpoint,
a restarted server goes on with the last run (its charts whole, evaluations included), and a
damaged checkpoint or database is reported and set aside, never trusted."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import time

from convscope.protocol import Error, Metrics, ModelChanged
from convscope.runs import RunStore, checkpoint_path
from convscope.train import load_checkpoint


def wait_for_checkpoint(live, after_step: int, timeout: float = 60.0) -> int:
    """Wait until the live run has a checkpoint past `after_step`; returns its step."""
    deadline = time.monotonic() + timeout
    while True:
        run_id = live.run()["run_id"]
        runs = {r["id"]: r for r in live.http.get("/api/runs").json()["runs"]}
        step = runs.get(run_id, {}).get("checkpoint_step")
        if step is not None and step > after_step:
            return step
        assert time.monotonic() < deadline, f"no checkpoint after step {after_step}"
        time.sleep(0.1)


def restart(seen: list) -> tuple[ModelChanged, Metrics] | None:
    """The new worker's ModelChanged among the messages `seen`, and the first metrics after it."""
    changed = next((i for i, m in enumerate(seen) if isinstance(m, ModelChanged)), None)
    first = None if changed is None else next((m for m in seen[changed:] if isinstance(m, Metrics)), None)
    return (seen[changed], first) if first else None


def test_a_killed_worker_restarts_from_the_last_checkpoint(start_server, image_folder, tmp_path, monkeypatch):
    with start_server(image_folder, checkpoint_every=0.5) as live:
        live.wait_for(lambda run: run["status"] == "training")
        live.http.patch("/api/run/hyperparams", json={"batch_size": 32})
        run_id = live.run()["run_id"]
        worker, hub = live.app.state.worker, live.app.state.hub
        seen: list = []  # what the worker sent the server, in order
        publish = hub.publish
        monkeypatch.setattr(hub, "publish", lambda message: (seen.append(message), publish(message)))
        for kill in range(2):
            saved = wait_for_checkpoint(live, 40 if kill == 0 else resumed)
            dead = worker.process
            os.kill(dead.pid, signal.SIGKILL)
            dead.join(10)
            seen.clear()
            # the checkpoint the dead worker left, copied before its successor (still importing
            # torch) can write another
            kept = tmp_path / f"kill-{kill}.pt"
            shutil.copyfile(checkpoint_path(tmp_path / "runs", run_id), kept)
            on_disk = load_checkpoint(kept).step
            assert on_disk >= saved
            run = live.wait_for(lambda run: run["status"] == "error")
            assert "(signal SIGKILL)" in run["message"]  # the crash and its cause are told
            run = live.wait_for(lambda run: run["status"] == "training" and run["message"]
                                and run["message"].startswith("resumed from the checkpoint at step"))
            assert run["message"] == f"resumed from the checkpoint at step {on_disk}"
            assert run["run_id"] == run_id and run["config"]["batch_size"] == 32 and run["step"] >= on_disk
            resumed = on_disk
            # the new worker's trainer goes on from the checkpoint's counters: its first step is the next
            live.wait_for(lambda run: restart(seen))
            changed, first = restart(seen)
            assert (changed.run_id, changed.resumed_step) == (run_id, on_disk)
            assert first.points[0].step == on_disk + 1
            history = live.app.state.mirror.train.points
            assert history and history[0].step == 1 and history[-1].step >= resumed - 1  # charts whole
            # the steps redone after the checkpoint are stored once each
            train, _ = live.app.state.store.history(run_id)
            steps = [p["step"] for p in train]
            assert steps == sorted(set(steps)) and steps[0] == 1
            live.wait_for(lambda run: run["step"] > resumed + 5)


def test_a_restarted_server_goes_on_with_the_last_run_its_charts_whole(start_server, image_folder):
    with start_server(image_folder, checkpoint_every=3600) as live:
        live.wait_for(lambda run: run["status"] == "training")
        live.http.patch("/api/run/hyperparams", json={"batch_size": 32, "lr": 0.02, "eval_every": 0.5})
        live.wait_for(lambda run: run["step"] > 20 and len(live.app.state.mirror.test) >= 1)
        run_id = live.run()["run_id"]
    # no periodic checkpoint in that time: this one was written on shutdown
    with start_server(image_folder, epochs=None) as live:  # goes on with the last run
        loading = live.run()
        assert loading["run_id"] == run_id  # the charts are there while the data loads
        run = live.wait_for(lambda run: run["status"] == "training")
        assert run["message"].startswith("resumed from the checkpoint at step") and run["run_id"] == run_id
        before = int(run["message"].rsplit(" ", 1)[1])
        assert before > 20 and run["config"]["lr"] == 0.02 and run["config"]["batch_size"] == 32
        assert live.app.state.mirror.train.points[0].step == 1
        assert live.app.state.mirror.test and live.app.state.mirror.test[0].step <= before  # evaluations too


def test_a_new_model_starts_a_new_run_and_keeps_the_old_one(start_server, image_folder):
    with start_server(image_folder) as live:
        first = live.wait_for(lambda run: run["status"] == "training" and run["step"] > 3)["run_id"]
        live.http.post("/api/run/model", json={"name": "lenet"})
        second = live.wait_for(lambda run: run["model"] == "lenet" and run["status"] == "training")["run_id"]
        assert live.app.state.recorder.flush(10)
        runs = {r["id"]: r for r in live.http.get("/api/runs").json()["runs"]}
        assert first != second and runs[second]["live"] and not runs[first]["live"]
        assert runs[first]["status"] == "stopped" and runs[second]["status"] == "training"
        assert runs[first]["checkpoint_step"] >= 3  # saved when it was replaced


def test_a_damaged_checkpoint_is_reported_and_set_aside(start_server, image_folder, tmp_path, monkeypatch):
    with start_server(image_folder) as live:
        run_id = live.wait_for(lambda run: run["status"] == "training" and run["step"] > 3)["run_id"]
    checkpoint = tmp_path / "runs" / run_id / "last.pt"
    checkpoint.write_bytes(b"not a checkpoint at all")
    with start_server(image_folder, epochs=None) as live:  # goes on with the last run
        hub, errors = live.app.state.hub, []  # the worker is still starting: it has sent nothing yet
        publish = hub.publish
        monkeypatch.setattr(hub, "publish", lambda m: (isinstance(m, Error) and errors.append(m.message), publish(m)))
        run = live.wait_for(lambda run: run["status"] == "training")
        assert len(errors) == 1 and errors[0].startswith(f"the checkpoint of run {run_id} cannot be used (")
        assert errors[0].endswith("; it was renamed last.damaged"), errors  # told to every viewer
        assert run["run_id"] != run_id and not (run["message"] or "").startswith("resumed")
        assert (tmp_path / "runs" / run_id / "last.damaged").read_bytes() == b"not a checkpoint at all"
        runs = {r["id"]: r for r in live.http.get("/api/runs").json()["runs"]}
        assert run_id in runs  # its history stays, for the runs list


def test_a_damaged_database_is_set_aside_and_the_runs_come_back_from_their_checkpoints(
        start_server, image_folder, tmp_path):
    with start_server(image_folder) as live:
        run_id = live.wait_for(lambda run: run["status"] == "training" and run["step"] > 3)["run_id"]
    database = tmp_path / "runs" / "runs.db"
    database.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)  # a header, then garbage
    with start_server(image_folder, epochs=None) as live:  # goes on with the last run
        answer = live.http.get("/api/runs").json()
        assert "damaged" in answer["problem"] and run_id in [r["id"] for r in answer["runs"]]
        run = live.wait_for(lambda run: run["status"] == "training")
        assert run["run_id"] == run_id and run["message"].startswith("resumed")
        assert live.app.state.mirror.train.points[0].step == 1
    assert list((tmp_path / "runs").glob("runs.db.damaged-*"))


def test_the_store_checks_its_file(tmp_path):
    path = tmp_path / "runs.db"
    path.write_bytes(b"this is not a database, just text" * 100)
    store = RunStore(path)
    assert store.problem and "damaged" in store.problem and store.fresh
    store.add_run("20261124-000000-abcd", "lenet", [], {})
    assert [r.id for r in store.runs()] == ["20261124-000000-abcd"]
    store.close()
    store = RunStore(path)  # the new file is sound
    assert store.problem is None and not store.fresh and len(store.runs()) == 1
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=99")
    store.close()
    assert "schema version 99" in RunStore(path).problem
