"""Merchants' own shades in the service's database (the jobs' database: SQLite file or PostgreSQL).

A shade belongs to the API key that added it (its public key id). Every read and write names the owner, and a
shade of another key is not found — never "forbidden", so ids of other merchants' shades leak nothing. A key keeps
at most `MAX_MERCHANT_SHADES`. Ids are `ms_` + 24 hex digits, so they never collide with a built-in SKU.

One table, `merchant_shades` (revision 0005 of the migrations in `serving.db`: opening a store upgrades the
database). Every replica reads the same rows, so a shade added through one is usable at once through any other.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from ar_tryon.schema import MAX_SHADE_NAME_CHARS, MerchantShadeIn, MerchantShadePatch, ShadeOut, SwatchOut
from ar_tryon.shades import Shade, merchant_shade
from common.errors import InputError

__all__ = ["MerchantShadeStore", "MAX_MERCHANT_SHADES", "ID_PREFIX"]

#: Shades one API key may keep.
MAX_MERCHANT_SHADES = 500
ID_PREFIX = "ms_"


class _Base(DeclarativeBase):
    pass


class _ShadeRow(_Base):
    __tablename__ = "merchant_shades"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_key: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(MAX_SHADE_NAME_CHARS))
    hex: Mapped[str] = mapped_column(String(7))
    kind: Mapped[str] = mapped_column(String(16))
    finish: Mapped[str] = mapped_column(String(16))
    swatch: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value  # SQLite drops tzinfo on the way back


def is_merchant_id(shade_id: str) -> bool:
    return shade_id.startswith(ID_PREFIX)


class MerchantShadeStore:
    """Reads and writes of merchants' shades; opening one brings the database schema to the newest revision.

    Args:
        target: a SQLAlchemy URL, or the engine of the job store (the service shares it: one pool, one database).
            A store opened on a URL owns its engine and disposes of it on `close()`.
    """

    def __init__(self, target: str | Engine) -> None:
        from serving.db import open_store  # imported here: serving.db's ORM metadata imports this module

        self.engine, self._owns_engine = open_store(target)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    # -- reads -------------------------------------------------------------------------------------------------
    def list(self, owner_key: str) -> list[ShadeOut]:
        """Shades of `owner_key`, oldest first."""
        query = (
            select(_ShadeRow)
            .where(_ShadeRow.owner_key == owner_key)
            .order_by(_ShadeRow.created_at, _ShadeRow.id)
            .limit(MAX_MERCHANT_SHADES)
        )
        with self._session() as session:
            return [self._out(row) for row in session.scalars(query)]

    def get(self, owner_key: str, shade_id: str) -> ShadeOut | None:
        with self._session() as session:
            row = self._row(session, owner_key, shade_id)
            return None if row is None else self._out(row)

    def shade(self, owner_key: str, shade_id: str) -> Shade | None:
        """The renderers' `Shade` for a shade of `owner_key`; None when it has none by that id."""
        if not is_merchant_id(shade_id):
            return None
        with self._session() as session:
            row = self._row(session, owner_key, shade_id)
            return None if row is None else self._shade(row)

    def count(self, owner_key: str) -> int:
        with self._session() as session:
            return session.scalar(select(func.count()).where(_ShadeRow.owner_key == owner_key)) or 0

    # -- writes ------------------------------------------------------------------------------------------------
    def create(self, owner_key: str, shade: MerchantShadeIn, swatch: SwatchOut | None = None) -> ShadeOut:
        """Store a new shade of `owner_key`.

        Raises:
            InputError: 409 when the key has `MAX_MERCHANT_SHADES` already.
        """
        now = _now()
        row = _ShadeRow(
            id=ID_PREFIX + uuid.uuid4().hex[:24],
            owner_key=owner_key,
            name=shade.name,
            hex=shade.hex.upper(),
            kind=shade.kind,
            finish=shade.finish,
            swatch=None if swatch is None else swatch.model_dump(mode="json"),
            created_at=now,
            updated_at=now,
        )
        with self._session.begin() as session:
            held = session.scalar(select(func.count()).where(_ShadeRow.owner_key == owner_key)) or 0
            if held >= MAX_MERCHANT_SHADES:
                raise InputError(
                    f"this API key has {held} shades, the most it may keep ({MAX_MERCHANT_SHADES}); delete one first",
                    None,
                    status=409,
                )
            session.add(row)
            return self._out(row)

    def update(self, owner_key: str, shade_id: str, change: MerchantShadePatch) -> ShadeOut | None:
        """Change the given fields of a shade of `owner_key`; None when it has none by that id. A new colour
        drops what a swatch photo said about the old one."""
        with self._session.begin() as session:
            row = self._row(session, owner_key, shade_id, lock=True)
            if row is None:
                return None
            fields = change.model_dump(exclude_none=True)
            if "hex" in fields:
                fields["hex"] = fields["hex"].upper()
                if fields["hex"] != row.hex:
                    row.swatch = None
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = _now()
            return self._out(row)

    def delete(self, owner_key: str, shade_id: str) -> bool:
        """Delete a shade of `owner_key`; False when it has none by that id."""
        with self._session.begin() as session:
            row = self._row(session, owner_key, shade_id, lock=True)
            if row is None:
                return False
            session.delete(row)
            return True

    # -- rows ----------------------------------------------------------------------------------------------
    @staticmethod
    def _row(session: Session, owner_key: str, shade_id: str, lock: bool = False) -> _ShadeRow | None:
        query = select(_ShadeRow).where(_ShadeRow.id == shade_id, _ShadeRow.owner_key == owner_key)
        if lock:
            query = query.with_for_update()  # PostgreSQL: concurrent changes of one shade queue up
        return session.scalar(query)

    @staticmethod
    def _shade(row: _ShadeRow) -> Shade:
        return merchant_shade(row.id, row.name, row.hex, row.kind, row.finish)

    def _out(self, row: _ShadeRow) -> ShadeOut:
        swatch = None if row.swatch is None else SwatchOut.model_validate(row.swatch)
        return ShadeOut.from_shade(
            self._shade(row), created_at=_aware(row.created_at), updated_at=_aware(row.updated_at), swatch=swatch
        )
