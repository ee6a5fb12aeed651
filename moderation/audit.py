"""Audit trail of moderation decisions through SQLAlchemy (the same database as jobs).

Every decision is stored with a hash of its input (not the input itself: listings may hold personal
data), the versions of lexicon / brands / policy / classifier that made it, the labels and evidence, the
public id of the key that asked for it (`requested_by`) and of the merchant whose listing it judged
(`merchant_id`, when the listing names one). An appeal is a record of its own (who, when, why) in
`moderation_appeals`: appeals accumulate, and the original decision is never rewritten.

Who may see a decision (and appeal it) is decided here, in the queries, so "not yours" and "no such
decision" are the same answer: see `Viewer`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, Float, ForeignKey, String, Text, func, insert, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from moderation.types import ModerationResult

__all__ = ["AuditLog", "AppealLimitError", "Viewer", "MAX_APPEALS_PER_KEY", "input_hash"]

#: Appeals one key may file against one decision (each is kept; this bounds what a key can pile up).
MAX_APPEALS_PER_KEY = 5


class _Base(DeclarativeBase):
    pass


class _Decision(_Base):
    __tablename__ = "moderation_decisions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    listing_id: Mapped[str | None] = mapped_column(String(256), index=True, nullable=True)
    input_hash: Mapped[str] = mapped_column(String(64), index=True)
    decision: Mapped[str] = mapped_column(String(16), index=True)
    risk: Mapped[float] = mapped_column(Float)
    labels: Mapped[list] = mapped_column(JSON)
    engine: Mapped[str] = mapped_column(String(64))
    versions: Mapped[dict] = mapped_column(JSON)
    api_key: Mapped[str] = mapped_column(String(64), default="")  # as before 0004; `requested_by` decides access
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    review_state: Mapped[str] = mapped_column(String(16), default="none")  # none | requested
    # Written only by releases before revision 0004 (one reason, overwritten by each appeal); 0004 copied
    # them into `moderation_appeals`. Kept so such a release keeps working during a rolling deploy.
    appeal_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    appealed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # NULL in rows written before revision 0004: such decisions are visible to admin keys only.
    requested_by: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    merchant_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)


class _Appeal(_Base):
    __tablename__ = "moderation_appeals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    decision_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("moderation_decisions.id", ondelete="CASCADE"), index=True
    )
    appellant: Mapped[str | None] = mapped_column(String(64), nullable=True)  # NULL: copied from before 0004
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a key's public id, and whether it is an admin key.

    A decision is visible to the key that asked for it (`requested_by`), to the merchant its listing names
    (`merchant_id`) and to admin keys; the same keys may appeal it. Of its appeals, admin keys and the
    requesting key see all; a merchant sees its own.
    """

    key_id: str
    admin: bool = False

    def sees_decision(self, row: _Decision) -> bool:
        return self.admin or (bool(self.key_id) and self.key_id in (row.requested_by, row.merchant_id))

    def sees_every_appeal(self, row: _Decision) -> bool:
        return self.admin or (bool(self.key_id) and self.key_id == row.requested_by)


class AppealLimitError(Exception):
    """The key has filed `MAX_APPEALS_PER_KEY` appeals against this decision already."""


def input_hash(record: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the input record (images included as given)."""
    canonical = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()  # as sent, lone surrogates too


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _row_dict(row: _Decision, appeals: list[_Appeal]) -> dict[str, Any]:
    shown = [{"appellant": a.appellant, "reason": a.reason, "created_at": _iso(a.created_at)} for a in appeals]
    return {
        "decision_id": row.id,
        "id": row.listing_id,
        "input_hash": row.input_hash,
        "decision": row.decision,
        "risk": row.risk,
        "labels": row.labels,
        "engine": row.engine,
        "versions": row.versions,
        "created_at": _iso(row.created_at),
        "requested_by": row.requested_by,
        "merchant_id": row.merchant_id,
        "review_state": row.review_state,
        "appeals": shown,
        "appeal_reason": shown[-1]["reason"] if shown else None,
        "appealed_at": shown[-1]["created_at"] if shown else None,
    }


class AuditLog:
    """Decision records in the database of `engine` (the service passes the job store's engine).

    The table's schema is owned by the service's migrations (`serving.db`): opening the log upgrades the
    database to the newest revision, as the job store does.
    """

    def __init__(self, engine: Engine) -> None:
        from serving.db import upgrade  # imported here: serving.db's ORM metadata imports this module

        self.engine = engine
        upgrade(engine)
        self._session = sessionmaker(engine, expire_on_commit=False)

    def record_many(
        self,
        items: list[tuple[ModerationResult, str]],
        api_key: str = "",
        merchant_ids: list[str | None] | None = None,
    ) -> list[str]:
        """Store (result, input hash) pairs asked for by key `api_key` in one transaction; sets and returns each
        `decision_id`. `merchant_ids[i]` is the merchant whose listing `items[i]` judged (None: none named)."""
        if merchant_ids is not None and len(merchant_ids) != len(items):
            raise ValueError(f"merchant_ids: {len(merchant_ids)} ids for {len(items)} results")
        now = datetime.now(UTC)
        rows = []
        for index, (result, digest) in enumerate(items):
            result.decision_id = uuid.uuid4().hex
            rows.append(
                {
                    "id": result.decision_id,
                    "listing_id": None if result.id is None else str(result.id),
                    "input_hash": digest,
                    "decision": result.decision,
                    "risk": result.risk,
                    "labels": [label.to_dict() for label in result.labels],
                    "engine": result.engine,
                    "versions": result.versions,
                    "api_key": api_key,
                    "requested_by": api_key or None,
                    "merchant_id": merchant_ids[index] if merchant_ids is not None else None,
                    "created_at": now,
                    "review_state": "none",
                }
            )
        if rows:
            with self.engine.begin() as connection:  # one executemany: the ORM unit of work costs 4x more
                connection.execute(insert(_Decision), rows)
        return [row["id"] for row in rows]

    def get(self, decision_id: str, viewer: Viewer) -> dict[str, Any] | None:
        """The decision with the appeals `viewer` may see; None when there is none or `viewer` may not see it."""
        with self._session() as session:
            return self._visible(session, decision_id, viewer)

    def appeal(self, decision_id: str, reason: str, viewer: Viewer) -> dict[str, Any] | None:
        """Add an appeal by `viewer` and mark the decision for human review; earlier appeals are kept.

        Returns the decision as `viewer` sees it, or None when there is none or `viewer` may not see it.

        Raises:
            AppealLimitError: `viewer` has filed `MAX_APPEALS_PER_KEY` appeals against this decision.
        """
        with self._session.begin() as session:
            row = session.get(_Decision, decision_id)
            if row is None or not viewer.sees_decision(row):
                return None
            filed = session.scalar(
                select(func.count())
                .select_from(_Appeal)
                .where(_Appeal.decision_id == decision_id, _Appeal.appellant == viewer.key_id)
            )
            if filed >= MAX_APPEALS_PER_KEY:
                raise AppealLimitError(f"this key has appealed decision {decision_id} {filed} times already")
            session.execute(
                insert(_Appeal).values(
                    id=uuid.uuid4().hex,
                    decision_id=decision_id,
                    appellant=viewer.key_id,
                    reason=reason[:2000],
                    created_at=datetime.now(UTC),
                )
            )
            session.execute(update(_Decision).where(_Decision.id == decision_id).values(review_state="requested"))
        with self._session() as session:
            return self._visible(session, decision_id, viewer)

    @staticmethod
    def _visible(session: Any, decision_id: str, viewer: Viewer) -> dict[str, Any] | None:
        row = session.get(_Decision, decision_id)
        if row is None or not viewer.sees_decision(row):
            return None
        query = select(_Appeal).where(_Appeal.decision_id == decision_id)
        if not viewer.sees_every_appeal(row):
            query = query.where(_Appeal.appellant == viewer.key_id)
        appeals = session.scalars(query.order_by(_Appeal.created_at, _Appeal.id)).all()
        return _row_dict(row, list(appeals))
