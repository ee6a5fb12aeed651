"""Alembic revisions of the Note Studio schema, oldest first (Alembic skips this file)."""
