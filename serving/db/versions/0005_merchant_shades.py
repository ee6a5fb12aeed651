"""Merchants' own shades for AR try-on (`ar_tryon.shade_store`).

One new table, `merchant_shades`: one row per shade, owned by the API key that added it (indexed), with its
colour, kind and finish, and what a swatch photo said about it (JSON, null for shades given by colour). The
built-in catalog stays a packaged file. Nothing existing changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "merchant_shades",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner_key", sa.String(64), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("hex", sa.String(7), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("finish", sa.String(16), nullable=False),
        sa.Column("swatch", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_merchant_shades_owner_key", "merchant_shades", ["owner_key"])


def downgrade() -> None:
    op.drop_index("ix_merchant_shades_owner_key", table_name="merchant_shades")
    op.drop_table("merchant_shades")
