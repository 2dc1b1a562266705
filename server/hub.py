"""Fans the worker's messages out to websocket clients, each through its own bounded mailbox.

As in python-websockets' broadcast guide: publishing never awaits a client; every client has
its own sender task. A client's mailbox holds at most MAX_MESSAGES text messages and one probe
frame (the newest replaces the last), and only the latest state and predictions. A client that
falls further behind loses its backlog and gets a fresh hello instead, which carries the whole
history, so it misses nothing and costs the server a bounded amount of memory.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from .mirror import RunMirror
from .protocol import MESSAGES, Error, State

MAX_MESSAGES = 200  # text messages waiting per client before it is resynced with a hello
STALL_SECONDS = 30.0  # a send that cannot complete for this long: the client stopped reading
LATEST_ONLY = frozenset({"state", "predictions"})  # a newer one makes the older worthless

Send = Callable[[str | bytes], Awaitable[None]]


class Client:
    """One websocket's mailbox and the task that empties it: hello first, then messages in order."""

    def __init__(self, send: Send, hello: Callable[[], str], frame: bytes | None = None) -> None:
        self.send, self.hello = send, hello
        self.messages: deque[tuple[str, str]] = deque()  # (type, JSON text)
        self.frame = frame
        self.resync = True  # the next thing sent is a fresh hello
        self.sending_since: float | None = None  # when the send under way began
        self.wake = asyncio.Event()
        self.wake.set()

    def put(self, kind: str, text: str) -> None:
        if kind in LATEST_ONLY:
            self.messages = deque(m for m in self.messages if m[0] != kind)
        if len(self.messages) >= MAX_MESSAGES:
            self.messages.clear()
            self.resync = True
        else:
            self.messages.append((kind, text))
        self.wake.set()

    def put_frame(self, frame: bytes) -> None:
        self.frame = frame
        self.wake.set()

    def next(self) -> str | bytes | None:
        """What to send now: a hello when resyncing, else the oldest message, else the frame."""
        if self.resync:
            self.resync = False
            self.messages.clear()  # the hello covers them
            return self.hello()
        if self.messages:
            return self.messages.popleft()[1]
        frame, self.frame = self.frame, None
        return frame

    async def run(self) -> None:
        """Send until cancelled (or until sending fails: the connection is gone)."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            while (item := self.next()) is not None:
                self.sending_since = time.monotonic()
                await self.send(item)
                self.sending_since = None

    async def stalled(self) -> None:
        """Returns once a send has waited STALL_SECONDS: the client stopped reading. Its connection
        should then be closed, freeing the kernel's buffers for it (megabytes, outside the mailbox)."""
        while self.sending_since is None or time.monotonic() - self.sending_since < STALL_SECONDS:
            await asyncio.sleep(STALL_SECONDS / 4)


class Hub:
    def __init__(self, mirror: RunMirror, on_viewers: Callable[[int], None] = lambda n: None) -> None:
        self.mirror = mirror
        self.on_viewers = on_viewers
        self.clients: set[Client] = set()
        self.elsewhere: Callable[[], int] = lambda: 0  # viewers on the other web servers of a split

    @property
    def viewers(self) -> int:
        """Everyone watching this run: here and on the other web servers."""
        return len(self.clients) + self.elsewhere()

    def publish(self, message: Any) -> None:
        """Apply a worker message to the mirror and queue it for every client (never waits)."""
        self.mirror.apply(message)
        if isinstance(message, bytes):
            for client in self.clients:
                client.put_frame(message)
        elif isinstance(message, MESSAGES):
            text = message.to_json()  # encoded once for everyone
            for client in self.clients:
                client.put(message.type, text)

    def worker_lost(self, message: str) -> None:
        """Tell everyone the worker died (it is being restarted)."""
        run = self.mirror.run.model_copy(update={"status": "error", "message": message,
                                                 "data_progress": None})
        self.publish(State(run=run))
        self.publish(Error(message=message))

    def resync(self) -> None:
        """Send every client a fresh hello (the mirror's history was replaced)."""
        for client in self.clients:
            client.messages.clear()
            client.resync = True
            client.wake.set()

    def connect(self, send: Send) -> Client:
        client = Client(send, lambda: self.mirror.hello().to_json(), self.mirror.frame)
        self.clients.add(client)
        self.on_viewers(len(self.clients))
        return client

    def disconnect(self, client: Client) -> None:
        self.clients.discard(client)
        self.on_viewers(len(self.clients))
