"""The page for the runs watched in this process: convscope's web app in a thread of its own.

    page = LocalPage.start(settings)     # once per process; later watches join it
    page.release()                       # the run shown before is over
    page.watch = watch                   # the run the page shows now
    page.url, page.owner_url             # the owner's address sets the token: pause and change from it

uvicorn runs in a daemon thread with its own event loop, so it works the same in a script, under
torchrun (rank 0 only) and in Jupyter, whose kernel already runs a loop in the main thread. The
app and the watched loop meet at two thread-safe queues (a QueueEnd, as for the worker process).
The port asked for is tried first; if it is taken the page says so and takes a free one.
"""

from __future__ import annotations

import asyncio
import atexit
import errno
import logging
import queue
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from ..settings import Settings
from ..worker.process import COMMAND_QUEUE_SIZE, EVENT_QUEUE_SIZE, QueueEnd, _read

if TYPE_CHECKING:
    from .session import Watch

log = logging.getLogger("convscope.watch")

START_TIMEOUT = 30.0  # seconds the server gets to start listening


class LocalEnd(QueueEnd):
    """The app's end: the events of whichever watch is attached, and commands to it."""

    what = "the watched training loop"

    def __init__(self, page: "LocalPage", on_event: Callable[[Any], None]) -> None:
        super().__init__(on_event)
        self.page = page
        self.commands, self.events = page.commands, page.events
        self.reader: threading.Thread | None = None
        self.reading = False

    @property
    def alive(self) -> bool:
        watch = self.page.watch
        return watch is not None and not watch.closed.is_set()

    @property
    def gone(self) -> str:
        return f"{self.what} has ended: its script closed the run"

    async def start(self) -> None:
        """Read the events in a thread of its own (not the loop's executor, which is shut down
        before the interpreter's exit handlers run: the run's last events are read then too)."""
        loop = asyncio.get_running_loop()
        self.reading = True
        self.reader = threading.Thread(target=self._read_events, args=(loop,), name="convscope-watch-reader",
                                       daemon=True)
        self.reader.start()

    async def stop(self) -> None:
        self.reading = False

    def _read_events(self, loop: asyncio.AbstractEventLoop) -> None:
        while self.reading:
            events = _read(self.events)
            try:
                if events:
                    loop.call_soon_threadsafe(self._dispatch_all, events)
                elif not self.alive:
                    loop.call_soon_threadsafe(self._fail_replies, self.gone)
            except RuntimeError:  # the loop has closed: the server is gone
                return

    def _dispatch_all(self, events: list[Any]) -> None:
        for event in events:
            self._dispatch(event)


class LocalPage:
    """One per process: the server, its queues and the watch it shows."""

    current: "LocalPage | None" = None

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.events: queue.Queue[Any] = queue.Queue(EVENT_QUEUE_SIZE)
        self.commands: queue.Queue[Any] = queue.Queue(COMMAND_QUEUE_SIZE)
        self.watch: "Watch | None" = None
        self.server: Any = None
        self.port = 0

    @classmethod
    def start(cls, settings: Settings) -> "LocalPage":
        """The page of this process, started on first use (later calls return it as it is)."""
        if cls.current is None or not cls.current.serving:
            page = cls(settings)
            page._serve()
            atexit.register(page.release_and_stop)  # before the daemon threads die: the run's end is written
            cls.current = page
        return cls.current

    @property
    def serving(self) -> bool:
        return self.server is not None and self.server.started and not self.server.should_exit

    @property
    def url(self) -> str:
        host = self.settings.host
        host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/"

    @property
    def owner_url(self) -> str:
        return f"{self.url}?token={self.app.state.settings.token}"

    def release(self) -> None:
        """Close the watch shown so far (a new one follows), and forget the commands sent to it."""
        before, self.watch = self.watch, None
        if before is not None:
            before.close()
        while True:
            try:
                self.commands.get_nowait()
            except queue.Empty:
                break

    def release_and_stop(self) -> None:
        """The process ends: its run is over, and the page stops once the run database is written."""
        self.release()
        self.stop()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving (its run database written first)."""
        deadline = time.monotonic() + timeout  # what the last run sent is read (and recorded) first
        while not self.events.empty() and self.serving and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)  # and handed to the event loop
        if self.server is not None:
            self.server.should_exit = True
            self.thread.join(timeout)
        atexit.unregister(self.release_and_stop)
        if LocalPage.current is self:
            LocalPage.current = None

    def _serve(self) -> None:
        import uvicorn

        from ..app import create_app

        sock = self._bind()
        self.port = sock.getsockname()[1]
        self.app = create_app(self.settings, role="watch", page=self)
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", ws_per_message_deflate=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       name="convscope-page", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"convscope.watch: the page's server did not start on port {self.port} "
                                   "(its log above says why)")
            time.sleep(0.02)

    def _bind(self) -> socket.socket:
        """A listening socket on the port asked for, or on a free one if it is taken."""
        host, port = self.settings.host, self.settings.port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        for attempt in (port, 0):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, attempt))
            except OSError as e:
                sock.close()
                if e.errno != errno.EADDRINUSE or attempt == 0:
                    raise
                log.warning("convscope.watch: port %d is taken (another program, or another convscope); "
                            "the page takes a free port instead", port)
                continue
            sock.listen(128)
            sock.set_inheritable(True)
            return sock
        raise AssertionError("unreachable")
