"""Per-client rate limits: a token bucket per client address, for classifying and for commands.

A client may make `burst` requests at once, then one every 60 / per_minute seconds; past that it
gets 429 with Retry-After (seconds until its next request would pass). Buckets are kept for at
most MAX_CLIENTS addresses (the fullest, i.e. idlest, are forgotten first), so memory stays
bounded whatever the number of clients.

    @router.post("/api/classify", dependencies=[limit("classify")])
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Depends
from starlette.requests import HTTPConnection

from .routes.errors import ApiError

MAX_CLIENTS = 10_000  # buckets remembered at once


@dataclass
class RateLimiter:
    per_minute: float  # sustained requests per client per minute
    burst: int  # requests a client may make back to back
    clock: Callable[[], float] = time.monotonic
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # client: (tokens, when)

    def take(self, client: str) -> float:
        """Spend one request for `client`: 0.0 if allowed, else the seconds until it would be."""
        now, rate = self.clock(), self.per_minute / 60.0
        tokens, when = self.buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - when) * rate)
        if tokens >= 1.0:
            self.buckets[client] = (tokens - 1.0, now)
            if len(self.buckets) > MAX_CLIENTS:
                self.forget_idle(now)
            return 0.0
        self.buckets[client] = (tokens, now)
        return (1.0 - tokens) / rate

    def forget_idle(self, now: float) -> None:
        """Drop the buckets that have refilled (their clients are as new), else the oldest half."""
        rate = self.per_minute / 60.0
        full = [c for c, (t, w) in self.buckets.items() if t + (now - w) * rate >= self.burst]
        for client in full or sorted(self.buckets, key=lambda c: self.buckets[c][1])[: len(self.buckets) // 2]:
            del self.buckets[client]


WHAT = {"classify": "classifications", "commands": "commands"}


def limit(kind: str):
    """A dependency that spends one of this client's `kind` requests (app.state.limits[kind])."""

    def check(conn: HTTPConnection) -> None:
        client = conn.client.host if conn.client else "unknown"
        wait = conn.app.state.limits[kind].take(client)
        if wait > 0:
            seconds = math.ceil(wait)
            raise ApiError(429, f"too many {WHAT[kind]} from your address: wait {seconds} s and try again",
                           headers={"Retry-After": str(seconds)})

    return Depends(check)

