"""Job status, listing, cancel and artifact download. A key sees its own jobs; admin sees all."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse

from serving.auth import Principal
from serving.errors import ApiError
from serving.jobs import Job, JobState
from serving.protocol import ErrorEnvelope, JobListOut, JobOut
from serving.routes.deps import any_key
from serving.runtime import Runtime, get_runtime

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses={401: {"model": ErrorEnvelope}})

_JOB_ID = Path(pattern=r"^[0-9a-f]{32}$", description="Job id returned when the job was created.")


def _visible_job(runtime: Runtime, principal: Principal, job_id: str) -> Job:
    job = runtime.store.get(job_id)
    if job is None or not (principal.is_admin or job.owner_key == principal.key_id):
        raise ApiError(404, f"no job {job_id}", "job_id")
    return job


@router.get("", response_model=JobListOut)
def list_jobs(
    state: JobState | None = Query(None, description="Only jobs in this state."),
    limit: int = Query(50, ge=1, le=500),
    principal: Principal = Depends(any_key),
    runtime: Runtime = Depends(get_runtime),
) -> JobListOut:
    owner = None if principal.is_admin else principal.key_id
    return JobListOut(jobs=[JobOut.from_job(j) for j in runtime.store.list(owner, state, limit)])


@router.get("/{job_id}", response_model=JobOut, responses={404: {"model": ErrorEnvelope}})
def get_job(
    job_id: str = _JOB_ID, principal: Principal = Depends(any_key), runtime: Runtime = Depends(get_runtime)
) -> JobOut:
    return JobOut.from_job(_visible_job(runtime, principal, job_id))


@router.post("/{job_id}/cancel", response_model=JobOut, responses={404: {"model": ErrorEnvelope}})
def cancel_job(
    job_id: str = _JOB_ID, principal: Principal = Depends(any_key), runtime: Runtime = Depends(get_runtime)
) -> JobOut:
    """Queued jobs are cancelled at once; running ones stop at their next progress report."""
    _visible_job(runtime, principal, job_id)
    job = runtime.store.request_cancel(job_id)
    if job is None:  # deleted between the two reads
        raise ApiError(404, f"no job {job_id}", "job_id")
    return JobOut.from_job(job)


@router.get("/{job_id}/artifacts/{name}", response_class=FileResponse, responses={404: {"model": ErrorEnvelope}})
def get_artifact(
    job_id: str = _JOB_ID,
    name: str = Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,200}$"),
    principal: Principal = Depends(any_key),
    runtime: Runtime = Depends(get_runtime),
) -> FileResponse:
    job = _visible_job(runtime, principal, job_id)
    if name not in (job.result or {}).get("artifacts", []):
        raise ApiError(404, f"job {job_id} has no artifact {name!r}", "name")
    path = runtime.settings.artifacts_dir / job_id / name
    if not path.is_file():
        raise ApiError(404, f"artifact {name!r} of job {job_id} is no longer on disk", "name")
    return FileResponse(path, filename=name)
