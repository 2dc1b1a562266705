"""The run store: every run's network, settings and whole metric history, in one SQLite file.

    store = RunStore(runs_dir / "runs.db")   # a damaged file is set aside: store.problem says so
    store.add_run("20261124-101500-3fa2", "convnetjs", spec, config)
    store.add_train(run_id, points); store.add_test(run_id, point)
    train, test = store.history(run_id)

Only the server process writes it (server/runs/recorder.py); the worker writes the checkpoint
files beside it, one folder per run (server/runs/files.py).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("convscope.runs")

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,             -- JSON: the normalised layer spec
    config TEXT NOT NULL,           -- JSON: every TrainConfig field
    created REAL NOT NULL,          -- unix time
    updated REAL NOT NULL,
    status TEXT NOT NULL,
    step INTEGER NOT NULL DEFAULT 0,
    epoch REAL NOT NULL DEFAULT 0,
    test_accuracy REAL,             -- of the newest evaluation
    checkpoint_step INTEGER         -- of the newest checkpoint; NULL: none yet
);
CREATE TABLE IF NOT EXISTS train (run TEXT NOT NULL, step INTEGER NOT NULL, point TEXT NOT NULL,
                                  PRIMARY KEY (run, step)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS test (run TEXT NOT NULL, step INTEGER NOT NULL, point TEXT NOT NULL,
                                 PRIMARY KEY (run, step)) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class RunRecord:
    id: str
    name: str
    spec: list[dict]
    config: dict[str, Any]
    created: float
    updated: float
    status: str
    step: int
    epoch: float
    test_accuracy: float | None
    checkpoint_step: int | None


class RunStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problem: str | None = None  # what was wrong with the file found at start, if anything
        self.fresh = not path.exists()  # no database before: runs on disk may need importing
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = self._open()
        except sqlite3.DatabaseError as e:
            damaged = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            self.problem = (f"the run database {path} is damaged ({e}); it was renamed {damaged.name} "
                            "and a new one started from the checkpoints on disk")
            log.error("convscope: %s", self.problem)
            for suffix in ("", "-wal", "-shm"):  # the write-ahead log goes with its file
                if (part := Path(f"{path}{suffix}")).exists():
                    part.replace(Path(f"{damaged}{suffix}"))
            self.fresh = True
            self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        """Connect, check the file's integrity and version, and create the tables."""
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # a killed server leaves a consistent file
            db.execute("PRAGMA synchronous=NORMAL")
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {verdict}")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"schema version {version}; this convscope reads {SCHEMA_VERSION}")
            db.executescript(SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def close(self) -> None:
        self.db.close()

    # -- runs -------------------------------------------------------------------------------
    def add_run(self, run_id: str, name: str, spec: list[dict], config: dict[str, Any],
                status: str = "training", created: float | None = None) -> None:
        now = time.time()
        self.db.execute("INSERT OR IGNORE INTO runs (id, name, spec, config, created, updated, status) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (run_id, name, json.dumps(spec), json.dumps(config), created or now, now, status))

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set some of status, step, epoch, config, test_accuracy, checkpoint_step."""
        if "config" in fields:
            fields["config"] = json.dumps(fields["config"])
        names = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE runs SET {names}, updated = ? WHERE id = ?",
                        (*fields.values(), time.time(), run_id))

    def stop_others(self, run_id: str) -> None:
        """Only `run_id` is live: every other unfinished run is marked stopped."""
        self.db.execute("UPDATE runs SET status = 'stopped' WHERE id != ? AND status != 'finished'", (run_id,))

    def get(self, run_id: str) -> RunRecord | None:
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _record(row) if row else None

    def runs(self) -> list[RunRecord]:
        """Every run, the most recently active first."""
        return [_record(row) for row in self.db.execute("SELECT * FROM runs ORDER BY updated DESC, id DESC")]

    def delete(self, run_id: str) -> None:
        with self.db:
            self.db.execute("BEGIN")
            for table in ("train", "test", "runs"):
                self.db.execute(f"DELETE FROM {table} WHERE {'id' if table == 'runs' else 'run'} = ?", (run_id,))

    # -- metric history ---------------------------------------------------------------------
    def add_train(self, run_id: str, points: list[dict[str, Any]]) -> None:
        """Training points (MetricPoint fields), in one transaction; the run's step follows."""
        if not points:
            return
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO train VALUES (?, ?, ?)",
                                [(run_id, p["step"], json.dumps(p)) for p in points])
            last = points[-1]
            self.db.execute("UPDATE runs SET step = ?, epoch = ?, updated = ? WHERE id = ?",
                            (last["step"], last["epoch"], time.time(), run_id))

    def add_test(self, run_id: str, point: dict[str, Any]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("INSERT OR REPLACE INTO test VALUES (?, ?, ?)", (run_id, point["step"], json.dumps(point)))
            self.db.execute("UPDATE runs SET test_accuracy = ?, updated = ? WHERE id = ?",
                            (point["accuracy"], time.time(), run_id))

    def history(self, run_id: str, points: int | None = None) -> tuple[list[dict], list[dict]]:
        """(train, test) points in step order; train thinned evenly to about `points` if given."""
        count = self.db.execute("SELECT COUNT(*) FROM train WHERE run = ?", (run_id,)).fetchone()[0]
        stride = max(1, -(-count // points)) if points else 1
        train = [json.loads(p) for (p,) in self.db.execute(
            "SELECT point FROM (SELECT point, step, ROW_NUMBER() OVER (ORDER BY step) - 1 AS i "
            "FROM train WHERE run = ?) WHERE i % ? = 0 OR i = ? - 1 ORDER BY step",
            (run_id, stride, count))]
        test = [json.loads(p) for (p,) in self.db.execute(
            "SELECT point FROM test WHERE run = ? ORDER BY step", (run_id,))]
        return train, test

    def truncate(self, run_id: str, step: int) -> None:
        """Forget the points after `step`: a run resumed from a checkpoint redoes them."""
        with self.db:
            self.db.execute("BEGIN")
            for table in ("train", "test"):
                self.db.execute(f"DELETE FROM {table} WHERE run = ? AND step > ?", (run_id, step))
            self.db.execute("UPDATE runs SET step = MIN(step, ?) WHERE id = ?", (step, run_id))


def _record(row: tuple) -> RunRecord:
    (run_id, name, spec, config, created, updated, status, step, epoch, accuracy, checkpoint_step) = row
    return RunRecord(run_id, name, json.loads(spec), json.loads(config), created, updated, status, step,
                     epoch, accuracy, checkpoint_step)
