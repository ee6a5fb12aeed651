"""Initial schema: the `jobs` and `moderation_decisions` tables as they were before migrations.

This revision is also the baseline of databases created before migrations existed: `serving.db.upgrade`
stamps a database holding both tables at this revision without running it, and a database holding only
one of them (a job store used without the audit log) gets the missing one created here, the other kept.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "jobs" not in existing:
        op.create_table(
            "jobs",
            sa.Column("id", sa.String(32), nullable=False),
            sa.Column("kind", sa.String(64), nullable=False),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("progress", sa.Float(), nullable=False),
            sa.Column("message", sa.Text(), nullable=False),
            sa.Column("params", sa.JSON(), nullable=False),
            sa.Column("result", sa.JSON(), nullable=True),
            sa.Column("error", sa.Text(), nullable=True),
            sa.Column("owner_key", sa.String(64), nullable=False),
            sa.Column("worker", sa.String(128), nullable=True),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("max_attempts", sa.Integer(), nullable=False),
            sa.Column("cancel_requested", sa.Boolean(), nullable=False),
            sa.Column("webhook_url", sa.Text(), nullable=True),
            sa.Column("webhook_state", sa.String(16), nullable=False),
            sa.Column("webhook_attempts", sa.Integer(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        for column in ("kind", "state", "owner_key"):
            op.create_index(f"ix_jobs_{column}", "jobs", [column])
    if "moderation_decisions" not in existing:
        op.create_table(
            "moderation_decisions",
            sa.Column("id", sa.String(32), nullable=False),
            sa.Column("listing_id", sa.String(256), nullable=True),
            sa.Column("input_hash", sa.String(64), nullable=False),
            sa.Column("decision", sa.String(16), nullable=False),
            sa.Column("risk", sa.Float(), nullable=False),
            sa.Column("labels", sa.JSON(), nullable=False),
            sa.Column("engine", sa.String(64), nullable=False),
            sa.Column("versions", sa.JSON(), nullable=False),
            sa.Column("api_key", sa.String(64), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("review_state", sa.String(16), nullable=False),
            sa.Column("appeal_reason", sa.Text(), nullable=True),
            sa.Column("appealed_at", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        for column in ("listing_id", "input_hash", "decision"):
            op.create_index(f"ix_moderation_decisions_{column}", "moderation_decisions", [column])


def downgrade() -> None:
    op.drop_table("moderation_decisions")
    op.drop_table("jobs")
