"""What lives on the broker (Redis), named once, for the trainer's end and the web servers' end.

    convscope:events            stream: every ordered message (protocol messages, Saved, TestPredictions)
                                as {"m": entry}, and {"latest": kind} when a newest-only blob was replaced
    convscope:latest:<kind>     newest-only blobs: frame, weights, features, testset, trainset; and state
    convscope:latest:model      hash {id, m}: the live run's ModelChanged and its id on the stream
    convscope:commands          stream of {"sender", "c"}: commands from web servers
    convscope:replies:<sender>  stream of {"r"}: the trainer's replies to one web server
    convscope:trainer           the trainer's heartbeat (JSON), expiring after HEARTBEAT_TTL
    convscope:web:<sender>      each web server's heartbeat: {"viewers": n}, expiring likewise
    convscope:token             the owner's token, set once by the first web server

Entries are server/bus/codec.py's bytes, validated on the way in; one convscope run per Redis
database (pick it with the URL's /N).
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

EVENTS = "convscope:events"
COMMANDS = "convscope:commands"
MODEL = "convscope:latest:model"
TRAINER = "convscope:trainer"
TOKEN = "convscope:token"
EVENTS_KEPT = 20_000  # stream entries kept (about half an hour of a run's metrics, 10 a second)
COMMANDS_KEPT = 1_000
REPLIES_KEPT = 100
REPLIES_TTL = 60  # seconds a web server's reply stream outlives its last reply
HEARTBEAT_EVERY = 1.0  # seconds between heartbeats
HEARTBEAT_TTL = 3.0  # seconds after the last heartbeat when its sender counts as gone
LATEST_KINDS = ("frame", "weights", "features", "testset", "trainset", "test_predictions", "state")

log = logging.getLogger("convscope.bus")


def latest_key(kind: str) -> str:
    return f"convscope:latest:{kind}"


def replies_key(sender: str) -> str:
    return f"convscope:replies:{sender}"


def web_key(sender: str) -> str:
    return f"convscope:web:{sender}"


def shown_url(url: str) -> str:
    """A broker or database URL as logs may show it: scheme, host, port and path, never user,
    password or query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a number: say nothing of it
        port = ""
    return f"{parts.scheme}://{f'[{host}]' if ':' in host else host}{port}{parts.path}"


class Backoff:
    """Seconds to wait before the next try: 0.1, 0.2, 0.4 ... up to `most`; reset on success."""

    def __init__(self, first: float = 0.1, most: float = 2.0) -> None:
        self.first, self.most, self.next = first, most, first
        self.down_since: float | None = None  # monotonic time of the first failure in a row

    def failed(self, what: str, error: Exception) -> float:
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning("convscope: %s: %s; retrying", what, error)
        wait, self.next = self.next, min(self.most, self.next * 2)
        return wait

    def succeeded(self, what: str) -> None:
        if self.down_since is not None:
            log.warning("convscope: %s again after %.1f s", what, time.monotonic() - self.down_since)
        self.next, self.down_since = self.first, None
