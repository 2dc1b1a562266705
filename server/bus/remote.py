"""A web server's end of the Redis bus: the trainer elsewhere, shaped like the embedded Worker.

    trainer = RemoteTrainer(url, on_event=hub.publish, on_crash=hub.worker_lost, on_snapshot=build)
    await trainer.start()                    # reads the snapshot, then follows the stream
    reply = await trainer.command("pause")   # WorkerUnavailable when no trainer answers in time
    await trainer.stop()

On its first contact with the broker it hands `on_snapshot` what a late web server needs (the
live run's ModelChanged, then its State, the newest blobs and the stream's messages since the
model changed); then every message read after those, in order, goes to `on_event`. The trainer's
heartbeat decides `alive`; losing it (or the broker) is reported once through `on_crash`, and
its return by the trainer's latest State. The web server's own heartbeat carries its viewers;
the others' total is `elsewhere`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import socket
import uuid
from collections.abc import Callable
from typing import Any

import redis
import redis.asyncio

from ..access import new_token
from ..messages import Command, CommandKind, Reply
from ..protocol import ModelChanged, State
from ..worker.process import WorkerUnavailable
from .broker import (COMMANDS, COMMANDS_KEPT, EVENTS, HEARTBEAT_EVERY, HEARTBEAT_TTL, LATEST_KINDS, MODEL, TOKEN,
                     TRAINER, Backoff, latest_key, log, replies_key, shown_url, web_key)
from .codec import BadEntry, decode, encode
from .source import _viewers

READ_BLOCK_MS = 1000  # how long one read of the streams waits for entries


class RemoteTrainer:
    def __init__(self, url: str, on_event: Callable[[Any], None], on_crash: Callable[[str], None],
                 on_snapshot: Callable[[ModelChanged | None, list[Any]], None], token: str | None = None) -> None:
        self.url, self.token = url, token  # the owner's token, put back on a broker that restarted empty
        self.redis = redis.asyncio.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=3)
        self.on_event, self.on_crash, self.on_snapshot = on_event, on_crash, on_snapshot
        self.id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.replies: dict[int, asyncio.Future[Reply]] = {}
        self.ids = itertools.count(1)
        self.viewers = 0  # this web server's
        self.elsewhere = 0  # the other web servers' viewers, summed
        self.trainer: str | None = None  # the live trainer's id; None: no heartbeat lately
        self.store_problem: str | None = None  # why the trainer cannot write the run store, if it cannot
        self.down: str | None = "no trainer has announced itself yet"  # what the pages were told, if anything
        self.last = {EVENTS: "0-0", replies_key(self.id): "0-0"}
        self.snapshot_taken = False
        self.tasks: list[asyncio.Task] = []
        self.closing = False

    @property
    def alive(self) -> bool:
        return self.trainer is not None

    async def start(self) -> None:
        self.tasks = [asyncio.create_task(self._read(), name="convscope-bus-read"),
                      asyncio.create_task(self._beat(), name="convscope-bus-beat")]

    async def stop(self) -> None:
        self.closing = True  # redis-py may turn a cancelled blocking read into a connection error
        for task in self.tasks:
            task.cancel()
        await asyncio.wait(self.tasks, timeout=2 * READ_BLOCK_MS / 1000)
        with contextlib.suppress(redis.RedisError, OSError):
            await self.redis.delete(web_key(self.id))
        await self.redis.aclose()

    async def command(self, kind: CommandKind, timeout: float = 30.0, **args: Any) -> Reply:
        """Send a command to the trainer and wait for its answer."""
        if not self.alive:
            raise WorkerUnavailable(f"no trainer is connected ({self.down}); try again in a moment")
        future = asyncio.get_running_loop().create_future()
        command = Command(next(self.ids), kind, args)
        self.replies[command.id] = future
        try:
            await self.redis.xadd(COMMANDS, {"sender": self.id, "c": encode(command)}, maxlen=COMMANDS_KEPT,
                                  approximate=True)
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:  # before OSError, of which it is a subclass
            raise WorkerUnavailable(f"the trainer did not answer within {timeout:g} s; try again in a moment") \
                from None
        except (redis.RedisError, OSError):
            raise WorkerUnavailable("the broker cannot be reached; try again in a moment") from None
        finally:
            self.replies.pop(command.id, None)

    def send(self, kind: CommandKind, **args: Any) -> None:
        """Send a command without waiting for its answer (lost if the broker is away)."""
        async def send() -> None:
            with contextlib.suppress(redis.RedisError, OSError):
                await self.redis.xadd(COMMANDS, {"sender": self.id, "c": encode(Command(next(self.ids), kind, args))},
                                      maxlen=COMMANDS_KEPT, approximate=True)
        task = asyncio.create_task(send())
        self.tasks = [t for t in self.tasks if not t.done()] + [task]

    def set_viewers(self, count: int) -> None:
        self.viewers = count  # the next heartbeat carries it

    # -- reading ------------------------------------------------------------------------------
    async def _read(self) -> None:
        backoff = Backoff()
        while not self.closing:
            try:
                if not self.snapshot_taken:
                    await self._snapshot()
                got = await self.redis.xread(self.last, block=READ_BLOCK_MS, count=500)
                backoff.succeeded(f"the broker {shown_url(self.url)} answers")
            except (redis.RedisError, OSError) as e:
                await asyncio.sleep(backoff.failed(f"the broker {shown_url(self.url)} does not answer", e))
                continue
            except Exception as e:  # the snapshot could not be applied (the store away): again later
                log.exception("convscope: the live run could not be shown")
                await asyncio.sleep(backoff.failed("the live run could not be shown", e))
                continue
            for stream, entries in got:
                stream = stream.decode()
                for entry_id, fields in entries:
                    self.last[stream] = entry_id.decode()
                    message = await self._message(stream, entry_id, fields)
                    if message is not None:
                        self._deliver(message)

    async def _snapshot(self) -> None:
        """The live run as a web server starting now must show it (see the module's docstring)."""
        model_entry = await self.redis.hgetall(MODEL)
        model = _decoded(model_entry.get(b"m"), "the live model")
        if not isinstance(model, ModelChanged):
            model = None
        start = model_entry.get(b"id", b"0-0").decode() if model else "0-0"
        messages = [m for kind in LATEST_KINDS
                    if (m := _decoded(await self.redis.get(latest_key(kind)), kind)) is not None]
        entries = await self.redis.xrange(EVENTS, min=f"({start}" if start != "0-0" else "-")
        last = (await self.redis.xrevrange(EVENTS, count=1)) if not entries else entries[-1:]
        for entry_id, fields in entries:
            if b"m" in fields and (message := _decoded(fields[b"m"], entry_id)) is not None:
                messages.append(message)
        self.last[EVENTS] = last[0][0].decode() if last else "0-0"
        self.on_snapshot(model, messages)
        self.snapshot_taken = True

    async def _message(self, stream: str, entry_id: bytes, fields: dict) -> Any:
        if stream != EVENTS:
            reply = _decoded(fields.get(b"r"), entry_id)
            if isinstance(reply, Reply) and (future := self.replies.get(reply.id)) and not future.done():
                future.set_result(reply)
            return None
        if b"m" in fields:
            return _decoded(fields[b"m"], entry_id)
        kind = fields.get(b"latest", b"").decode(errors="replace")
        if kind not in LATEST_KINDS:
            log.warning("convscope: skipped stream entry %s: no message and no known blob", entry_id)
            return None
        return _decoded(await self.redis.get(latest_key(kind)), kind)

    def _deliver(self, message: Any) -> None:
        if isinstance(message, Reply):
            log.warning("convscope: skipped a reply on the event stream")
            return
        try:
            self.on_event(message)
        except Exception:  # e.g. a resumed run's history while the store is away: the next message goes on
            log.exception("convscope: a %s from the trainer could not be applied", type(message).__name__)

    # -- heartbeats ---------------------------------------------------------------------------
    async def _beat(self) -> None:
        backoff = Backoff()
        while not self.closing:
            try:
                await self.redis.set(web_key(self.id), json.dumps({"viewers": self.viewers}),
                                     px=int(HEARTBEAT_TTL * 1000))
                if self.token:
                    await self.redis.set(TOKEN, self.token, nx=True)
                trainer = await self.redis.get(TRAINER)
                elsewhere = 0
                async for key in self.redis.scan_iter(match=web_key("*"), count=100):
                    if key.decode() != web_key(self.id):
                        elsewhere += _viewers(await self.redis.get(key))
                self.elsewhere = elsewhere
                backoff.succeeded(f"the broker {shown_url(self.url)} answers the heartbeat")
            except (redis.RedisError, OSError) as e:
                self._lost(f"the broker {shown_url(self.url)} cannot be reached; reconnecting")
                await asyncio.sleep(backoff.failed("the web server's heartbeat cannot reach the broker", e))
                continue
            beat = _heartbeat(trainer)
            self.store_problem = beat.get("problem") if isinstance(beat.get("problem"), str) else None
            await self._trainer_seen(beat["id"] if isinstance(beat.get("id"), str) else None)
            await asyncio.sleep(HEARTBEAT_EVERY)

    async def _trainer_seen(self, trainer: str | None) -> None:
        if trainer is None:
            self._lost(f"the trainer is down: no heartbeat for {HEARTBEAT_TTL:g} s")
            return
        self.trainer = trainer
        if self.down is not None and self.snapshot_taken:
            self.down = None
            state = _decoded(await self.redis.get(latest_key("state")), "state")
            if isinstance(state, State):
                self.on_event(state)  # its status replaces "down"; newer messages follow

    def _lost(self, why: str) -> None:
        self.trainer = None
        if self.down is None or (self.down != why and self.snapshot_taken):
            self.down = why
            self.on_crash(why)
            for future in self.replies.values():
                if not future.done():
                    future.set_exception(WorkerUnavailable(f"{why} before the trainer answered"))


def _decoded(data: bytes | None, what: Any) -> Any:
    """The message in `data`, or None (logged) when it is missing or malformed."""
    if data is None:
        return None
    try:
        return decode(data)
    except BadEntry as e:
        log.warning("convscope: skipped %s from the broker: %s", what, e)
        return None


def _heartbeat(beat: bytes | None) -> dict[str, Any]:
    """The trainer's heartbeat as a dict; {} when there is none or it is not JSON of an object."""
    try:
        value = json.loads(beat) if beat else {}
        return value if isinstance(value, dict) else {}
    except ValueError:
        return {}


async def shared_token(url: str, given: str | None) -> str:
    """The owner's token of every web server on this broker: the one given (which replaces any
    before it), else the first web server's random one. Waits for the broker, retrying."""
    client = redis.asyncio.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=3)
    backoff = Backoff(most=5.0)
    try:
        while True:
            try:
                if given:
                    await client.set(TOKEN, given)
                else:
                    await client.set(TOKEN, new_token(), nx=True)
                token = await client.get(TOKEN)
                backoff.succeeded("the broker answers")
                return token.decode()
            except (redis.RedisError, OSError) as e:
                await asyncio.sleep(backoff.failed(f"waiting for the broker {shown_url(url)}", e))
    finally:
        await client.aclose()
