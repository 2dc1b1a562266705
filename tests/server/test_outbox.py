"""The worker's outbox: metrics batched and never dropped, frames dropped when the queue is full."""

from __future__ import annotations

import queue
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


def test_the_flusher_thread_sends_metrics_in_batches_while_training_is_busy():
    events: queue.Queue = queue.Queue(maxsize=100)
    outbox = Outbox(events, interval=0.05)
    for step in range(1, 50):
        outbox.metric(point(step))
    assert events.empty()  # nothing is sent from the training thread
    outbox.start()
    time.sleep(0.3)
    outbox.close()
    assert [len(m.points) for m in drain(events)] == [49]
