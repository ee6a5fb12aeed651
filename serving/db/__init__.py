"""Schema migrations (Alembic) of the tables Note Studio keeps in its database: `jobs`, `moderation_decisions`,
merchants' `glossaries` with their `glossary_terms`, and merchants' own try-on shades (`merchant_shades`).

Every store calls `upgrade(engine)` when it starts, so a deployed database (SQLite file or PostgreSQL) is
brought to the newest revision in place; `notestudio db upgrade|current` does the same by hand.

Safe when several replicas start at once: the upgrade runs under a lock — a PostgreSQL advisory lock
(`pg_advisory_lock`, held by the migrating connection, so a crashed replica releases it) or, for a SQLite
file, an exclusive `flock` on `<database>.migrate.lock` beside it. Whoever gets the lock second finds the
database at head and does nothing.

A database created before migrations existed (the tables are there, the version table is not) is stamped
at the initial revision, never recreated, and then upgraded. The version table is called
`notestudio_alembic_version`, so a PostgreSQL database shared with another Alembic project stays apart.

A new revision: add `versions/NNNN_what.py` (`script.py.mako` is its template; `command.revision(
alembic_config(connection), message, autogenerate=True, rev_id="NNNN")` writes a draft from the ORM),
and `tests/serving/test_migrations.py` checks that the ORM and the migrations agree.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, create_engine, inspect, text
from sqlalchemy.pool import NullPool

__all__ = [
    "INITIAL_REVISION",
    "MigrationError",
    "VERSION_TABLE",
    "alembic_config",
    "current",
    "head",
    "schema_diff",
    "target_metadata",
    "upgrade",
]

log = logging.getLogger(__name__)

SCRIPT_DIR = Path(__file__).resolve().parent
#: The revision that creates the tables as they were before migrations (pre-Alembic databases are stamped here).
INITIAL_REVISION = "0001"
#: Tables of the initial revision: all present and no version table means "created before migrations".
INITIAL_TABLES = ("jobs", "moderation_decisions")
VERSION_TABLE = "notestudio_alembic_version"
#: One 64-bit advisory lock key for "migrating the Note Studio schema" (advisory locks are per database).
PG_LOCK_KEY = int.from_bytes(hashlib.sha256(b"notestudio.serving.db.upgrade").digest()[:8], "big", signed=True)


class MigrationError(RuntimeError):
    """The database's schema cannot be brought to what this code expects (the message says why)."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config over this package's scripts; the env runs on `connection` (no `alembic.ini`)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_DIR))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision the code knows."""
    return _revisions()[0]


@functools.lru_cache(maxsize=1)
def _revisions() -> tuple[str, frozenset[str]]:
    """(head, every known revision) of `versions/`, read once per process."""
    scripts = ScriptDirectory.from_config(alembic_config())
    heads = scripts.get_heads()
    if len(heads) != 1:
        raise MigrationError(f"serving/db/versions must have exactly one head, found {heads}")
    return heads[0], frozenset(script.revision for script in scripts.walk_revisions())


def target_metadata() -> MetaData:
    """The ORM tables the migrations must produce (jobs, moderation decisions, glossaries, merchant shades; one
    MetaData)."""
    # Imported here: each of these modules imports this one.
    from ar_tryon.shade_store import _Base as ShadeBase
    from generation.translate.glossary_store import _Base as GlossaryBase
    from moderation.audit import _Base as AuditBase
    from serving.jobs.store import _Base as JobsBase

    merged = MetaData()
    for base in (JobsBase, AuditBase, GlossaryBase, ShadeBase):
        for table in base.metadata.tables.values():
            table.to_metadata(merged)
    return merged


def current(target: str | Engine) -> str | None:
    """The revision the database is at; None for a database without the version table."""
    with _connected(target) as engine, engine.connect() as connection:
        return _current(connection)


def open_store(target: str | Engine) -> tuple[Engine, bool]:
    """The engine a store reads and writes through, its schema brought to head, and whether the store owns it.

    `target` is a SQLAlchemy URL (the store opens, and later disposes of, its own pooled engine; SQLite is shared
    across threads and waits on locks) or the engine of the job store, shared: one pool, one database.
    """
    owns = isinstance(target, str)
    if isinstance(target, str):
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if target.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        target = create_engine(target, **kwargs)
    upgrade(target)
    return target, owns


def upgrade(target: str | Engine, revision: str = "head") -> str:
    """Bring the database at `target` (a SQLAlchemy URL or engine) to `revision`; returns the revision reached.

    Raises:
        MigrationError: the database is at a revision this code does not know (a newer release migrated it).
        sqlalchemy.exc.SQLAlchemyError: the database cannot be reached or a migration failed (rolled back on
            PostgreSQL, whose DDL is transactional).
    """
    wanted = head() if revision == "head" else revision
    with _connected(target) as engine:
        with engine.connect() as connection:  # fast path: most starts find the database at head, no lock needed
            if _current(connection) == wanted:
                return wanted
        with _migration_lock(engine) as connection:
            config = alembic_config(connection)
            tables = set(inspect(connection).get_table_names())
            if VERSION_TABLE not in tables and set(INITIAL_TABLES) <= tables:
                log.warning("database has Note Studio tables but no %s: stamping %s", VERSION_TABLE, INITIAL_REVISION)
                command.stamp(config, INITIAL_REVISION)
            before = _current(connection)
            if before is not None and before not in _revisions()[1]:
                raise MigrationError(
                    f"the database is at schema revision {before!r}, which this release does not know (newest: "
                    f"{head()!r}): a newer release migrated it; run that release, or restore a backup"
                )
            command.upgrade(config, revision)
            reached = _current(connection)
            connection.commit()
        if before != reached:
            log.info("database upgraded from %s to %s", before or "empty", reached)
        return reached or wanted


def schema_diff(target: str | Engine) -> list[Any]:
    """Differences between the database and the ORM, as Alembic autogenerate sees them ([] when they agree)."""
    with _connected(target) as engine, engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "compare_type": True, "compare_server_default": True}
        )
        return compare_metadata(context, target_metadata())


def _current(connection: Connection) -> str | None:
    """Read the version table directly (a MigrationContext would log twice at INFO on every store start)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    versions = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(versions) > 1:
        raise RuntimeError(f"{VERSION_TABLE} holds several revisions {versions}: serving/db has a single branch")
    return versions[0] if versions else None


@contextlib.contextmanager
def _connected(target: str | Engine) -> Iterator[Engine]:
    """The caller's engine as it is, or a throwaway one for a URL (disposed after)."""
    if isinstance(target, Engine):
        yield target
        return
    kwargs: dict[str, Any] = {"poolclass": NullPool}
    if target.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    engine = create_engine(target, **kwargs)
    try:
        yield engine
    finally:
        engine.dispose()


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection held under the cross-process migration lock of this database."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PG_LOCK_KEY})
            connection.commit()
            try:
                yield connection
            finally:
                connection.rollback()  # a failed migration leaves an aborted transaction behind
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_LOCK_KEY})
                connection.commit()
        return
    path = _sqlite_file(engine) if dialect == "sqlite" else None
    if path is None:  # in-memory SQLite (one process) or another backend: no lock to take
        if dialect != "sqlite":
            log.warning("no migration lock for %s: start one replica first when upgrading", dialect)
        with engine.connect() as connection:
            yield connection
        return
    with open(f"{path}.migrate.lock", "a+b") as lock_file:  # flock: per open file, so threads exclude each other too
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _sqlite_file(engine: Engine) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:") or engine.url.query.get("mode"):
        return None
    return Path(database).resolve()
