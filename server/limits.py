"""Per-client rate limits, for classifying and for commands, with the `limits` library (limits.aio).

    app.state.limits = rate_limits(settings)      # create_app: Redis when settings.broker is given
    @router.post("/api/classify", dependencies=[limit("classify")])

A client (request.client.host: the direct peer, or the X-Forwarded-For of a trusted proxy, see
settings.forwarded_allow_ips) may make `burst` requests back to back, then about `per_minute` a
minute; past that it gets 429 with Retry-After, the whole seconds until its next request would pass.

The strategy: one moving window of `burst` requests in any `60 * burst / per_minute` seconds. The
token bucket this replaces (`burst` tokens, refilled at per_minute / 60 a second) lets at most
burst + rate * T requests through in any T seconds; the moving window lets at most
burst * ceil(T * rate / burst) <= burst + rate * T through: never more than the bucket did, the
whole burst back to back, and exactly `per_minute` a minute in the long run. Where they differ: a
client that spent its burst waits until its first request leaves the window (20 s with
classify's defaults) and then has its requests back as they leave, not one every 1 / rate s. Two
limits checked together ("burst a second" and "per_minute a minute") were the other choice, but
they let at most per_minute through back to back, and the settings allow burst > per_minute. The
window is whole seconds (the library's finest unit), rounded up: never more than the settings say.
A moving window keeps a timestamp per request and is exact, where the library's sliding window
counter estimates from two counters.

Memory: the library's memory storage keeps each client's timestamps within its window (a list of
at most about `burst`), and every hit starts (when none is running) a task that drops the
timestamps that left their window and the clients with none left. So it holds the clients seen in
the last window, `burst` timestamps at most each: bounded by the traffic of one window, not by a
count of addresses. In Redis each client is a list trimmed to `burst` on each hit that expires with
its window; every web server with the same broker and the same settings shares one budget per
client (the keys name the limit: replicas with other settings count apart). The timestamps are the
web servers' clocks (the library sends time.time()), so replicas' clocks should agree (NTP).

Redis unreachable: fail open. Requests pass unlimited rather than fail with 500: the limits guard
the CPU against abuse, and refusing every upload and command while the broker is away would make a
broker outage a site outage. One warning when it goes, one line when it answers again; after a
failure Redis is asked again only after RETRY s, so an outage costs a request at most one
REDIS_TIMEOUT per RETRY s. Logs name the broker without its user, password or query.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from fastapi import Depends
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool
from starlette.requests import HTTPConnection

from .bus.broker import shown_url
from .routes.errors import ApiError
from .settings import Settings

log = logging.getLogger("convscope.limits")

REDIS_TIMEOUT = 1.0  # seconds to connect to Redis, or to hear its answer, before failing open
RETRY = 5.0  # seconds after a Redis failure during which requests pass without asking it
KEY_PREFIX = "convscope:limits"  # Redis keys: convscope:limits:LIMITER/classify/203.0.113.7/20/20/second
SCHEMES = {"redis": "async+redis", "rediss": "async+rediss"}  # broker URL -> the library's async Redis
WHAT = {"classify": "classifications", "commands": "commands"}

T = TypeVar("T")


def redis_storage(broker: str) -> tuple[RedisStorage, ConnectionPool]:
    """The library's async Redis storage (through redis-py) for a redis:// or rediss:// (TLS) URL, and
    its connections, which the caller closes."""
    scheme, sep, rest = broker.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        raise ValueError(f"the broker must be a redis:// or rediss:// URL, not {shown_url(broker)}")
    pool = ConnectionPool.from_url(broker, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT)
    storage = RedisStorage(f"{SCHEMES[scheme.lower()]}://{rest}", implementation="redispy", wrap_exceptions=True,
                           key_prefix=KEY_PREFIX, connection_pool=pool)
    return storage, pool


@dataclass
class LimitStorage:
    """Where the counts are kept (this process's memory, or Redis), and whether it answers."""

    storage: Storage
    where: str = "memory"  # for logs: shown_url(broker)
    secret: str | None = None  # the URL's password, scrubbed from any error message that is logged
    retry: float = RETRY
    down_until: float | None = None  # time.monotonic() until which Redis is not asked; None: it answers
    pool: ConnectionPool | None = None  # Redis's connections

    @classmethod
    def at(cls, broker: str | None) -> LimitStorage:
        if broker is None:
            return cls(MemoryStorage())
        storage, pool = redis_storage(broker)
        return cls(storage, shown_url(broker), urlsplit(broker).password, pool=pool)

    async def close(self) -> None:
        """Close the connections to Redis (a later request opens new ones)."""
        if self.pool is not None:
            await self.pool.aclose()

    async def ask(self, call: Callable[[], Awaitable[T]]) -> T | None:
        """call()'s answer, or None (let the request pass) while the storage cannot be reached."""
        if self.down_until is not None and time.monotonic() < self.down_until:
            return None
        try:
            answer = await call()
        except StorageError as e:
            if self.down_until is None:
                problem = f"{type(e.storage_error).__name__}: {e.storage_error}"
                if self.secret:
                    problem = problem.replace(self.secret, "***")
                log.warning("convscope: the rate limits cannot reach %s (%s); requests pass unlimited until it "
                            "answers", self.where, problem)
            self.down_until = time.monotonic() + self.retry
            return None
        if self.down_until is not None:
            log.warning("convscope: the rate limits reach %s again", self.where)
            self.down_until = None
        return answer


@dataclass
class RateLimit:
    """`burst` requests per client in any `window` seconds (60 * burst / per_minute, rounded up)."""

    kind: str  # "classify" or "commands": part of each client's key
    per_minute: float  # sustained requests per client per minute
    burst: int  # requests a client may make back to back
    counts: LimitStorage = field(default_factory=lambda: LimitStorage(MemoryStorage()))
    item: RateLimitItem = field(init=False)
    strategy: MovingWindowRateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.item = RateLimitItemPerSecond(self.burst, self.window)
        self.strategy = MovingWindowRateLimiter(self.counts.storage)

    @property
    def window(self) -> int:
        return max(1, math.ceil(60 * self.burst / self.per_minute - 1e-9))

    async def take(self, client: str) -> float:
        """Spend one request for `client`: 0.0 if allowed, else the seconds until one would be."""
        if await self.counts.ask(lambda: self.strategy.hit(self.item, self.kind, client)) is not False:
            return 0.0  # allowed, or the storage is away
        stats = await self.counts.ask(lambda: self.strategy.get_window_stats(self.item, self.kind, client))
        return max(stats.reset_time - time.time(), 1e-3) if stats else 1e-3


def rate_limits(settings: Settings) -> dict[str, RateLimit]:
    """app.state.limits: each kind's limit, counted in Redis when a broker is given, else in memory."""
    counts = LimitStorage.at(settings.broker)
    return {"classify": RateLimit("classify", settings.classify_per_minute, settings.classify_burst, counts),
            "commands": RateLimit("commands", settings.commands_per_minute, settings.commands_burst, counts)}


def limit(kind: str):
    """A dependency that spends one of this client's `kind` requests (app.state.limits[kind])."""

    async def check(conn: HTTPConnection) -> None:
        client = conn.client.host if conn.client else "unknown"
        wait = await conn.app.state.limits[kind].take(client)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise ApiError(429, f"too many {WHAT[kind]} from your address: wait {seconds} s and try again",
                           headers={"Retry-After": str(seconds)})

    return Depends(check)
