"""Audit trail of moderation decisions through SQLAlchemy (the same database as jobs).

Every decision is stored with a hash of its input (not the input itself: listings may hold personal
data), the versions of lexicon / brands / policy / classifier that made it, the labels and evidence. An
appeal marks a decision for human review; the original decision is never rewritten.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, Float, String, Text, insert, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from moderation.types import ModerationResult

__all__ = ["AuditLog", "input_hash"]


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
    api_key: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    review_state: Mapped[str] = mapped_column(String(16), default="none")  # none | requested
    appeal_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    appealed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


def input_hash(record: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the input record (images included as given)."""
    return hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _row_dict(row: _Decision) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        if value is None:
            return None
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()

    return {
        "decision_id": row.id,
        "id": row.listing_id,
        "input_hash": row.input_hash,
        "decision": row.decision,
        "risk": row.risk,
        "labels": row.labels,
        "engine": row.engine,
        "versions": row.versions,
        "created_at": iso(row.created_at),
        "review_state": row.review_state,
        "appeal_reason": row.appeal_reason,
        "appealed_at": iso(row.appealed_at),
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

    def record_many(self, items: list[tuple[ModerationResult, str]], api_key: str = "") -> list[str]:
        """Store (result, input hash) pairs in one transaction; sets and returns each `decision_id`."""
        now = datetime.now(UTC)
        rows = []
        for result, digest in items:
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
                    "created_at": now,
                    "review_state": "none",
                }
            )
        if rows:
            with self.engine.begin() as connection:  # one executemany: the ORM unit of work costs 4x more
                connection.execute(insert(_Decision), rows)
        return [row["id"] for row in rows]

    def get(self, decision_id: str) -> dict[str, Any] | None:
        with self._session() as session:
            row = session.get(_Decision, decision_id)
            return _row_dict(row) if row else None

    def appeal(self, decision_id: str, reason: str) -> dict[str, Any] | None:
        """Mark for human review; idempotent (a second appeal updates the reason)."""
        with self._session.begin() as session:
            changed = session.execute(
                update(_Decision)
                .where(_Decision.id == decision_id)
                .values(review_state="requested", appeal_reason=reason[:2000], appealed_at=datetime.now(UTC))
            ).rowcount
        return self.get(decision_id) if changed else None
