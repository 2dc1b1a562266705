"""Progress reporting: a tqdm bar on stderr, or the caller's callback throttled to ~10 calls/s."""
from __future__ import annotations

import sys
import time
from typing import Callable

from tqdm import tqdm

Progress = Callable[[str, int, int], None]
"""(stage, done, total), e.g. ("decoding train images", 1200, 50000); total is 0 when unknown."""

_BYTE_STAGES = ("downloading", "extracting")  # stages that count bytes, not items


class TqdmProgress:
    """One tqdm bar per stage on stderr."""

    def __init__(self) -> None:
        self._stage: str | None = None
        self._bar: tqdm | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            self.close()
            in_bytes = stage.startswith(_BYTE_STAGES)
            self._stage = stage
            self._bar = tqdm(total=total or None, desc=stage, file=sys.stderr,
                             unit="B" if in_bytes else "img", unit_scale=in_bytes)
        if self._bar is not None:
            self._bar.update(done - self._bar.n)
            if 0 < total <= done:
                self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class Throttled:
    """Passes calls to `callback` at most every `interval` s, plus every stage's first and last."""

    def __init__(self, callback: Progress, interval: float = 0.1) -> None:
        self.callback, self.interval = callback, interval
        self._stage: str | None = None
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        last_call = 0 < total <= done
        if stage == self._stage and now - self._last < self.interval and not last_call:
            return
        self._stage, self._last = stage, now
        self.callback(stage, done, total)


def reporter(progress: Progress | None) -> Progress:
    """What to report through: a tqdm bar for None, else `progress` throttled (once)."""
    if progress is None:
        return TqdmProgress()
    return progress if isinstance(progress, (Throttled, TqdmProgress)) else Throttled(progress)
