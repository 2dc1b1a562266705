"""The recorder: record() only queues, one writer thread writes in order, retrying while the
database is down (a real PostgreSQL stopped for 30 s: nothing is lost), and past its bound the
oldest training points are dropped, counted and told."""

from __future__ import annotations

import sqlite3
import threading
import time

from sqlalchemy.exc import OperationalError

from convscope.messages import Saved
from convscope.protocol import Eval, Metrics, MetricPoint, ModelChanged, RunState, State
from convscope.runs import Recorder, RunStore

RUN = "20261124-000000-0001"


def metrics(*steps: int) -> Metrics:
    return Metrics(points=[MetricPoint(step=s, epoch=s / 100, loss=1.0, accuracy=0.5, lr=0.01, batch_size=32,
                                       images_per_second=1e3, seconds=s / 10, time=1e9 + s) for s in steps])


def evaluation(step: int) -> Eval:
    return Eval(step=step, epoch=step / 100, loss=1.0, accuracy=step / 1e5, per_class=[0.5] * 10, seconds=1.0,
                confusion=[[0] * 10] * 10)


def new_run(run_id: str = RUN) -> ModelChanged:
    return ModelChanged(name="lenet", spec=[{"type": "flatten"}], layers=[], run_id=run_id)


def test_what_is_recorded_is_written_in_order_and_close_writes_the_rest(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    recorder = Recorder(store, tmp_path)
    recorder.record(metrics(1))  # before any run: nothing to write it to
    recorder.record(new_run())
    for step in range(1, 201):
        recorder.record(metrics(step))
    recorder.record(evaluation(200))
    recorder.record(Saved(run_id=RUN, step=200))
    recorder.record(State(run=RunState(status="paused", model="lenet", config={"lr": 0.1}, run_id=RUN)))
    recorder.close()
    run = store.get(RUN)
    assert (run.step, run.checkpoint_step, run.status, run.config, run.test_accuracy) == (200, 200, "paused",
                                                                                          {"lr": 0.1}, 0.002)
    assert [p["step"] for p in store.history(RUN)[0]] == list(range(1, 201))
    recorder.record(metrics(201))  # closed: ignored
    assert store.get(RUN).step == 200 and recorder.problem is None
    store.close()


def test_postgresql_down_for_30_s_loses_no_history(postgres_server, tmp_path):
    store = RunStore(postgres_server.url)
    recorder = Recorder(store, tmp_path)
    recorder.record(new_run())
    done, recorded, slowest, problems = threading.Event(), [0], [0.0], []

    def train() -> None:  # as the worker's messages come: a step every few milliseconds
        while not done.is_set():
            step = recorded[0] + 1
            began = time.monotonic()
            recorder.record(metrics(step))
            if step % 100 == 0:
                recorder.record(evaluation(step))
            slowest[0] = max(slowest[0], time.monotonic() - began)
            recorded[0] = step
            if step % 50 == 0:
                problems.append(recorder.problem)
            time.sleep(0.003)

    trainer = threading.Thread(target=train)
    trainer.start()
    try:
        time.sleep(1.0)
        before = recorded[0]
        postgres_server.restart(down=30.0)
        during = recorded[0] - before
        time.sleep(1.0)
    finally:
        done.set()
        trainer.join()
    assert recorder.flush(60), recorder.problem
    assert recorder.problem is None  # told meanwhile, and no more:
    assert any(p and p.startswith("the run database cannot be written (") for p in problems), set(problems)
    train, test = store.history(RUN)
    assert during > 1000 and slowest[0] < 1.0  # record() never waited a connect timeout (3 s) or a retry
    # (a full garbage collection of the test process pauses it up to half a second)
    assert [p["step"] for p in train] == list(range(1, recorded[0] + 1))
    assert [p["step"] for p in test] == list(range(100, recorded[0] + 1, 100))
    assert store.get(RUN).step == recorded[0]
    recorder.close()
    store.close()


def test_past_its_bound_the_oldest_training_points_are_dropped_and_told(tmp_path, monkeypatch, caplog):
    store = RunStore(tmp_path / "runs.db")
    recorder = Recorder(store, tmp_path, bound=100)
    recorder.record(new_run())
    assert recorder.flush(10)
    trying, failing = threading.Event(), threading.Event()

    def disk_full(run_id, points):
        trying.set()
        failing.wait(10)
        raise OperationalError("INSERT INTO train", {}, sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(store, "add_train", disk_full)
    recorder.record(metrics(*range(1, 11)))
    assert trying.wait(10)  # steps 1 to 10 are being written, and the write hangs
    began = time.monotonic()
    for first in range(11, 301, 10):
        recorder.record(metrics(*range(first, first + 10)))  # waiting: 100 points, the newest
    assert time.monotonic() - began < 1.0  # record() does not wait for it
    failing.set()  # steps 1 to 10 failed and wait again: the oldest 10 of 110 go too
    deadline = time.monotonic() + 10
    while "steps 1 to 200" not in (recorder.problem or "") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert recorder.problem == (
        "the run database cannot be written (database or disk is full): 10 writes (100 training points) wait "
        "and are retried; the oldest training points past the bound of 100 were dropped "
        f"(200 of run {RUN}, steps 1 to 200)")
    monkeypatch.undo()
    assert recorder.flush(10) and recorder.problem is None
    assert [p["step"] for p in store.history(RUN)[0]] == list(range(201, 301))
    assert f"training points were dropped: 200 of run {RUN}, steps 1 to 200" in caplog.text
    recorder.close()
    store.close()
