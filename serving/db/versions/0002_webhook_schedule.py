"""Webhook schedule: when a job's next delivery attempt is due, and an index to find pending deliveries.

`webhook_next_at` is NULL (due now) or the time a retry is due; while an attempt is in flight it holds the
end of that attempt's lease, so no other replica sends the same attempt. The index on `webhook_state`
keeps the periodic scan for pending deliveries off a full table scan as `jobs` grows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("webhook_next_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_jobs_webhook_state", ["webhook_state"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_webhook_state")
        batch.drop_column("webhook_next_at")
