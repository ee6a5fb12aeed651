"""Durable job records through SQLAlchemy (SQLite file by default, PostgreSQL by URL).

Every state change is one short transaction, so any number of runner threads or replicas can share the
store: a job is claimed with a conditional UPDATE (`WHERE state='queued'`), and liveness is a heartbeat
column, so a job whose worker died is found by age and requeued or failed — never left running forever.
Webhook deliveries are claimed the same way, one attempt at a time. The schema is owned by the Alembic
migrations in `serving.db`: opening a store upgrades the database to the newest revision.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    create_engine,
    event,
    or_,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from serving.db import upgrade

__all__ = ["JobState", "Job", "JobStore", "TERMINAL_STATES"]


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


def _now() -> datetime:
    return datetime.now(UTC)


class _Base(DeclarativeBase):
    pass


class _JobRow(_Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner_key: Mapped[str] = mapped_column(String(64), index=True, default="")
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=1)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    webhook_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    webhook_state: Mapped[str] = mapped_column(String(16), index=True, default="none")  # none|pending|delivered|failed
    webhook_attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: When the next delivery attempt is due (NULL: now); while an attempt is in flight, the end of its lease.
    webhook_next_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


@dataclass(frozen=True)
class Job:
    """A snapshot of one job row."""

    id: str
    kind: str
    state: JobState
    progress: float
    message: str
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    owner_key: str
    attempts: int
    max_attempts: int
    cancel_requested: bool
    webhook_url: str | None
    webhook_state: str
    webhook_attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    webhook_next_at: datetime | None = None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @classmethod
    def _from_row(cls, row: _JobRow) -> Job:
        def aware(value: datetime | None) -> datetime | None:  # SQLite drops tzinfo on the way back
            return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

        return cls(
            id=row.id,
            kind=row.kind,
            state=JobState(row.state),
            progress=row.progress,
            message=row.message,
            params=row.params or {},
            result=row.result,
            error=row.error,
            owner_key=row.owner_key,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            cancel_requested=row.cancel_requested,
            webhook_url=row.webhook_url,
            webhook_state=row.webhook_state,
            webhook_attempts=row.webhook_attempts,
            created_at=aware(row.created_at),
            started_at=aware(row.started_at),
            finished_at=aware(row.finished_at),
            webhook_next_at=aware(row.webhook_next_at),
        )


class JobStore:
    """All reads and writes of job rows; opening one brings the database schema to the newest revision."""

    def __init__(self, url: str) -> None:
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        upgrade(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    # -- create / read ---------------------------------------------------------------------------------
    def create(
        self,
        kind: str,
        params: dict[str, Any] | None = None,
        owner_key: str = "",
        webhook_url: str | None = None,
        max_attempts: int = 1,
    ) -> Job:
        row = _JobRow(
            id=uuid.uuid4().hex,
            kind=kind,
            state=JobState.QUEUED.value,
            progress=0.0,
            message="queued",
            params=params or {},
            owner_key=owner_key,
            attempts=0,
            max_attempts=max_attempts,
            cancel_requested=False,
            webhook_url=webhook_url,
            webhook_state="pending" if webhook_url else "none",
            webhook_attempts=0,
            created_at=_now(),
        )
        with self._session.begin() as session:
            session.add(row)
        return Job._from_row(row)

    def get(self, job_id: str) -> Job | None:
        with self._session() as session:
            row = session.get(_JobRow, job_id)
            return Job._from_row(row) if row else None

    def list(self, owner_key: str | None = None, state: JobState | None = None, limit: int = 50) -> list[Job]:
        query = select(_JobRow).order_by(_JobRow.created_at.desc()).limit(limit)
        if owner_key is not None:
            query = query.where(_JobRow.owner_key == owner_key)
        if state is not None:
            query = query.where(_JobRow.state == state.value)
        with self._session() as session:
            return [Job._from_row(row) for row in session.scalars(query)]

    def count_by_state(self) -> dict[str, int]:
        from sqlalchemy import func

        with self._session() as session:
            rows = session.execute(select(_JobRow.state, func.count()).group_by(_JobRow.state)).all()
        return {state: count for state, count in rows}

    # -- worker side -----------------------------------------------------------------------------------
    def claim(self, worker: str, kinds: set[str] | None = None) -> Job | None:
        """Atomically move the oldest queued job (of `kinds`) to running for `worker`."""
        for _ in range(5):  # another worker may win the race for the same row; try the next one
            query = select(_JobRow.id).where(_JobRow.state == JobState.QUEUED.value)
            if kinds is not None:
                query = query.where(_JobRow.kind.in_(kinds))
            with self._session.begin() as session:
                job_id = session.scalar(query.order_by(_JobRow.created_at).limit(1))
                if job_id is None:
                    return None
                now = _now()
                claimed = session.execute(
                    update(_JobRow)
                    .where(_JobRow.id == job_id, _JobRow.state == JobState.QUEUED.value)
                    .values(
                        state=JobState.RUNNING.value,
                        worker=worker,
                        started_at=now,
                        heartbeat_at=now,
                        attempts=_JobRow.attempts + 1,
                        message="running",
                    )
                ).rowcount
            if claimed == 1:
                return self.get(job_id)
        return None

    def heartbeat(self, job_id: str, worker: str, progress: float | None = None, message: str | None = None) -> bool:
        """Record liveness (and progress); returns True when a cancel was requested."""
        values: dict[str, Any] = {"heartbeat_at": _now()}
        if progress is not None:
            values["progress"] = max(0.0, min(1.0, progress))
        if message is not None:
            values["message"] = message[:1000]
        with self._session.begin() as session:
            session.execute(
                update(_JobRow)
                .where(_JobRow.id == job_id, _JobRow.worker == worker, _JobRow.state == JobState.RUNNING.value)
                .values(**values)
            )
            return bool(session.scalar(select(_JobRow.cancel_requested).where(_JobRow.id == job_id)))

    def finish(
        self,
        job_id: str,
        worker: str,
        state: JobState,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        message: str | None = None,
    ) -> bool:
        """Move a running job owned by `worker` to a terminal state; False if it was taken from the worker."""
        values: dict[str, Any] = {
            "state": state.value,
            "finished_at": _now(),
            "message": message or state.value,
        }
        if state == JobState.SUCCEEDED:
            values.update(progress=1.0, result=result)
        if error is not None:
            values["error"] = error[:4000]
        with self._session.begin() as session:
            return (
                session.execute(
                    update(_JobRow)
                    .where(
                        _JobRow.id == job_id,
                        _JobRow.worker == worker,
                        _JobRow.state == JobState.RUNNING.value,
                    )
                    .values(**values)
                ).rowcount
                == 1
            )

    def release(self, job_id: str, worker: str, message: str) -> bool:
        """Give a running job back to the queue (graceful shutdown); the interrupted run is not counted."""
        with self._session.begin() as session:
            return (
                session.execute(
                    update(_JobRow)
                    .where(
                        _JobRow.id == job_id,
                        _JobRow.worker == worker,
                        _JobRow.state == JobState.RUNNING.value,
                    )
                    .values(
                        state=JobState.QUEUED.value,
                        worker=None,
                        message=message,
                        attempts=_JobRow.attempts - 1,
                    )
                ).rowcount
                == 1
            )

    def request_cancel(self, job_id: str) -> Job | None:
        """Cancel a queued job at once; flag a running job for its worker; terminal jobs are left as they are."""
        with self._session.begin() as session:
            row = session.get(_JobRow, job_id, with_for_update=True)
            if row is None:
                return None
            if row.state == JobState.QUEUED.value:
                row.state, row.finished_at, row.message = (
                    JobState.CANCELLED.value,
                    _now(),
                    "cancelled before start",
                )
            elif row.state == JobState.RUNNING.value:
                row.cancel_requested, row.message = True, "cancelling"
        return self.get(job_id)

    def recover_stale(self, stale_after: timedelta) -> list[Job]:
        """Requeue (attempts left) or fail (none left) running jobs whose heartbeat stopped."""
        cutoff = _now() - stale_after
        recovered: list[str] = []
        with self._session.begin() as session:
            rows = session.scalars(
                select(_JobRow).where(_JobRow.state == JobState.RUNNING.value, _JobRow.heartbeat_at < cutoff)
            ).all()
            for row in rows:
                reason = f"worker {row.worker} stopped answering (no heartbeat since {row.heartbeat_at:%H:%M:%S})"
                if row.cancel_requested:
                    row.state, row.message = JobState.CANCELLED.value, "cancelled; " + reason
                    row.finished_at = _now()
                elif row.attempts < row.max_attempts:
                    row.state, row.worker, row.message = JobState.QUEUED.value, None, "requeued: " + reason
                else:
                    row.state, row.error, row.message = JobState.FAILED.value, reason, "failed"
                    row.finished_at = _now()
                recovered.append(row.id)
        return [job for job in (self.get(i) for i in recovered) if job]

    # -- webhooks --------------------------------------------------------------------------------------
    def pending_webhooks(self) -> list[Job]:
        """Terminal jobs whose webhook has not been delivered or given up on (survives restarts)."""
        query = select(_JobRow).where(
            _JobRow.webhook_state == "pending", _JobRow.state.in_([s.value for s in TERMINAL_STATES])
        )
        with self._session() as session:
            return [Job._from_row(row) for row in session.scalars(query)]

    def claim_webhook(self, job_id: str, lease: timedelta) -> Job | None:
        """Take the next delivery attempt of a terminal job whose webhook is pending and due; None otherwise.

        The claim moves `webhook_next_at` to the end of `lease`, so no other sender (replica) takes the same
        attempt while it is in flight; one that dies mid-attempt leaves it due again once the lease ends.
        """
        now = _now()
        with self._session.begin() as session:
            claimed = session.execute(
                update(_JobRow)
                .where(
                    _JobRow.id == job_id,
                    _JobRow.webhook_state == "pending",
                    _JobRow.webhook_url.is_not(None),
                    _JobRow.state.in_([s.value for s in TERMINAL_STATES]),
                    or_(_JobRow.webhook_next_at.is_(None), _JobRow.webhook_next_at <= now),
                )
                .values(webhook_next_at=now + lease)
            ).rowcount
        return self.get(job_id) if claimed == 1 else None

    def record_webhook(self, job_id: str, attempts_before: int, state: str, next_at: datetime | None = None) -> bool:
        """Count one finished attempt: `state` pending (retry due at `next_at`), delivered or failed.

        Only the attempt that was claimed with `attempts_before` attempts counts; False when another sender
        recorded one in between (its lease had run out).
        """
        if state not in ("pending", "delivered", "failed"):
            raise ValueError(f"webhook state must be pending, delivered or failed, got {state!r}")
        with self._session.begin() as session:
            return (
                session.execute(
                    update(_JobRow)
                    .where(
                        _JobRow.id == job_id,
                        _JobRow.webhook_state == "pending",
                        _JobRow.webhook_attempts == attempts_before,
                    )
                    .values(webhook_state=state, webhook_attempts=attempts_before + 1, webhook_next_at=next_at)
                ).rowcount
                == 1
            )


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    """WAL lets readers (status polls) run while a worker writes; busy_timeout absorbs short write races."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes, one fsync per checkpoint
    cursor.close()
