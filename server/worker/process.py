"""The server's handle on the worker process: spawn it, send it commands, restart it if it dies.

    worker = Worker(options, on_event=hub.publish, on_crash=hub.worker_lost)
    await worker.start()
    reply = await worker.command("pause")      # a Reply: did it take effect, and the run's state
    await worker.stop()

Commands go in over one queue; events (protocol messages, probe frames, replies) come out over a
bounded one, read by a supervisor task that also notices when the process has died.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import multiprocessing
import queue
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..protocol import Metrics
from ..runs import checkpoint_path
from ..messages import Command, CommandKind, Reply
from .session import WorkerOptions, main

log = logging.getLogger("convscope.worker")

EVENT_QUEUE_SIZE = 32  # events in flight from the worker; the worker keeps the rest pending
COMMAND_QUEUE_SIZE = 64
READ_TIMEOUT = 0.2  # seconds the reader waits for an event before checking the process
STOP_TIMEOUT = 5.0  # seconds a stopping worker gets before it is terminated
QUICK_DEATH = 30.0  # a worker that dies sooner than this, before training a step, restarts after a growing delay


class WorkerUnavailable(Exception):
    """The worker cannot answer now (restarting, stopped, busy or too slow); says why."""


class QueueEnd:
    """The server's end of a source's two queues: commands sent (their replies awaited), events read.

    A source (the worker process, or a loop watched in this process: server/watched/) reads
    Commands from `commands` and puts protocol messages, probe frames and Replies on `events`."""

    what = "the training worker"  # what the source is called in what people are told

    def __init__(self, on_event: Callable[[Any], None]) -> None:
        self.on_event = on_event
        self.commands: Any = None
        self.events: Any = None
        self.replies: dict[int, asyncio.Future[Reply]] = {}
        self.ids = itertools.count(1)
        self.viewers = 0

    @property
    def alive(self) -> bool:
        raise NotImplementedError

    @property
    def gone(self) -> str:
        """Why commands cannot be sent while it is not alive."""
        return f"{self.what} is restarting; try again in a moment"

    async def command(self, kind: CommandKind, timeout: float = 30.0, **args: Any) -> Reply:
        """Send a command and wait for the source's answer."""
        if not self.alive:
            raise WorkerUnavailable(self.gone)
        future = asyncio.get_running_loop().create_future()
        command = Command(next(self.ids), kind, args)
        self.replies[command.id] = future
        try:
            self.commands.put_nowait(command)
            return await asyncio.wait_for(future, timeout)
        except queue.Full:
            raise WorkerUnavailable(f"{self.what} has too many commands waiting; "
                                    "try again in a moment") from None
        except TimeoutError:
            raise WorkerUnavailable(f"{self.what} did not answer within {timeout:g} s; "
                                    "try again in a moment") from None
        finally:
            self.replies.pop(command.id, None)

    def send(self, kind: CommandKind, **args: Any) -> None:
        """Send a command without waiting for its answer (dropped if the queue is full)."""
        try:
            self.commands.put_nowait(Command(next(self.ids), kind, args))
        except queue.Full:
            pass

    def set_viewers(self, count: int) -> None:
        """Tell the source how many clients watch: it probes only while someone does."""
        self.viewers = count
        if self.alive:
            self.send("viewers", count=count)

    def _dispatch(self, event: Any) -> None:
        if isinstance(event, Reply):
            future = self.replies.get(event.id)
            if future is not None and not future.done():
                future.set_result(event)
        else:
            self.on_event(event)

    def _fail_replies(self, why: str) -> None:
        for future in self.replies.values():
            if not future.done():
                future.set_exception(WorkerUnavailable(why))


class Worker(QueueEnd):
    def __init__(self, options: WorkerOptions, on_event: Callable[[Any], None],
                 on_crash: Callable[[str], None]) -> None:
        super().__init__(on_event)
        self.options, self.on_crash = options, on_crash
        self.resume = options.resume  # the run a restarted worker goes on with (set as runs change)
        self.context = multiprocessing.get_context("spawn")
        self.process: Any = None
        self.quick_deaths = 0
        self.started_at = 0.0
        self.trained = False  # the worker now running has trained a step
        self.stopping = False
        self.supervisor: asyncio.Task | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    async def start(self) -> None:
        self._spawn()
        self.supervisor = asyncio.create_task(self._supervise(), name="convscope-worker-supervisor")

    async def stop(self) -> None:
        """Ask the worker to stop; terminate it if it does not within STOP_TIMEOUT."""
        self.stopping = True
        if self.alive:
            self.send("stop")
            await asyncio.to_thread(self.process.join, STOP_TIMEOUT)
        if self.alive:
            self.process.terminate()
            await asyncio.to_thread(self.process.join, 2.0)
        if self.alive:
            self.process.kill()
        if self.supervisor:
            await self.supervisor
        self.commands = self.events = None  # frees their semaphores now, not at a signal's exit

    def _spawn(self) -> None:
        self.commands = self.context.Queue(COMMAND_QUEUE_SIZE)
        self.events = self.context.Queue(EVENT_QUEUE_SIZE)
        options = dataclasses.replace(self.options, resume=self.resume)
        self.process = self.context.Process(target=main, args=(options, self.commands, self.events),
                                            name="convscope-worker", daemon=True)
        self.process.start()
        self.started_at, self.trained = time.monotonic(), False
        if self.viewers:
            self.send("viewers", count=self.viewers)

    async def _supervise(self) -> None:
        while True:
            events = await asyncio.to_thread(_read, self.events)
            for event in events:
                self._dispatch(event)
            if events or self.process.is_alive():
                continue
            if self.stopping:
                return
            await self._restart()

    def _dispatch(self, event: Any) -> None:
        self.trained |= isinstance(event, Metrics)
        super()._dispatch(event)

    async def _restart(self) -> None:
        code = self.process.exitcode
        how = f"signal {signal.Signals(-code).name}" if code and code < 0 else f"exit code {code}"
        saved = (self.options.runs_dir and self.resume
                 and checkpoint_path(Path(self.options.runs_dir), self.resume).exists())
        then = "restarting it from the run's last checkpoint" if saved else "starting a fresh run"
        self.on_crash(f"the training worker stopped unexpectedly ({how}); {then}")
        self._fail_replies("the training worker stopped before answering")
        self.commands.cancel_join_thread()  # its reader is gone: never wait to flush it
        lived = time.monotonic() - self.started_at
        crash_loop = lived < QUICK_DEATH and not self.trained  # a worker that trained on was killed from outside
        self.quick_deaths = self.quick_deaths + 1 if crash_loop else 0
        await asyncio.sleep(min(30.0, 0.5 * 2 ** self.quick_deaths) if self.quick_deaths else 0.0)
        if not self.stopping:
            self._spawn()


def _read(events: Any, limit: int = 100) -> list[Any]:
    """Up to `limit` events: waits READ_TIMEOUT for the first, then takes what is there."""
    got: list[Any] = []
    while len(got) < limit:
        try:
            got.append(events.get_nowait() if got else events.get(timeout=READ_TIMEOUT))
        except queue.Empty:
            break
        except (OSError, EOFError) as e:  # sent by a worker that died before it was read: its tensors are gone
            log.warning("convscope: an event from a training worker that stopped could not be read: %s", e)
            break
    return got
