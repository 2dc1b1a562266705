"""The trainer's end of the Redis bus: the Session's two queues, bridged to the broker by threads.

    link = TrainerLink("redis://host:6379/0", record=recorder.record)
    Session(options, link.commands, Outbox(link.events)).run()    # as in the embedded worker
    link.close()

- events: what the Session sends is recorded (the run store), then sent on in order. While the
  broker is away it waits in `unsent` (metrics merged into one message; newest-only blobs kept
  once), so the gap's metrics arrive afterwards; past MAX_UNSENT entries the oldest are dropped,
  counted and logged. Newest-only blobs are SET under their key, then announced on the stream.
- commands: read from the commands stream; one from a sender without a live heartbeat, of a kind
  web servers may not send, or malformed, is logged and skipped. Each gets a local id; its Reply
  goes back to the sender's reply stream.
- heartbeat: every HEARTBEAT_EVERY seconds (with what keeps the run store from being written, if
  anything), with the viewers of all web servers summed into a
  `viewers` command when the total changes.
"""

from __future__ import annotations

import json
import itertools
import os
import queue
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, get_args

import redis

from ..messages import Command, CommandKind, Reply, TestPredictions, TestSet, TrainFeatures, TrainSet, Weights
from ..protocol import Metrics, ModelChanged, State
from .broker import (COMMANDS, EVENTS, EVENTS_KEPT, HEARTBEAT_EVERY, HEARTBEAT_TTL, MODEL, REPLIES_KEPT,
                     REPLIES_TTL, TRAINER, Backoff, latest_key, log, replies_key, web_key)
from .codec import BadEntry, decode, encode

EVENT_QUEUE_SIZE = 32  # as the embedded worker's: the Outbox keeps the rest pending
MAX_UNSENT = 100_000  # messages kept for the broker while it is away
REMOTE_KINDS = frozenset(get_args(CommandKind)) - {"stop", "viewers"}  # stop is the trainer's own signal
BLOB_KINDS: dict[type, str] = {bytes: "frame", Weights: "weights", TrainFeatures: "features", TestSet: "testset",
                               TrainSet: "trainset", TestPredictions: "test_predictions"}


class TrainerLink:
    def __init__(self, url: str, record: Callable[[Any], None] = lambda message: None,
                 store_problem: Callable[[], str | None] = lambda: None) -> None:
        self.redis = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=3)
        self.record, self.store_problem = record, store_problem  # the heartbeat carries the recorder's trouble
        self.commands: queue.Queue[Command] = queue.Queue()
        self.events: queue.Queue[Any] = queue.Queue(EVENT_QUEUE_SIZE)
        self.id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.started = time.time()
        self.unsent: deque[Any] = deque()
        self.dropped = 0  # unsent messages dropped past MAX_UNSENT
        self.latest: dict[str, Any] = {}  # kind: the newest blob, and the live run's ModelChanged and State
        self.changed: set[str] = set()  # blobs replaced since they were last SET
        self.senders: dict[int, tuple[str, int]] = {}  # local command id: (web server, its id)
        self.ids = itertools.count(1)
        self.viewers = 0
        self.closed = threading.Event()
        self.lock = threading.Lock()  # the pump and the broker's recovery both touch latest/unsent
        self.threads = [threading.Thread(target=f, name=f"bus-{f.__name__}", daemon=True)
                        for f in (self._pump, self._listen, self._beat)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Send what waits (for up to `timeout` seconds), stop the heartbeat, and stop."""
        deadline = time.monotonic() + timeout
        while (self.unsent or not self.events.empty()) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.closed.set()
        for thread in self.threads:
            thread.join(timeout=2.0)
        try:
            self.redis.delete(TRAINER)
        except redis.RedisError:
            pass

    # -- events -------------------------------------------------------------------------------
    def _pump(self) -> None:
        backoff = Backoff()
        while not self.closed.is_set() or not self.events.empty():
            try:
                self._take(self.events.get(timeout=0.05))
                while True:
                    self._take(self.events.get_nowait())
            except queue.Empty:
                pass
            try:
                self._send()
                backoff.succeeded("the broker answers")
            except redis.RedisError as e:
                self.closed.wait(backoff.failed("the broker does not answer the trainer", e))

    def _take(self, message: Any) -> None:
        if isinstance(message, Reply):
            target = self.senders.pop(message.id, None)
            if target is not None:  # else a command of the link's own (viewers)
                sender, remote_id = target
                self._queue(("reply", sender, Reply(remote_id, message.ok, message.message, message.run)))
            return
        self.record(message)
        with self.lock:
            kind = BLOB_KINDS.get(type(message))
            if kind is not None:
                self.latest[kind] = message
                self.changed.add(kind)
                return
            if isinstance(message, ModelChanged):
                self.latest["model"] = message
                self.latest.pop("features", None)
                self.latest.pop("test_predictions", None)
            elif isinstance(message, State):
                self.latest["state"] = message
            last = self.unsent[-1] if self.unsent else None
            if isinstance(message, Metrics) and isinstance(last, Metrics):
                last.points.extend(message.points)  # waiting anyway: one entry instead of many
            else:
                self._queue(message)

    def _queue(self, item: Any) -> None:
        self.unsent.append(item)
        if len(self.unsent) > MAX_UNSENT:
            self.unsent.popleft()
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.error("convscope: the broker has been away too long: %d messages dropped", self.dropped)

    def _send(self) -> None:
        """Blobs that changed, then the waiting messages in order (each removed once it is sent)."""
        with self.lock:
            waiting, self.changed = sorted(self.changed), set()
        while waiting:
            kind, message = waiting[0], self.latest.get(waiting[0])
            try:
                if message is not None:  # else dropped since (a new model's features)
                    pipe = self.redis.pipeline(transaction=False)
                    pipe.set(latest_key(kind), encode(message))
                    pipe.xadd(EVENTS, {"latest": kind}, maxlen=EVENTS_KEPT, approximate=True)
                    pipe.execute()
            except redis.RedisError:
                with self.lock:
                    self.changed.update(waiting)
                raise
            waiting.pop(0)
        while self.unsent:
            with self.lock:
                item = self.unsent[0]
                if isinstance(item, Metrics):  # sent as it is now: no point added after this
                    item = Metrics(points=list(item.points))
            if isinstance(item, tuple):
                _, sender, reply = item
                pipe = self.redis.pipeline(transaction=False)
                pipe.xadd(replies_key(sender), {"r": encode(reply)}, maxlen=REPLIES_KEPT, approximate=True)
                pipe.expire(replies_key(sender), REPLIES_TTL)
                pipe.execute()
            else:
                entry = self.redis.xadd(EVENTS, {"m": encode(item)}, maxlen=EVENTS_KEPT, approximate=True)
                if isinstance(item, ModelChanged):
                    self.redis.hset(MODEL, mapping={"id": entry, "m": encode(item)})
                elif isinstance(item, State):
                    self.redis.set(latest_key("state"), encode(item))
            with self.lock:
                head = self.unsent[0]
                if isinstance(head, Metrics) and len(head.points) > len(item.points):
                    del head.points[:len(item.points)]  # points added while it was being sent stay
                else:
                    self.unsent.popleft()

    def _restore(self) -> None:
        """After the broker came back (maybe empty): put back the snapshot a new web server reads."""
        with self.lock:
            latest = dict(self.latest)
        missing = [kind for kind in latest if kind != "model" and not self.redis.exists(latest_key(kind))]
        for kind in missing:
            self.redis.set(latest_key(kind), encode(latest[kind]))
        if "model" in latest and not self.redis.exists(MODEL):
            self.redis.hset(MODEL, mapping={"id": "0-0", "m": encode(latest["model"])})  # the whole new stream

    # -- commands ------------------------------------------------------------------------------
    def _listen(self) -> None:
        last, backoff, known = None, Backoff(), {}
        while not self.closed.is_set():
            try:
                if last is None:  # commands from now on; "$" in each read would miss those between reads
                    newest = self.redis.xrevrange(COMMANDS, count=1)
                    last = newest[0][0] if newest else "0-0"
                got = self.redis.xread({COMMANDS: last}, block=500, count=100)
                backoff.succeeded("the trainer reads commands")
            except redis.RedisError as e:
                self.closed.wait(backoff.failed("the trainer cannot read commands", e))
                continue
            for _, entries in got:
                for entry_id, fields in entries:
                    last = entry_id
                    self._command(entry_id, fields, known)

    def _command(self, entry_id: bytes, fields: dict, known: dict[str, float]) -> None:
        sender = fields.get(b"sender", b"").decode(errors="replace")
        try:
            command = decode(fields.get(b"c", b""))
            if not isinstance(command, Command):
                raise BadEntry(f"a {type(command).__name__}, not a command")
            if command.kind not in REMOTE_KINDS:
                raise BadEntry(f"web servers may not send {command.kind!r}")
        except BadEntry as e:
            log.warning("convscope: skipped command %s from %r: %s", entry_id, sender[:80], e)
            return
        now = time.monotonic()
        if known.get(sender, 0.0) < now:
            if not sender or not self.redis.exists(web_key(sender)):
                log.warning("convscope: skipped a %s command from unknown sender %r (no heartbeat)",
                            command.kind, sender[:80])
                return
            known[sender] = now + HEARTBEAT_TTL
        local = next(self.ids)
        self.senders[local] = (sender, command.id)
        self.commands.put(Command(local, command.kind, command.args))

    # -- heartbeat ------------------------------------------------------------------------------
    def _beat(self) -> None:
        backoff, restored = Backoff(), False
        while not self.closed.is_set():
            try:
                beat = json.dumps({"id": self.id, "started": self.started, "problem": self.store_problem()})
                self.redis.set(TRAINER, beat, px=int(HEARTBEAT_TTL * 1000))
                if not restored:
                    self._restore()
                    restored = True
                viewers = 0
                for key in self.redis.scan_iter(match=web_key("*"), count=100):
                    value = self.redis.get(key)
                    viewers += _viewers(value)
                if viewers != self.viewers:
                    self.viewers = viewers
                    self.commands.put(Command(next(self.ids), "viewers", {"count": viewers}))
                backoff.succeeded("the trainer's heartbeat reaches the broker")
                self.closed.wait(HEARTBEAT_EVERY)
            except redis.RedisError as e:
                restored = False
                self.closed.wait(backoff.failed("the trainer's heartbeat cannot reach the broker", e))


def _viewers(value: bytes | None) -> int:
    try:
        count = json.loads(value)["viewers"] if value else 0
        return count if isinstance(count, int) and 0 <= count < 10**7 else 0
    except (ValueError, TypeError, KeyError):
        return 0
