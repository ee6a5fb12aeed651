"""Alembic migrations of the jobs and moderation tables: empty databases, pre-migration databases, concurrent
upgrades, ORM/migration agreement, and `notestudio db`. SQLite always; PostgreSQL when
NOTESTUDIO_TEST_POSTGRES_URL is set (`make test` sets it): each test gets a fresh database on that server."""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
    text,
)
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from cli.main import app
from moderation import AuditLog
from moderation.audit import Viewer
from moderation.types import ModerationResult
from serving import db
from serving.jobs import JobState, JobStore

PG_URL = os.environ.get("NOTESTUDIO_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(not PG_URL, reason="no PostgreSQL"))]


@pytest.fixture(params=BACKENDS)
def empty_url(request, tmp_path):
    """The URL of an empty database: a new SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'notestudio.db'}"
        return
    name = f"ns_migrations_{uuid.uuid4().hex[:12]}"
    server = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        server.dispose()


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def scalar(url: str, sql: str):
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql)).scalar()
    finally:
        engine.dispose()


# The schema as `metadata.create_all` made it before migrations existed (a literal copy of the old ORM).
PRE_MIGRATION = MetaData()
Table(
    "jobs",
    PRE_MIGRATION,
    Column("id", String(32), primary_key=True),
    Column("kind", String(64), index=True, nullable=False),
    Column("state", String(16), index=True, nullable=False),
    Column("progress", Float, nullable=False),
    Column("message", Text, nullable=False),
    Column("params", JSON, nullable=False),
    Column("result", JSON),
    Column("error", Text),
    Column("owner_key", String(64), index=True, nullable=False),
    Column("worker", String(128)),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("cancel_requested", Boolean, nullable=False),
    Column("webhook_url", Text),
    Column("webhook_state", String(16), nullable=False),
    Column("webhook_attempts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("heartbeat_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
)
Table(
    "moderation_decisions",
    PRE_MIGRATION,
    Column("id", String(32), primary_key=True),
    Column("listing_id", String(256), index=True),
    Column("input_hash", String(64), index=True, nullable=False),
    Column("decision", String(16), index=True, nullable=False),
    Column("risk", Float, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("engine", String(64), nullable=False),
    Column("versions", JSON, nullable=False),
    Column("api_key", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("review_state", String(16), nullable=False),
    Column("appeal_reason", Text),
    Column("appealed_at", DateTime(timezone=True)),
)
OLD_JOB = {
    "id": "a" * 32,
    "kind": "video.render",
    "state": "succeeded",
    "progress": 1.0,
    "message": "done",
    "params": {"clip": "x.mp4"},
    "result": {"artifacts": ["out.mp4"]},
    "owner_key": "merchant",
    "attempts": 1,
    "max_attempts": 2,
    "cancel_requested": False,
    "webhook_url": "http://receiver.invalid/hook",
    "webhook_state": "pending",
    "webhook_attempts": 2,
    "created_at": datetime(2026, 5, 1, tzinfo=UTC),
    "finished_at": datetime(2026, 5, 1, 0, 1, tzinfo=UTC),
}
OLD_DECISION = {
    "id": "d" * 32,
    "listing_id": "L1",
    "input_hash": "0" * 64,
    "decision": "block",
    "risk": 0.97,
    "labels": [{"code": "counterfeit"}],
    "engine": "rules",
    "versions": {"lexicon": "1"},
    "api_key": "",
    "created_at": datetime(2026, 5, 1, tzinfo=UTC),
    "review_state": "none",
}


def make_pre_migration_database(url: str, only: tuple[str, ...] = ("jobs", "moderation_decisions")) -> None:
    engine = create_engine(url)
    try:
        PRE_MIGRATION.create_all(engine, tables=[PRE_MIGRATION.tables[name] for name in only])
        with engine.begin() as connection:
            connection.execute(PRE_MIGRATION.tables["jobs"].insert(), [OLD_JOB])
            if "moderation_decisions" in only:
                connection.execute(PRE_MIGRATION.tables["moderation_decisions"].insert(), [OLD_DECISION])
    finally:
        engine.dispose()


# -- upgrades ----------------------------------------------------------------------------------------------
def test_upgrade_from_empty_then_stores_work(empty_url):
    assert db.current(empty_url) is None
    assert db.upgrade(empty_url) == db.head() == "0005"
    assert db.current(empty_url) == db.head()
    assert {"jobs", "moderation_decisions", "glossaries", "glossary_terms", "merchant_shades", db.VERSION_TABLE} <= (
        tables(empty_url)
    )
    assert db.upgrade(empty_url) == db.head()  # a second start changes nothing
    assert scalar(empty_url, f"SELECT count(*) FROM {db.VERSION_TABLE}") == 1

    store = JobStore(empty_url)
    try:
        job = store.create("render", {"n": 1}, webhook_url="http://receiver.invalid/")
        assert store.get(job.id).webhook_state == "pending" and store.get(job.id).webhook_next_at is None
        audit = AuditLog(store.engine)
        result = ModerationResult(id="L9", decision="pass", risk=0.1, labels=[], engine="rules", versions={})
        [decision_id] = audit.record_many([(result, "f" * 64)])
        assert audit.get(decision_id, Viewer("", admin=True))["id"] == "L9"
    finally:
        store.close()


def test_orm_and_migrations_agree(empty_url):
    db.upgrade(empty_url, "0001")
    behind = db.schema_diff(empty_url)  # the comparison does see differences ...
    assert {diff[0] for diff in behind} == {"add_column", "add_index", "add_table"}, behind
    db.upgrade(empty_url)
    assert db.schema_diff(empty_url) == []  # ... and there are none at head


def test_pre_migration_database_is_stamped_and_upgraded_keeping_rows(empty_url, caplog):
    make_pre_migration_database(empty_url)
    assert db.current(empty_url) is None
    with caplog.at_level("WARNING", logger="serving.db"):
        assert db.upgrade(empty_url) == db.head()
    assert "stamping 0001" in caplog.text  # adopted, not recreated
    assert db.schema_diff(empty_url) == []
    store = JobStore(empty_url)
    try:
        old = store.get(OLD_JOB["id"])
        assert old.state == JobState.SUCCEEDED and old.result == OLD_JOB["result"] and old.webhook_attempts == 2
        assert old.webhook_next_at is None and [j.id for j in store.pending_webhooks()] == [OLD_JOB["id"]]
        assert AuditLog(store.engine).get(OLD_DECISION["id"], Viewer("", admin=True))["decision"] == "block"
    finally:
        store.close()


def test_pre_migration_database_with_only_the_jobs_table(tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs-only.db'}"
    make_pre_migration_database(url, only=("jobs",))
    assert db.upgrade(url) == db.head()
    assert "moderation_decisions" in tables(url) and db.schema_diff(url) == []
    assert scalar(url, "SELECT kind FROM jobs") == "video.render"


def test_database_newer_than_the_code_is_refused(empty_url):
    db.upgrade(empty_url)
    engine = create_engine(empty_url)
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE {db.VERSION_TABLE} SET version_num = '0099'"))
    engine.dispose()
    with pytest.raises(db.MigrationError, match="'0099', which this release does not know"):
        db.upgrade(empty_url)


# -- concurrency -------------------------------------------------------------------------------------------
def test_concurrent_upgrades_from_threads(empty_url):
    gate = threading.Barrier(4)
    outcomes: list[object] = []

    def start_replica():
        gate.wait()
        try:
            outcomes.append(db.upgrade(empty_url))
        except Exception as exc:  # collected: the assertion below shows it
            outcomes.append(exc)

    threads = [threading.Thread(target=start_replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes == [db.head()] * 4
    assert scalar(empty_url, f"SELECT count(*) FROM {db.VERSION_TABLE}") == 1
    assert db.schema_diff(empty_url) == []


def test_concurrent_upgrades_from_processes(empty_url, tmp_path):
    go = tmp_path / "go"
    script = (
        "import pathlib, sys, time\n"
        "from serving.db import upgrade\n"
        f"while not pathlib.Path({str(go)!r}).exists(): time.sleep(0.005)\n"
        "print(upgrade(sys.argv[1]))\n"
    )
    replicas = [
        subprocess.Popen([sys.executable, "-c", script, empty_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    time.sleep(1.0)  # let them import
    go.touch()
    results = [replica.communicate(timeout=120) for replica in replicas]
    assert [replica.returncode for replica in replicas] == [0, 0, 0], [err.decode()[-2000:] for _, err in results]
    assert [out.decode().strip() for out, _ in results] == [db.head()] * 3
    assert db.schema_diff(empty_url) == []


def test_upgrade_waits_for_the_migration_lock(empty_url):
    """While another replica holds the lock (advisory lock / lock file), an upgrade waits, then finishes."""
    done = threading.Event()
    if empty_url.startswith("sqlite"):
        holder = open(make_url(empty_url).database + ".migrate.lock", "a+b")  # noqa: SIM115 - closed below
        fcntl.flock(holder, fcntl.LOCK_EX)
        release = holder.close
    else:
        engine = create_engine(empty_url)
        connection = engine.connect()
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": db.PG_LOCK_KEY})

        def release():
            connection.close()
            engine.dispose()

    waiter = threading.Thread(target=lambda: (db.upgrade(empty_url), done.set()))
    waiter.start()
    try:
        assert not done.wait(1.0)  # blocked behind the holder
        assert db.current(empty_url) is None
    finally:
        release()
    waiter.join(30)
    assert done.is_set() and db.current(empty_url) == db.head()


# -- notestudio db -----------------------------------------------------------------------------------------
def test_cli_db_upgrade_and_current(tmp_path):
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'sub' / 'cli.db'}"
    missing = runner.invoke(app, ["db", "current", "--database-url", url])
    assert missing.exit_code == 2 and "no database at" in missing.output and "notestudio db upgrade" in missing.output
    first = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert first.exit_code == 0, first.output
    assert f"upgraded from empty to revision {db.head()} (head)" in first.output
    again = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert f"already at revision {db.head()}" in again.output
    shown = runner.invoke(app, ["db", "current", "--database-url", url])
    assert shown.exit_code == 0 and f"revision {db.head()} (head)" in shown.output


def test_cli_db_uses_the_service_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTESTUDIO_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("NOTESTUDIO_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert db.current(f"sqlite:///{tmp_path / 'var' / 'notestudio.db'}") == db.head()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nosuchdialect://x/y", "database nosuchdialect://x/y: Can't load plugin"),
        ("postgresql+psycopg://nobody@127.0.0.1:{port}/x", "connection failed"),
    ],
)
def test_cli_db_errors_are_one_line_and_exit_2(url, message):
    result = CliRunner().invoke(app, ["db", "upgrade", "--database-url", url.format(port=_closed_port())])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and message in result.output
    assert len(result.output.strip().splitlines()) == 1
