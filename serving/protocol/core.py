"""Wire models of the HTTP API (pydantic), with converters from library types. No logic lives here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, HttpUrl, StrictBool

from serving.jobs.store import Job

__all__ = [
    "ErrorDetail",
    "ErrorEnvelope",
    "HealthOut",
    "ReadyOut",
    "JobOut",
    "JobListOut",
    "ModelOut",
    "ModelListOut",
    "ModelCheckIn",
]


class ErrorDetail(BaseModel):
    type: str
    message: str
    param: str | None = None


class ErrorEnvelope(BaseModel):
    error: ErrorDetail


class HealthOut(BaseModel):
    status: str = "ok"
    version: str


class ReadyOut(BaseModel):
    ready: bool
    checks: dict[str, str]


class JobOut(BaseModel):
    id: str
    kind: str
    state: str
    progress: float = Field(ge=0, le=1)
    message: str
    result: dict[str, Any] | None = None
    error: str | None = None
    attempts: int
    webhook_state: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    links: dict[str, str]

    @classmethod
    def from_job(cls, job: Job) -> JobOut:
        links = {"self": f"/v1/jobs/{job.id}", "cancel": f"/v1/jobs/{job.id}/cancel"}
        for name in (job.result or {}).get("artifacts", []):
            links[f"artifact:{name}"] = f"/v1/jobs/{job.id}/artifacts/{name}"
        return cls(
            id=job.id,
            kind=job.kind,
            state=job.state.value,
            progress=job.progress,
            message=job.message,
            result=job.result,
            error=job.error,
            attempts=job.attempts,
            webhook_state=job.webhook_state,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            links=links,
        )


class JobListOut(BaseModel):
    jobs: list[JobOut]


class ModelOut(BaseModel):
    name: str
    task: str
    engine: str
    source: str
    revision: str
    dtype: str
    device: str
    licence: str
    description: str
    hosted: bool = Field(False, description="Served by its own ModelHost deployment in this app.")


class ModelListOut(BaseModel):
    registry: str
    models: list[ModelOut]


class ModelCheckIn(BaseModel):
    names: list[str] | None = Field(None, max_length=64, description="Models to check; all when omitted.")
    load: StrictBool = Field(False, description="Also load each engine (reads the weights; slow).")
    webhook_url: HttpUrl | None = Field(None, description="POSTed the job summary when the check finishes.")
