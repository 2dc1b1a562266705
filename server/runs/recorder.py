"""Writes what the worker says into the run store, so every run's history outlives the server.

    recorder = Recorder(store, runs_dir)
    recorder.record(message)          # for every message from the worker, before the hub's publish
    recorder.flush(5.0)               # waits until everything recorded is written
    recorder.close()                  # flushes (a while), then stops the writer

record() never waits for the database: it queues the message's writes in order, and one writer
thread applies them. While the database fails (PostgreSQL unreachable, a full disk) the writer
retries, at most RETRY_MAX seconds apart, and `problem` says so; nothing is lost if it comes
back before `bound` training points wait. Past that the oldest training points are dropped,
counted and told (`problem` and the log); `problem` is None again once writes succeed.

A run resumed from its checkpoint redoes the steps after it: its points past the checkpoint are
forgotten. A run the database does not know (the database was lost or damaged) is imported
from its checkpoint file, whose history is thinned but whole.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from ..protocol import Eval, EvalPoint, Metrics, ModelChanged, State
from ..train import Checkpoint, CheckpointError, load_checkpoint
from ..messages import Saved
from .files import RUN_ID, checkpoint_path, read_run_name, run_folder
from .store import RunStore, reason

log = logging.getLogger("convscope.runs")

BOUND = 200_000  # training points kept while the database cannot be written (about 80 MB)
RETRY_FIRST, RETRY_MAX = 0.05, 2.0  # seconds between tries of a failing write: doubling up to this
BATCH = 5_000  # training points written in one transaction when catching up


@dataclass(eq=False)
class Points:
    """Training points for a run, waiting to be written (the only writes the bound may drop)."""
    run_id: str
    points: list[dict[str, Any]]


Write = Points | Callable[[], None]


class Recorder:
    def __init__(self, store: RunStore, runs_dir: Path, bound: int = BOUND) -> None:
        self.store, self.runs_dir, self.bound = store, runs_dir, bound
        self.run_id: str | None = None  # the live run
        self.saved: tuple[str, dict] | None = None  # the status and config last queued
        self._queue: deque[Write] = deque()  # in order; `_waiting` training points in it
        self._waiting = 0
        self._busy: Write | None = None  # taken off the queue, being written
        self._error: str | None = None  # why the last write failed; None: it did not
        self._failing_since = 0.0
        self._dropped: dict[str, list[int]] = {}  # run -> [points, first step, last step]
        self._closing = False
        self._changed = threading.Condition()
        self._writer = threading.Thread(target=self._write_all, name="convscope-recorder", daemon=True)
        self._writer.start()

    @property
    def problem(self) -> str | None:
        """What keeps history from being written now, if anything (GET /api/runs shows it)."""
        with self._changed:
            parts = []
            if self._error is not None:
                waiting = len(self._queue) + (self._busy is not None)
                parts.append(f"the run database cannot be written ({self._error}): {waiting} writes "
                             f"({self._waiting} training points) wait and are retried")
            if self._dropped:
                parts.append(f"the oldest training points past the bound of {self.bound} were dropped "
                             f"({self._told_dropped()})")
            return "; ".join(parts) or None

    def record(self, message: Any) -> None:
        """Queue the writes for one worker message: never blocks on the database, never raises."""
        write = self._write_for(message)
        if write is None:
            return
        with self._changed:
            if self._closing:
                return
            self._queue.append(write)
            self._waiting += len(write.points) if isinstance(write, Points) else 0
            self._drop_past_bound()
            self._changed.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every write recorded is done; False if `timeout` seconds passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._queue and self._busy is None, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Flush for up to `timeout` seconds, then stop the writer; what is still unwritten is logged."""
        self.flush(timeout)
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._writer.join(timeout)
        with self._changed:
            if self._queue or self._busy is not None:
                log.error("convscope: %d writes to the run database %s were not done before closing: %s",
                          len(self._queue) + (self._busy is not None), self.store.where, self._error)

    # -- the message's writes (the event loop's thread) --------------------------------------
    def _write_for(self, message: Any) -> Write | None:
        if isinstance(message, ModelChanged):
            self.run_id, self.saved = message.run_id, None
            return partial(self._open_run, message)
        if self.run_id is None:
            return None
        if isinstance(message, Metrics):
            return Points(self.run_id, [p.model_dump() for p in message.points]) if message.points else None
        if isinstance(message, Eval):
            fields = set(EvalPoint.model_fields) - {"confusion"}
            return partial(self.store.add_test, self.run_id, message.model_dump(include=fields))
        if isinstance(message, Saved) and message.run_id == self.run_id:
            return partial(self.store.update_run, self.run_id, checkpoint_step=message.step)
        if isinstance(message, State) and message.run.run_id == self.run_id:
            status, config = message.run.status, message.run.config
            if self.saved != (status, config):
                self.saved = (status, config)
                return partial(self.store.update_run, self.run_id, status=status, config=config)
        return None

    def _open_run(self, message: ModelChanged) -> None:
        """A new or resumed live run (each step can be redone: a failed try is retried whole)."""
        if message.resumed_step is None:
            self.store.add_run(message.run_id, message.name, message.spec, {})
        elif self.store.get(message.run_id) is None:
            import_run(self.store, self.runs_dir, message.run_id)
        else:
            self.store.truncate(message.run_id, message.resumed_step)
        self.store.stop_others(message.run_id)

    def _drop_past_bound(self) -> None:
        """Drop the oldest waiting training points past the bound (under the lock)."""
        while self._waiting > self.bound:
            oldest = next(w for w in self._queue if isinstance(w, Points))
            gone = oldest.points[:self._waiting - self.bound]
            del oldest.points[:len(gone)]
            if not oldest.points:
                self._queue.remove(oldest)
            self._waiting -= len(gone)
            if not self._dropped:
                log.error("convscope: the run database %s is behind by %d training points: the oldest are "
                          "dropped until it is written again", self.store.where, self.bound)
            steps = [p["step"] for p in gone]
            count, first, last = self._dropped.get(oldest.run_id, [0, steps[0], steps[0]])
            self._dropped[oldest.run_id] = [count + len(gone), min(first, min(steps)), max(last, max(steps))]

    def _told_dropped(self) -> str:
        return ", ".join(f"{count} of run {run_id}, steps {first} to {last}"
                         for run_id, (count, first, last) in self._dropped.items())

    # -- the writer thread -------------------------------------------------------------------
    def _write_all(self) -> None:
        delay = RETRY_FIRST
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._queue or self._closing)
                if self._closing:
                    return
                write = self._busy = self._take()
            try:
                if isinstance(write, Points):
                    self.store.add_train(write.run_id, write.points)
                else:
                    write()
            except (SQLAlchemyError, OSError) as e:
                with self._changed:
                    self._failed(write, e)
                    self._changed.wait_for(lambda: self._closing, delay)
                delay = min(2 * delay, RETRY_MAX)
                continue
            except Exception:  # a bug, not the database: retrying would not help
                log.exception("convscope: a write to the run database failed and was skipped")
            else:
                delay = RETRY_FIRST
                with self._changed:
                    self._written()
            with self._changed:
                self._busy = None
                self._changed.notify_all()

    def _take(self) -> Write:
        """The oldest write, with the training points queued after it for the same run (under the lock)."""
        write = self._queue.popleft()
        if not isinstance(write, Points):
            return write
        points = list(write.points)
        while (self._queue and isinstance(nxt := self._queue[0], Points) and nxt.run_id == write.run_id
               and len(points) < BATCH):
            points += self._queue.popleft().points
        self._waiting -= len(points)
        return Points(write.run_id, points)

    def _written(self) -> None:
        """A write succeeded: what went wrong before is over, and told (under the lock)."""
        if self._error is not None:
            log.warning("convscope: the run database %s is written again after %.0f s", self.store.where,
                        time.monotonic() - self._failing_since)
        if self._dropped:
            log.warning("convscope: training points were dropped: %s", self._told_dropped())
        self._error, self._dropped = None, {}

    def _failed(self, write: Write, error: BaseException) -> None:
        """Put a failed write back at the front, to be retried (under the lock)."""
        self._busy = None
        self._queue.appendleft(write)
        if isinstance(write, Points):
            self._waiting += len(write.points)
            self._drop_past_bound()
        if self._error is None:
            self._failing_since = time.monotonic()
            log.error("convscope: cannot write the run database %s (%s): retrying", self.store.where, reason(error))
        self._error = reason(error)


def import_run(store: RunStore, runs_dir: Path, run_id: str) -> bool:
    """Add a run the database lacks from its folder (checkpoint and name); False if it cannot be read."""
    path = checkpoint_path(runs_dir, run_id)
    try:
        checkpoint = load_checkpoint(path)
        name = read_run_name(runs_dir, run_id)
    except (CheckpointError, OSError, ValueError, KeyError, TypeError) as e:
        log.warning("convscope: run %s cannot be imported: %s", run_id, e)
        return False
    add_run_from(store, run_id, name, checkpoint, when=path.stat().st_mtime)
    return True


def add_run_from(store: RunStore, run_id: str, name: str, checkpoint: Checkpoint, when: float) -> None:
    """Add a run to the database from its loaded checkpoint: settings and the history it holds."""
    store.add_run(run_id, name, checkpoint.spec, checkpoint.config.to_dict(), status="paused", created=when)
    store.add_train(run_id, [{**p, "time": when} for p in checkpoint.history.get("train", [])])
    for point in checkpoint.history.get("test", []):
        store.add_test(run_id, point)
    store.update_run(run_id, step=checkpoint.step, checkpoint_step=checkpoint.step)


def import_runs(store: RunStore, runs_dir: Path) -> int:
    """Import every run folder the database lacks (after it was lost or damaged); returns how many."""
    if not runs_dir.is_dir():  # nothing kept here yet (a PostgreSQL store makes no runs folder)
        return 0
    known = {run.id for run in store.runs()}
    folders = sorted(p.name for p in runs_dir.iterdir() if RUN_ID.fullmatch(p.name) and p.name not in known)
    return sum(import_run(store, runs_dir, run_id) for run_id in folders
               if checkpoint_path(runs_dir, run_id).exists())


def forget_run(store: RunStore, runs_dir: Path, run_id: str) -> None:
    """Delete a run: its rows in the database and its folder."""
    store.delete(run_id)
    shutil.rmtree(run_folder(runs_dir, run_id), ignore_errors=True)
