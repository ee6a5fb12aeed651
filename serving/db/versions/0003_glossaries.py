"""Glossaries: merchants' fixed translations and do-not-translate terms (`generation.translate.glossary_store`).

Two new tables: `glossaries` (one row per glossary, owned by the API key that created it) and `glossary_terms`
(its terms in order; deleted with their glossary). Nothing existing changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "glossaries",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner_key", sa.String(64), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_glossaries_owner_key", "glossaries", ["owner_key"])
    op.create_table(
        "glossary_terms",
        sa.Column("glossary_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column("target_lang", sa.String(16), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("case_sensitive", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["glossary_id"], ["glossaries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("glossary_id", "position"),
    )


def downgrade() -> None:
    op.drop_table("glossary_terms")
    op.drop_index("ix_glossaries_owner_key", table_name="glossaries")
    op.drop_table("glossaries")
