"""The worker's end of the event queue: training never waits on it, and no metric is lost.

Messages wait in order in `pending` until the bounded queue has room. Metric points are
batched into one Metrics message per flush, at most every `interval` seconds. Probe frames go
out only when there is room right now; otherwise they are dropped (a newer one follows).
"""

from __future__ import annotations

import queue
import time
from collections import deque
from typing import Any

from ..protocol import MetricPoint, Metrics


class Outbox:
    def __init__(self, events: Any, interval: float = 0.1) -> None:
        self.events = events  # a multiprocessing.Queue with a maxsize
        self.interval = interval  # seconds between metric flushes
        self.pending: deque[Any] = deque()
        self.points: list[MetricPoint] = []
        self.last_flush = 0.0
        self.dropped_frames = 0

    def metric(self, point: MetricPoint) -> None:
        self.points.append(point)
        self.flush()

    def send(self, message: Any) -> None:
        """Queue a message that must arrive (after the metrics before it) and flush now."""
        self._batch_points()
        self.pending.append(message)
        self.flush(force=True)

    def frame(self, data: bytes) -> bool:
        """Send a probe frame if the queue has room; False when it was dropped."""
        try:
            self.events.put_nowait(data)
            return True
        except queue.Full:
            self.dropped_frames += 1
            return False

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_flush < self.interval:
            return
        self.last_flush = now
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
