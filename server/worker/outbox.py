"""The worker's end of the event queue: training never waits on it, and no metric is lost.

Messages wait in order in `pending` until the bounded queue has room. Metric points are
batched into one Metrics message per flush; a flusher thread flushes every `interval` seconds,
so points go out on time even while the training thread is busy (a long step, an evaluation).
Probe frames go out only when there is room right now; otherwise they are dropped (a newer one
follows).
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from typing import Any

from ..protocol import MetricPoint, Metrics


class Outbox:
    def __init__(self, events: Any, interval: float = 0.1) -> None:
        self.events = events  # a multiprocessing.Queue with a maxsize
        self.interval = interval  # seconds between flushes of metrics
        self.pending: deque[Any] = deque()
        self.points: list[MetricPoint] = []
        self.dropped_frames = 0
        self.lock = threading.Lock()  # the training thread adds, the flusher thread sends
        self.closed = threading.Event()

    def start(self) -> None:
        """Flush every `interval` seconds from a thread of its own, until close()."""
        threading.Thread(target=self._flush_periodically, name="outbox", daemon=True).start()

    def close(self) -> None:
        self.closed.set()
        self.flush()

    def metric(self, point: MetricPoint) -> None:
        with self.lock:
            self.points.append(point)

    def metrics(self, points: list[MetricPoint]) -> None:
        with self.lock:
            self.points.extend(points)

    def send(self, message: Any) -> None:
        """Queue a message that must arrive (after the metrics before it) and flush now."""
        with self.lock:
            self._batch_points()
            self.pending.append(message)
        self.flush()

    def frame(self, data: bytes) -> bool:
        """Send a probe frame if the queue has room; False when it was dropped."""
        try:
            self.events.put_nowait(data)
            return True
        except queue.Full:
            self.dropped_frames += 1
            return False

    def flush(self) -> None:
        """Put what waits on the queue, in order, as far as it has room."""
        with self.lock:
            self._batch_points()
            while self.pending:
                try:
                    self.events.put_nowait(self.pending[0])
                except queue.Full:
                    return  # the rest waits for the next flush
                self.pending.popleft()

    def _batch_points(self) -> None:
        if not self.points:
            return
        last = self.pending[-1] if self.pending else None
        if isinstance(last, Metrics):  # still waiting for room: grow it instead
            last.points.extend(self.points)
        else:
            self.pending.append(Metrics(points=self.points))
        self.points = []

    def _flush_periodically(self) -> None:
        while not self.closed.wait(self.interval):
            self.flush()
