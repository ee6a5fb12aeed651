"""`notestudio db upgrade|current`: the schema of the service's database (jobs, moderation decisions).

The service upgrades its database by itself when it starts; these commands do it (or look) by hand, e.g.
before a rolling deploy. `--database-url` defaults to the service's setting (`NOTESTUDIO_DATABASE_URL`, or
the SQLite file in `NOTESTUDIO_DATA_DIR`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from cli.errors import UsageError, exit_on_errors

T = TypeVar("T")

app = typer.Typer(help="Schema migrations of the service database (Alembic).", no_args_is_help=True)

UrlOption = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL (default: NOTESTUDIO_DATABASE_URL or the data dir's SQLite)."),
]


def _url(database_url: str | None) -> str:
    if database_url:
        return database_url
    from serving.settings import Settings

    return Settings().db_url


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _sqlite_path(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _run(action: Callable[[str], T], url: str) -> T:
    """Call `action(url)`, turning database errors into one-line usage errors."""
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from serving.db import MigrationError

    try:
        return action(url)
    except ModuleNotFoundError as exc:
        raise UsageError(f"{exc} (the driver for {_shown(url)}; PostgreSQL: pip install -e '.[postgres]')") from exc
    except (SQLAlchemyError, CommandError, MigrationError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"database {_shown(url)}: {first}") from exc


@app.command("upgrade")
@exit_on_errors
def upgrade(database_url: UrlOption = None) -> None:
    """Bring the database to the newest schema revision (creates it when empty; safe while replicas start)."""
    from serving import db

    url = _url(database_url)
    path = _sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    before = _run(db.current, url)
    reached = _run(db.upgrade, url)
    change = "already at" if before == reached else f"upgraded from {before or 'empty'} to"
    typer.echo(f"{_shown(url)}: {change} revision {reached} (head)")


@app.command("current")
@exit_on_errors
def current(database_url: UrlOption = None) -> None:
    """Print the database's schema revision and whether it is the newest this release knows."""
    from serving import db

    url = _url(database_url)
    path = _sqlite_path(url)
    if path is not None and not path.exists():
        raise UsageError(f"no database at {path} (create it with `notestudio db upgrade`)")
    revision = _run(db.current, url)
    newest = db.head()
    if revision is None:
        status = "no schema revision (empty, or created before migrations: `notestudio db upgrade` adopts it)"
    elif revision == newest:
        status = f"revision {revision} (head)"
    else:
        status = f"revision {revision}; newest is {newest}: run `notestudio db upgrade`"
    typer.echo(f"{_shown(url)}: {status}")
