"""The run store: every run's network, settings and whole metric history, in SQLite or PostgreSQL.

    store = RunStore(runs_dir / "runs.db")   # SQLite; a damaged file is set aside: store.problem says so
    store = RunStore("postgresql://user:password@host/convscope")   # a split deployment's shared database
    store.add_run("20261124-101500-3fa2", "convnetjs", spec, config)
    store.add_train(run_id, points); store.add_test(run_id, point)
    train, test = store.history(run_id)

One code path for both, through SQLAlchemy Core (psycopg 3 for PostgreSQL); the engine's pool
makes the store safe to use from several threads. The schema version is kept in the database (the
`meta` table; SQLite files also carry it as PRAGMA user_version, as the first ones did): a version
this code does not read is refused. The recorder writes it (server/runs/recorder.py); the worker
writes the checkpoint files beside it, one folder per run (server/runs/files.py).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (Column, Connection, Engine, Float, Integer, MetaData, Table, Text, case, create_engine,
                        delete, event, func, inspect, or_, select, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DatabaseError, OperationalError

log = logging.getLogger("convscope.runs")

SCHEMA_VERSION = 1
CONNECT_TIMEOUT = 3  # seconds: an unreachable PostgreSQL fails fast (and the recorder retries)

metadata = MetaData()
runs = Table(
    "runs", metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("spec", Text, nullable=False),  # JSON: the normalised layer spec
    Column("config", Text, nullable=False),  # JSON: every TrainConfig field
    Column("created", Float, nullable=False),  # unix time
    Column("updated", Float, nullable=False),
    Column("status", Text, nullable=False),
    Column("step", Integer, nullable=False, server_default="0"),
    Column("epoch", Float, nullable=False, server_default="0"),
    Column("test_accuracy", Float),  # of the newest evaluation
    Column("checkpoint_step", Integer),  # of the newest checkpoint; NULL: none yet
)
train, test = (Table(name, metadata, Column("run", Text, primary_key=True), Column("step", Integer, primary_key=True),
                     Column("point", Text, nullable=False), sqlite_with_rowid=False)  # point: JSON
               for name in ("train", "test"))
meta = Table("meta", metadata, Column("key", Text, primary_key=True), Column("value", Text, nullable=False))


class UnreadableStore(Exception):
    """The database is damaged, or holds a schema version this code does not read."""


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


def database_url(where: Path | str) -> URL:
    """An SQLAlchemy URL: a path is an SQLite file; postgresql:// gets the psycopg 3 driver."""
    if isinstance(where, Path) or "://" not in where:
        return URL.create("sqlite", database=str(Path(where).expanduser()))
    url = make_url(where)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise ValueError("the run store needs an SQLite file, not an in-memory database")
    return url


def reason(error: BaseException) -> str:
    """The first line of what the database driver said, without SQLAlchemy's SQL and links."""
    return (str(getattr(error, "orig", None) or error).strip().splitlines() or [type(error).__name__])[0]


class RunStore:
    def __init__(self, where: Path | str) -> None:
        self.url = database_url(where)
        self.path = Path(str(self.url.database)) if self.url.get_backend_name() == "sqlite" else None
        self.where = str(self.path) if self.path else self.url.render_as_string(hide_password=True)  # for messages
        self.problem: str | None = None  # what was wrong with the SQLite file found at start, if anything
        self.fresh = False  # no database before: runs on disk may need importing
        if self.path is None:  # PostgreSQL: never dropped or replaced here, whatever it holds
            try:
                self.engine = self._open()
            except OperationalError as e:
                raise ConnectionError(f"the run database {self.where} cannot be reached: {reason(e)}") from None
            except UnreadableStore as e:
                raise UnreadableStore(f"the run database {self.where} has {e}; it was left as it is") from None
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine = self._open()
        except (DatabaseError, UnreadableStore) as e:
            path = self.path
            damaged = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            self.problem = (f"the run database {path} is damaged ({reason(e)}); it was renamed {damaged.name} "
                            "and a new one started from the checkpoints on disk")
            log.error("convscope: %s", self.problem)
            for suffix in ("", "-wal", "-shm"):  # the write-ahead log goes with its file
                if (part := Path(f"{path}{suffix}")).exists():
                    part.replace(Path(f"{damaged}{suffix}"))
            self.engine = self._open()

    def _open(self) -> Engine:
        """Connect, check the database (its integrity, for SQLite) and its version, and create the tables."""
        is_sqlite = self.path is not None
        if is_sqlite:
            engine = create_engine(self.url)
            event.listen(engine, "connect", _sqlite_settings)
        else:  # a pooled connection may have died with a restarted server: pinged before use
            engine = create_engine(self.url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT})
        try:
            with engine.connect() as db:
                if is_sqlite and (verdict := db.exec_driver_sql("PRAGMA quick_check").scalar()) != "ok":
                    raise UnreadableStore(f"integrity check: {verdict}")
                tables = set(inspect(db).get_table_names())
                self._check_version(db, tables)
                self.fresh = "runs" not in tables
                metadata.create_all(db)
                db.execute(upsert(db, meta), {"key": "schema_version", "value": str(SCHEMA_VERSION)})
                if is_sqlite:
                    db.exec_driver_sql(f"PRAGMA user_version={SCHEMA_VERSION}")  # what the first convscope reads
                db.commit()
        except BaseException:
            engine.dispose()
            raise
        return engine

    def _check_version(self, db: Connection, tables: set[str]) -> None:
        found = {int(db.scalar(select(meta.c.value).where(meta.c.key == "schema_version")) or 0)
                 if "meta" in tables else 0}
        if self.path is not None:
            found.add(db.exec_driver_sql("PRAGMA user_version").scalar())
        if unreadable := found - {0, SCHEMA_VERSION}:
            raise UnreadableStore(f"schema version {max(unreadable)}; this convscope reads {SCHEMA_VERSION}")

    def close(self) -> None:
        self.engine.dispose()

    # -- runs -------------------------------------------------------------------------------
    def add_run(self, run_id: str, name: str, spec: list[dict], config: dict[str, Any],
                status: str = "training", created: float | None = None) -> None:
        now = time.time()
        with self.engine.begin() as db:
            db.execute(insert(db, runs).values(id=run_id, name=name, spec=json.dumps(spec), config=json.dumps(config),
                                               created=created or now, updated=now, status=status)
                       .on_conflict_do_nothing(index_elements=["id"]))

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set some of status, step, epoch, config, test_accuracy, checkpoint_step."""
        if "config" in fields:
            fields["config"] = json.dumps(fields["config"])
        with self.engine.begin() as db:
            db.execute(update(runs).where(runs.c.id == run_id).values(**fields, updated=time.time()))

    def stop_others(self, run_id: str) -> None:
        """Only `run_id` is live: every other unfinished run is marked stopped."""
        with self.engine.begin() as db:
            db.execute(update(runs).where(runs.c.id != run_id, runs.c.status != "finished").values(status="stopped"))

    def get(self, run_id: str) -> RunRecord | None:
        with self.engine.connect() as db:
            row = db.execute(select(runs).where(runs.c.id == run_id)).first()
        return _record(row) if row else None

    def runs(self) -> list[RunRecord]:
        """Every run, the most recently active first."""
        with self.engine.connect() as db:
            return [_record(row) for row in db.execute(select(runs).order_by(runs.c.updated.desc(), runs.c.id.desc()))]

    def delete(self, run_id: str) -> None:
        with self.engine.begin() as db:
            for table in (train, test):
                db.execute(delete(table).where(table.c.run == run_id))
            db.execute(delete(runs).where(runs.c.id == run_id))

    # -- metric history ---------------------------------------------------------------------
    def add_train(self, run_id: str, points: list[dict[str, Any]]) -> None:
        """Training points (MetricPoint fields), in one transaction; the run's step follows."""
        if not points:
            return
        with self.engine.begin() as db:
            db.execute(upsert(db, train), [{"run": run_id, "step": p["step"], "point": json.dumps(p)} for p in points])
            last = points[-1]
            db.execute(update(runs).where(runs.c.id == run_id)
                       .values(step=last["step"], epoch=last["epoch"], updated=time.time()))

    def add_test(self, run_id: str, point: dict[str, Any]) -> None:
        with self.engine.begin() as db:
            db.execute(upsert(db, test), {"run": run_id, "step": point["step"], "point": json.dumps(point)})
            db.execute(update(runs).where(runs.c.id == run_id)
                       .values(test_accuracy=point["accuracy"], updated=time.time()))

    def history(self, run_id: str, points: int | None = None) -> tuple[list[dict], list[dict]]:
        """(train, test) points in step order; train thinned evenly to about `points` if given.

        The count and the rows come from one statement: points written meanwhile cannot shift the thinning."""
        with self.engine.connect() as db:
            numbered = select(train.c.point, train.c.step,
                              (func.row_number().over(order_by=train.c.step) - 1).label("i"),
                              func.count().over().label("count")).where(train.c.run == run_id).subquery()
            stride = (numbered.c.count + points - 1) // points if points else 1  # rows exist: count >= 1
            kept = db.scalars(select(numbered.c.point)
                              .where(or_(numbered.c.i % stride == 0, numbered.c.i == numbered.c.count - 1))
                              .order_by(numbered.c.step))
            train_points = [json.loads(p) for p in kept]
            test_points = [json.loads(p) for p in db.scalars(select(test.c.point).where(test.c.run == run_id)
                                                             .order_by(test.c.step))]
        return train_points, test_points

    def truncate(self, run_id: str, step: int) -> None:
        """Forget the points after `step`: a run resumed from a checkpoint redoes them."""
        with self.engine.begin() as db:
            for table in (train, test):
                db.execute(delete(table).where(table.c.run == run_id, table.c.step > step))
            db.execute(update(runs).where(runs.c.id == run_id)
                       .values(step=case((runs.c.step > step, step), else_=runs.c.step)))


def open_store(where: Path | str, most: float = 5.0) -> RunStore:
    """RunStore(where), waiting for a database server that cannot be reached yet (a split
    deployment's PostgreSQL starting, or away): tries again every few seconds, saying so once."""
    wait, said = 0.25, False
    while True:
        try:
            return RunStore(where)
        except ConnectionError as e:
            if not said:
                log.warning("convscope: %s; waiting for it", e)
                said = True
            time.sleep(wait)
            wait = min(most, wait * 2)


def insert(db: Connection, table: Table) -> Any:
    """The dialect's INSERT, which has on_conflict_do_update / on_conflict_do_nothing."""
    return (sqlite if db.dialect.name == "sqlite" else postgresql).insert(table)


def upsert(db: Connection, table: Table) -> Any:
    """INSERT that replaces the row with the same primary key (executed with the rows' values)."""
    statement = insert(db, table)
    keys = [c.name for c in table.primary_key]
    replaced = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=replaced)


def _sqlite_settings(connection: Any, _: Any) -> None:
    """Each SQLite connection: a write-ahead log (a killed server leaves a consistent file), synced at
    checkpoints only (safe with WAL)."""
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")


def _record(row: Any) -> RunRecord:
    (run_id, name, spec, config, created, updated, status, step, epoch, accuracy, checkpoint_step) = row
    return RunRecord(run_id, name, json.loads(spec), json.loads(config), created, updated, status, step,
                     epoch, accuracy, checkpoint_step)
