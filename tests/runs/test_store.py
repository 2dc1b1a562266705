"""The run store on both databases it supports, SQLite (a file) and PostgreSQL (a real server):
history kept per run and thinned evenly, runs listed and changed, the schema version checked, and
the files today's and earlier convscopes wrote still read."""

from __future__ import annotations

import sqlite3
import time

import pytest
from sqlalchemy import create_engine, inspect, text

from convscope.runs import RunStore
from convscope.runs.store import SCHEMA_VERSION, UnreadableStore, database_url

RUN = "20261124-000000-0001"


def point(step: int, **extra) -> dict:
    return {"step": step, "epoch": step / 10, "loss": 2.0 - step / 100, "accuracy": 0.1, "lr": 0.01,
            "batch_size": 32, "images_per_second": 100.0, "seconds": step / 5, "time": 1e9 + step, **extra}


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request, tmp_path):
    """Where a store is: an SQLite file, or a real PostgreSQL's URL."""
    return tmp_path / "runs.db" if request.param == "sqlite" else request.getfixturevalue("postgres_server").url


@pytest.fixture
def store(where):
    store = RunStore(where)
    yield store
    store.close()


def set_schema_version(where, version: int) -> None:
    """What a newer convscope would leave in the database."""
    engine = create_engine(database_url(where))
    with engine.begin() as db:
        db.execute(text("UPDATE meta SET value = :v WHERE key = 'schema_version'"), {"v": str(version)})
    engine.dispose()


def test_the_store_keeps_every_point_and_forgets_those_past_a_checkpoint(store):
    assert store.fresh and store.problem is None
    store.add_run(RUN, "lenet", [{"type": "flatten"}], {"lr": 0.1})
    store.add_train(RUN, [point(s) for s in range(1, 101)])
    store.add_test(RUN, {"step": 50, "epoch": 5.0, "loss": 1.0, "accuracy": 0.5, "per_class": [0.5] * 10,
                         "seconds": 10.0})
    run = store.get(RUN)
    assert (run.step, run.epoch, run.test_accuracy, run.spec) == (100, 10.0, 0.5, [{"type": "flatten"}])
    train, test = store.history(RUN)
    assert [p["step"] for p in train] == list(range(1, 101)) and test[0]["accuracy"] == 0.5
    assert train[0] == point(1)  # every field as written
    train, _ = store.history(RUN, points=10)  # every 10th, and the last
    assert [p["step"] for p in train] == [1, 11, 21, 31, 41, 51, 61, 71, 81, 91, 100]
    train, _ = store.history(RUN, points=7)  # a stride of 15, and the last
    assert [p["step"] for p in train] == [1, 16, 31, 46, 61, 76, 91, 100]
    store.truncate(RUN, 40)
    train, test = store.history(RUN)
    assert train[-1]["step"] == 40 and test == [] and store.get(RUN).step == 40
    store.truncate(RUN, 60)  # past the run's step: it stays
    assert store.get(RUN).step == 40
    store.add_train(RUN, [point(41, loss=9.0)])  # redone after the checkpoint
    assert store.history(RUN)[0][-1]["loss"] == 9.0
    store.add_test(RUN, {"step": 41, "epoch": 4.1, "loss": 1.0, "accuracy": 0.6, "per_class": [], "seconds": 1.0})
    store.add_test(RUN, {"step": 41, "epoch": 4.1, "loss": 1.0, "accuracy": 0.7, "per_class": [], "seconds": 1.0})
    assert [p["accuracy"] for p in store.history(RUN)[1]] == [0.7] and store.get(RUN).test_accuracy == 0.7
    store.delete(RUN)
    assert store.runs() == [] and store.history(RUN) == ([], []) and store.get(RUN) is None


def test_runs_are_listed_newest_first_and_changed(store):
    store.add_run("20261124-000000-0001", "lenet", [], {}, status="paused", created=1e9)
    time.sleep(0.01)
    store.add_run("20261124-000000-0002", "convnetjs", [], {})
    store.add_run("20261124-000000-0002", "ignored", [], {})  # once only
    store.add_run("20261124-000000-0003", "done", [], {}, status="finished")
    assert [r.id for r in store.runs()] == ["20261124-000000-0003", "20261124-000000-0002", "20261124-000000-0001"]
    first = store.get("20261124-000000-0001")
    assert (first.name, first.created, first.status, first.step, first.checkpoint_step) == ("lenet", 1e9, "paused", 0,
                                                                                           None)
    assert store.get("20261124-000000-0002").name == "convnetjs"
    store.update_run("20261124-000000-0001", status="training", config={"lr": 0.5}, checkpoint_step=7)
    first = store.get("20261124-000000-0001")
    assert (first.status, first.config, first.checkpoint_step) == ("training", {"lr": 0.5}, 7)
    assert store.runs()[0].id == "20261124-000000-0001"  # the most recently active
    store.stop_others("20261124-000000-0001")
    assert {r.id: r.status for r in store.runs()} == {"20261124-000000-0001": "training",
                                                      "20261124-000000-0002": "stopped",
                                                      "20261124-000000-0003": "finished"}


def test_the_store_opens_again_with_its_runs(where):
    store = RunStore(where)
    store.add_run(RUN, "lenet", [], {})
    store.close()
    store = RunStore(where)
    assert not store.fresh and store.problem is None and [r.id for r in store.runs()] == [RUN]
    store.close()


def test_a_newer_schema_version_is_refused(where):
    RunStore(where).close()
    set_schema_version(where, SCHEMA_VERSION + 1)
    if isinstance(where, str):  # PostgreSQL: refused, and nothing in it is touched
        with pytest.raises(UnreadableStore, match=f"has schema version {SCHEMA_VERSION + 1}; this convscope "
                                                  f"reads {SCHEMA_VERSION}; it was left as it is"):
            RunStore(where)
        engine = create_engine(database_url(where))
        assert {"runs", "train", "test", "meta"} <= set(inspect(engine).get_table_names())
        engine.dispose()
    else:  # SQLite: the file is set aside and a new one started, as a damaged one
        store = RunStore(where)
        assert f"schema version {SCHEMA_VERSION + 1}; this convscope reads {SCHEMA_VERSION}" in store.problem
        assert store.fresh and list(where.parent.glob("runs.db.damaged-*"))
        store.close()


def test_an_sqlite_file_of_the_first_schema_is_read(tmp_path):
    """Files written before the meta table: version 1 in PRAGMA user_version only."""
    path = tmp_path / "runs.db"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE runs (id TEXT PRIMARY KEY, name TEXT NOT NULL, spec TEXT NOT NULL, config TEXT NOT NULL,
                created REAL NOT NULL, updated REAL NOT NULL, status TEXT NOT NULL, step INTEGER NOT NULL DEFAULT 0,
                epoch REAL NOT NULL DEFAULT 0, test_accuracy REAL, checkpoint_step INTEGER);
            CREATE TABLE train (run TEXT NOT NULL, step INTEGER NOT NULL, point TEXT NOT NULL,
                PRIMARY KEY (run, step)) WITHOUT ROWID;
            CREATE TABLE test (run TEXT NOT NULL, step INTEGER NOT NULL, point TEXT NOT NULL,
                PRIMARY KEY (run, step)) WITHOUT ROWID;
            INSERT INTO runs VALUES ('20261124-000000-0001', 'lenet', '[]', '{"lr": 0.1}', 1e9, 1e9, 'paused',
                                     3, 0.5, NULL, 3);
            INSERT INTO train VALUES ('20261124-000000-0001', 3, '{"step": 3, "epoch": 0.5}');
            PRAGMA user_version=1;
        """)
    db.close()
    store = RunStore(path)
    assert store.problem is None and not store.fresh
    assert store.get(RUN).config == {"lr": 0.1} and store.history(RUN) == ([{"step": 3, "epoch": 0.5}], [])
    store.add_train(RUN, [point(4)])
    assert store.get(RUN).step == 4
    store.close()
    with sqlite3.connect(path) as db:  # and the first convscope can still read what this one wrote
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_where_a_store_is_hides_its_password(postgres_server):
    url = postgres_server.url.replace("postgres@", "postgres:s3cret@").replace("+psycopg", "")  # trust: not checked
    store = RunStore(url)
    assert store.where == postgres_server.url.replace("postgres@", "postgres:***@")
    assert store.url.drivername == "postgresql+psycopg"
    store.close()


def test_an_unreachable_database_fails_fast_without_its_password():
    began = time.monotonic()
    with pytest.raises(ConnectionError) as caught:
        RunStore("postgresql://convscope:s3cret@127.0.0.1:1/convscope")
    assert time.monotonic() - began < 5
    message = str(caught.value)
    assert message.startswith("the run database postgresql+psycopg://convscope:***@127.0.0.1:1/convscope "
                              "cannot be reached: ") and "s3cret" not in message


def test_where_a_store_is_given(tmp_path):
    assert database_url(tmp_path / "a.db").render_as_string() == f"sqlite:///{tmp_path}/a.db"
    assert database_url(str(tmp_path / "a.db")).database == str(tmp_path / "a.db")  # a plain path
    assert database_url(f"sqlite:///{tmp_path}/b.db").database == f"{tmp_path}/b.db"
    assert database_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert database_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    with pytest.raises(ValueError, match="in-memory"):
        database_url("sqlite://")
