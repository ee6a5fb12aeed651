"""Liveness, readiness and metrics: no API key needed (probes and scrapers run inside the cluster)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from serving.metrics import CONTENT_TYPE_LATEST
from serving.protocol import HealthOut, ReadyOut
from serving.runtime import Runtime, get_runtime

router = APIRouter(tags=["system"])

try:
    _VERSION = version("note-studio")
except PackageNotFoundError:  # running from a source tree that was never installed
    _VERSION = "0+unknown"


@router.get("/health", response_model=HealthOut)
def health() -> HealthOut:
    """The process answers. Cheap on purpose: load balancers call it constantly."""
    return HealthOut(version=_VERSION)


@router.get("/ready", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
def ready(runtime: Runtime = Depends(get_runtime)) -> JSONResponse:
    """The database answers and job workers run; 503 with the failing check otherwise."""
    checks: dict[str, str] = {}
    try:
        with runtime.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "not ready", reported, never raised
        checks["database"] = f"error: {type(exc).__name__}"
    checks["jobs"] = "ok" if runtime.started else "not started"
    checks["models"] = f"{len(runtime.registry)} configured"
    ok = checks["database"] == "ok" and checks["jobs"] == "ok"
    return JSONResponse(ReadyOut(ready=ok, checks=checks).model_dump(), status_code=200 if ok else 503)


@router.get("/metrics", response_class=Response)
async def metrics(runtime: Runtime = Depends(get_runtime)) -> Response:
    """Prometheus text format: the requests of every ingress replica (label `replica`) and the jobs."""
    return Response(await runtime.render_metrics(), media_type=CONTENT_TYPE_LATEST)
