"""Alembic environment: runs the revisions in `versions/` on the connection `serving.db` hands over.

There is no `alembic.ini` and no URL here: `serving.db.upgrade()` and `notestudio db` open the connection
(under the migration lock) and pass it in `config.attributes["connection"]`.
"""

from __future__ import annotations

from alembic import context

from serving.db import VERSION_TABLE, target_metadata

if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported: run `notestudio db upgrade` against the database")
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "serving/db migrations run through serving.db.upgrade() or `notestudio db upgrade`, which pass a connection"
    )

context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters most columns by copying the table
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
