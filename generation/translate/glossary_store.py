"""Merchants' glossaries in the service's database (the jobs' database: SQLite file or PostgreSQL).

A glossary belongs to the API key that created it (its public key id). Every read and write names the owner,
and a glossary of another key is not found — never "forbidden", so ids of other merchants' glossaries leak
nothing; `owner_key=None` (admin) reads every glossary but writes none. A key keeps at most
`MAX_GLOSSARIES`; each glossary at most `MAX_TERMS` terms (checked by the models).

Two tables: `glossaries` (one row each) and `glossary_terms` (its terms, in their order). Every change is one
transaction, and a change of terms rewrites them all (a glossary has at most 2000: one executemany). The
schema belongs to the migrations in `serving.db` (revision 0003): opening a store upgrades the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from common.errors import InputError
from generation.translate.glossary import (
    MAX_NAME_CHARS,
    MAX_SOURCE_CHARS,
    MAX_TARGET_CHARS,
    MAX_TERMS,
    GlossaryIn,
    GlossaryOut,
    GlossaryPatch,
    GlossarySummary,
    GlossaryTerm,
    find_duplicate,
)

__all__ = ["GlossaryStore", "MAX_GLOSSARIES"]

#: Glossaries one API key may keep.
MAX_GLOSSARIES = 50


class _Base(DeclarativeBase):
    pass


class _GlossaryRow(_Base):
    __tablename__ = "glossaries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_key: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class _TermRow(_Base):
    __tablename__ = "glossary_terms"

    glossary_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("glossaries.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(MAX_SOURCE_CHARS))
    target: Mapped[str | None] = mapped_column(String(MAX_TARGET_CHARS), nullable=True)
    target_lang: Mapped[str | None] = mapped_column(String(16), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    case_sensitive: Mapped[bool] = mapped_column(Boolean)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value  # SQLite drops tzinfo on the way back


def _not_found(glossary_id: str, param: str) -> InputError:
    return InputError(f"{param}: no glossary {glossary_id}", param, status=404)


class GlossaryStore:
    """Reads and writes of glossaries; opening one brings the database schema to the newest revision.

    Args:
        target: a SQLAlchemy URL, or the engine of the job store (the service shares it: one pool, one
            database). A store opened on a URL owns its engine and disposes of it on `close()`.
    """

    def __init__(self, target: str | Engine) -> None:
        from serving.db import open_store  # imported here: serving.db's ORM metadata imports this module

        self.engine, self._owns_engine = open_store(target)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    # -- reads -------------------------------------------------------------------------------------------------
    def get(self, owner_key: str | None, glossary_id: str) -> GlossaryOut | None:
        """The glossary `glossary_id` of `owner_key` (None: of any key); None when there is none."""
        with self._session() as session:
            row = self._row(session, owner_key, glossary_id)
            return None if row is None else self._out(session, row)

    def require(self, owner_key: str | None, glossary_id: str, param: str = "glossary_id") -> GlossaryOut:
        """`get`, or a 404 `InputError` naming `param` (what the translation service and routes answer)."""
        glossary = self.get(owner_key, glossary_id)
        if glossary is None:
            raise _not_found(glossary_id, param)
        return glossary

    def list(self, owner_key: str | None, limit: int = 500) -> list[GlossarySummary]:
        """Glossaries of `owner_key` (None: every key's), newest first, without their terms."""
        counts = select(_TermRow.glossary_id, func.count().label("n")).group_by(_TermRow.glossary_id).subquery("counts")
        query = (
            select(_GlossaryRow, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.glossary_id == _GlossaryRow.id)
            .order_by(_GlossaryRow.created_at.desc(), _GlossaryRow.id)
            .limit(limit)
        )
        if owner_key is not None:
            query = query.where(_GlossaryRow.owner_key == owner_key)
        with self._session() as session:
            return [self._summary(row, count) for row, count in session.execute(query)]

    def count(self, owner_key: str) -> int:
        with self._session() as session:
            return session.scalar(select(func.count()).where(_GlossaryRow.owner_key == owner_key)) or 0

    # -- writes ------------------------------------------------------------------------------------------------
    def create(self, owner_key: str, glossary: GlossaryIn) -> GlossaryOut:
        """Store a new glossary of `owner_key`.

        Raises:
            InputError: 409 when the key has `MAX_GLOSSARIES` already.
        """
        now = _now()
        row = _GlossaryRow(id=uuid.uuid4().hex, owner_key=owner_key, name=glossary.name, created_at=now, updated_at=now)
        with self._session.begin() as session:
            held = session.scalar(select(func.count()).where(_GlossaryRow.owner_key == owner_key)) or 0
            if held >= MAX_GLOSSARIES:
                raise InputError(
                    f"this API key has {held} glossaries, the most it may keep ({MAX_GLOSSARIES}); delete one first",
                    None,
                    status=409,
                )
            session.add(row)
            session.flush()
            self._write_terms(session, row.id, glossary.terms)
            return self._out(session, row)

    def replace(self, owner_key: str, glossary_id: str, glossary: GlossaryIn) -> GlossaryOut | None:
        """Replace the name and every term of a glossary of `owner_key`; None when it has none by that id."""
        with self._session.begin() as session:
            row = self._row(session, owner_key, glossary_id, lock=True)
            if row is None:
                return None
            row.name, row.updated_at = glossary.name, _now()
            session.execute(delete(_TermRow).where(_TermRow.glossary_id == glossary_id))
            self._write_terms(session, glossary_id, glossary.terms)
            return self._out(session, row)

    def patch(self, owner_key: str, glossary_id: str, change: GlossaryPatch) -> GlossaryOut | None:
        """Remove `change.remove`, then append `change.add`; None when `owner_key` has no such glossary.

        Raises:
            InputError: 422 naming `remove.N` (no such term), `add.N.source` (a term it has already) or `add`
                (more than `MAX_TERMS` terms after the change).
        """
        with self._session.begin() as session:
            row = self._row(session, owner_key, glossary_id, lock=True)
            if row is None:
                return None
            terms = self._terms(session, glossary_id)
            for index, key in enumerate(change.remove):
                kept = [term for term in terms if not key.matches(term)]
                if len(kept) == len(terms):
                    lang = key.target_lang or "every language"
                    raise InputError(
                        f"remove.{index}: the glossary has no term {key.source!r} for {lang}", f"remove.{index}"
                    )
                terms = kept
            duplicate = find_duplicate(change.add, terms)
            if duplicate is not None:
                term = change.add[duplicate.index]
                where = f"add.{duplicate.index}.source"
                earlier = "a term the glossary has" if duplicate.existing else f"add.{duplicate.earlier}"
                raise InputError(f"{where}: {duplicate.describe(term, earlier)}", where)
            if len(terms) + len(change.add) > MAX_TERMS:
                raise InputError(
                    f"add: the glossary would have {len(terms) + len(change.add)} terms, at most {MAX_TERMS}", "add"
                )
            row.updated_at = _now()
            session.execute(delete(_TermRow).where(_TermRow.glossary_id == glossary_id))
            self._write_terms(session, glossary_id, [*terms, *change.add])
            return self._out(session, row)

    def delete(self, owner_key: str, glossary_id: str) -> bool:
        """Delete a glossary of `owner_key` with its terms; False when it has none by that id."""
        with self._session.begin() as session:
            row = self._row(session, owner_key, glossary_id, lock=True)
            if row is None:
                return False
            # Terms first: SQLite enforces the foreign key's ON DELETE CASCADE only with PRAGMA foreign_keys.
            session.execute(delete(_TermRow).where(_TermRow.glossary_id == glossary_id))
            session.delete(row)
            return True

    # -- rows ----------------------------------------------------------------------------------------------
    @staticmethod
    def _row(session: Session, owner_key: str | None, glossary_id: str, lock: bool = False) -> _GlossaryRow | None:
        query = select(_GlossaryRow).where(_GlossaryRow.id == glossary_id)
        if owner_key is not None:
            query = query.where(_GlossaryRow.owner_key == owner_key)
        if lock:
            query = query.with_for_update()  # PostgreSQL: concurrent changes of one glossary queue up
        return session.scalar(query)

    @staticmethod
    def _write_terms(session: Session, glossary_id: str, terms: Sequence[GlossaryTerm]) -> None:
        if not terms:
            return
        rows: list[dict[str, Any]] = [
            {
                "glossary_id": glossary_id,
                "position": position,
                "source": term.source,
                "target": term.target,
                "target_lang": term.target_lang,
                "kind": term.kind,
                "case_sensitive": term.case_sensitive,
            }
            for position, term in enumerate(terms)
        ]
        session.execute(insert(_TermRow), rows)  # one executemany; the ORM unit of work costs several times more

    @staticmethod
    def _terms(session: Session, glossary_id: str) -> list[GlossaryTerm]:
        rows = session.execute(
            select(_TermRow).where(_TermRow.glossary_id == glossary_id).order_by(_TermRow.position)
        ).scalars()
        # Stored terms were validated when written: rebuilt as they are (a language dropped from the service
        # later must not make a merchant's glossary unreadable).
        return [
            GlossaryTerm.model_construct(
                source=row.source,
                target=row.target,
                target_lang=row.target_lang,
                kind=row.kind,
                case_sensitive=row.case_sensitive,
            )
            for row in rows
        ]

    @staticmethod
    def _summary(row: _GlossaryRow, term_count: int) -> GlossarySummary:
        return GlossarySummary(
            id=row.id,
            owner_key=row.owner_key,
            name=row.name,
            term_count=term_count,
            created_at=_aware(row.created_at),
            updated_at=_aware(row.updated_at),
        )

    def _out(self, session: Session, row: _GlossaryRow) -> GlossaryOut:
        terms = self._terms(session, row.id)
        return GlossaryOut(**self._summary(row, len(terms)).model_dump(), terms=terms)
