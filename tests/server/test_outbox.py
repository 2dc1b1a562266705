"""The worker's outbox: metrics batched and never dropped, frames dropped when the queue is full."""

from __future__ import annotations

import queue
import threading
import time

from convscope.protocol import MetricPoint, Metrics, State, RunState
from convscope.worker.outbox import Outbox


def point(step: int) -> MetricPoint:
    return MetricPoint(step=step, epoch=0.0, loss=1.0, accuracy=0.5, lr=0.1, batch_size=32,
                       images_per_second=1000.0, seconds=0.0, time=0.0)


def drain(events: queue.Queue) -> list:
    out = []
    while not events.empty():
        out.append(events.get_nowait())
    return out


def test_metrics_are_batched_and_survive_a_full_queue_while_frames_are_dropped():
    events: queue.Queue = queue.Queue(maxsize=2)
    outbox = Outbox(events)
    for step in (1, 2):
        outbox.metric(point(step))
        outbox.flush()  # the queue is now full: 2 messages
    for step in range(3, 100):
        outbox.metric(point(step))
        outbox.flush()
    assert outbox.frame(b"probe") is False and outbox.dropped_frames == 1
    outbox.send(State(run=RunState(status="paused", model="m", config={})))
    got = drain(events)
    outbox.flush()
    got += drain(events)
    outbox.flush()
    got += drain(events)
    steps = [p.step for m in got if isinstance(m, Metrics) for p in m.points]
    assert steps == list(range(1, 100))
    assert isinstance(got[-1], State)  # after the metrics that came before it
    assert len(got) == 4  # steps 3..99 went out as one message
    assert outbox.frame(b"probe") is True


def receive_until(events: queue.Queue, last_step: int, seconds: float = 10.0) -> list[Metrics]:
    """The Metrics messages the queue receives until one holds `last_step` (nobody else flushes)."""
    got: list[Metrics] = []
    deadline = time.monotonic() + seconds
    while not any(p.step == last_step for m in got for p in m.points):
        assert time.monotonic() < deadline, f"the flusher thread never sent step {last_step}: {got}"
        got += drain(events)
        time.sleep(0.01)
    return got


def test_the_flusher_thread_sends_metrics_in_batches_while_training_is_busy():
    events: queue.Queue = queue.Queue(maxsize=100)
    outbox = Outbox(events, interval=0.05)
    for step in range(1, 50):
        outbox.metric(point(step))
    assert events.empty()  # nothing is sent from the training thread
    outbox.start()
    try:
        # from here the test only adds points: the flusher thread alone can send them
        first = receive_until(events, 49)
        assert [[p.step for p in m.points] for m in first] == [list(range(1, 50))]  # one batch
        for step in range(50, 60):  # added while it runs: sent by its next flush or two
            outbox.metric(point(step))
        second = receive_until(events, 59)
        assert [p.step for m in second for p in m.points] == list(range(50, 60)) and len(second) <= 2
        assert any(t.name == "outbox" and t.is_alive() for t in threading.enumerate())
    finally:
        outbox.close()
    deadline = time.monotonic() + 5
    while any(t.name == "outbox" for t in threading.enumerate()):  # close() ends the thread
        assert time.monotonic() < deadline, "the flusher thread outlived close()"
        time.sleep(0.01)
