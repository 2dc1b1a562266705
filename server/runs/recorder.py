"""Writes what the worker says into the run store, so every run's history outlives the server.

    recorder = Recorder(store, runs_dir)
    recorder.record(message)          # for every message from the worker, before the hub's publish

A run resumed from its checkpoint redoes the steps after it: its points past the checkpoint are
forgotten. A run the database does not know (the database was lost or damaged) is imported
from its checkpoint file, whose history is thinned but whole.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from ..protocol import Eval, EvalPoint, Metrics, ModelChanged, State
from ..train import Checkpoint, CheckpointError, load_checkpoint
from ..messages import Saved
from .files import RUN_ID, checkpoint_path, read_run_name, run_folder
from .store import RunStore

log = logging.getLogger("convscope.runs")


class Recorder:
    def __init__(self, store: RunStore, runs_dir: Path) -> None:
        self.store, self.runs_dir = store, runs_dir
        self.run_id: str | None = None  # the live run
        self.saved: tuple[str, dict] | None = None  # the status and config last written
        self.problem: str | None = None  # the last write that failed

    def record(self, message: Any) -> None:
        """Store one worker message; a failing disk is logged and reported, never raised."""
        try:
            self._record(message)
        except sqlite3.Error as e:
            if self.problem is None:
                log.error("convscope: cannot write the run database %s: %s", self.store.path, e)
            self.problem = f"the run database cannot be written ({e}): this run's history is not being kept"

    def _record(self, message: Any) -> None:
        if isinstance(message, ModelChanged):
            self.run_id, self.saved = message.run_id, None
            if message.resumed_step is None:
                self.store.add_run(message.run_id, message.name, message.spec, {})
            elif self.store.get(message.run_id) is None:
                import_run(self.store, self.runs_dir, message.run_id)
            else:
                self.store.truncate(message.run_id, message.resumed_step)
            self.store.stop_others(message.run_id)
        elif self.run_id is None:
            return
        elif isinstance(message, Metrics):
            self.store.add_train(self.run_id, [p.model_dump() for p in message.points])
        elif isinstance(message, Eval):
            fields = set(EvalPoint.model_fields) - {"confusion"}
            self.store.add_test(self.run_id, message.model_dump(include=fields))
        elif isinstance(message, Saved) and message.run_id == self.run_id:
            self.store.update_run(self.run_id, checkpoint_step=message.step)
        elif isinstance(message, State) and message.run.run_id == self.run_id:
            status, config = message.run.status, message.run.config
            if self.saved != (status, config):
                self.saved = (status, config)
                self.store.update_run(self.run_id, status=status, config=config)


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
    known = {run.id for run in store.runs()}
    folders = sorted(p.name for p in runs_dir.iterdir() if RUN_ID.fullmatch(p.name) and p.name not in known)
    return sum(import_run(store, runs_dir, run_id) for run_id in folders
               if checkpoint_path(runs_dir, run_id).exists())


def forget_run(store: RunStore, runs_dir: Path, run_id: str) -> None:
    """Delete a run: its rows in the database and its folder."""
    store.delete(run_id)
    shutil.rmtree(run_folder(runs_dir, run_id), ignore_errors=True)
