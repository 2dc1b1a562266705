"""The worker's outbox: metrics batched and never dropped, frames dropped when the queue is full."""

from __future__ import annotations

import queue

from server.protocol import MetricPoint, Metrics, State, RunState
from server.worker.outbox import Outbox


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
    outbox = Outbox(events, interval=0.0)
    outbox.metric(point(1))
    outbox.metric(point(2))  # the queue is now full: 2 messages
    for step in range(3, 100):
        outbox.metric(point(step))
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


def test_metrics_flush_at_most_once_per_interval():
    events: queue.Queue = queue.Queue(maxsize=100)
    outbox = Outbox(events, interval=60.0)
    for step in range(1, 50):
        outbox.metric(point(step))
    assert len(drain(events)) == 1  # the first flush; the rest wait for the interval
    outbox.flush(force=True)
    assert [len(m.points) for m in drain(events)] == [48]
