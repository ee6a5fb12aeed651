"""Decision access and appeal history: who asked for a decision, whose listing it judged, and every appeal.

`moderation_decisions` gains `requested_by` (the public id of the key that asked) and `merchant_id` (the
public id of the merchant key the listing named), both nullable and indexed: rows written before this
revision keep NULL in both, so only admin keys can read or appeal them. A new table `moderation_appeals`
holds one row per appeal (who, when, why), deleted with its decision; the single appeal a decision could
hold before (`appeal_reason`, `appealed_at`, overwritten by each appeal) is copied into it with an unknown
appellant. Those two columns stay, unused by this release, so an older replica keeps working during a
rolling deploy.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("moderation_decisions") as batch:
        batch.add_column(sa.Column("requested_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("merchant_id", sa.String(64), nullable=True))
        batch.create_index("ix_moderation_decisions_requested_by", ["requested_by"])
        batch.create_index("ix_moderation_decisions_merchant_id", ["merchant_id"])
    op.create_table(
        "moderation_appeals",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("decision_id", sa.String(32), nullable=False),
        sa.Column("appellant", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["decision_id"], ["moderation_decisions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_moderation_appeals_decision_id", "moderation_appeals", ["decision_id"])
    # One appeal per decision could exist: the decision's id is unique, so it serves as the appeal's id.
    op.execute(
        "INSERT INTO moderation_appeals (id, decision_id, appellant, reason, created_at) "
        "SELECT id, id, NULL, appeal_reason, COALESCE(appealed_at, created_at) "
        "FROM moderation_decisions WHERE appeal_reason IS NOT NULL"
    )


def downgrade() -> None:
    # The newest appeal of each decision goes back into the single-appeal columns; the rest are lost.
    op.execute(
        "UPDATE moderation_decisions SET "
        "appeal_reason = (SELECT a.reason FROM moderation_appeals a WHERE a.decision_id = moderation_decisions.id "
        "ORDER BY a.created_at DESC, a.id DESC LIMIT 1), "
        "appealed_at = (SELECT a.created_at FROM moderation_appeals a WHERE a.decision_id = moderation_decisions.id "
        "ORDER BY a.created_at DESC, a.id DESC LIMIT 1) "
        "WHERE EXISTS (SELECT 1 FROM moderation_appeals a WHERE a.decision_id = moderation_decisions.id)"
    )
    op.drop_index("ix_moderation_appeals_decision_id", table_name="moderation_appeals")
    op.drop_table("moderation_appeals")
    with op.batch_alter_table("moderation_decisions") as batch:
        batch.drop_index("ix_moderation_decisions_merchant_id")
        batch.drop_index("ix_moderation_decisions_requested_by")
        batch.drop_column("merchant_id")
        batch.drop_column("requested_by")
