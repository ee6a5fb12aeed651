"""The model registry over HTTP: list what is configured, check what loads (as a job)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from models.check import check_spec
from serving.auth import Principal
from serving.jobs import JobContext
from serving.protocol import ErrorEnvelope, JobOut, ModelCheckIn, ModelListOut, ModelOut
from serving.routes.deps import any_key, require
from serving.runtime import Runtime, get_runtime
from serving.services import Services

__all__ = ["router", "JOBS"]

admin_key = require("admin")

router = APIRouter(prefix="/v1/models", tags=["models"], responses={401: {"model": ErrorEnvelope}})


@router.get("", response_model=ModelListOut)
def list_models(_: Principal = Depends(any_key), runtime: Runtime = Depends(get_runtime)) -> ModelListOut:
    fields = set(ModelOut.model_fields) - {"hosted"}
    models = [
        ModelOut(**spec.model_dump(include=fields, mode="json"), hosted=spec.name in runtime.model_hosts)
        for spec in runtime.registry
    ]
    return ModelListOut(registry=str(runtime.registry.path), models=models)


@router.post(
    "/check",
    response_model=JobOut,
    status_code=202,
    responses={403: {"model": ErrorEnvelope}, 404: {"model": ErrorEnvelope}},
)
def check_models(
    body: ModelCheckIn,
    principal: Principal = Depends(admin_key),
    runtime: Runtime = Depends(get_runtime),
) -> JobOut:
    """Start a `models.check` job: resolves (and with `load`, loads) each model; poll `/v1/jobs/{id}`."""
    for name in body.names or []:
        runtime.registry.get(name)  # unknown names are a 404 now, not a failed job later
    params = {"names": body.names, "load": body.load}
    webhook = str(body.webhook_url) if body.webhook_url else None
    return JobOut.from_job(runtime.submit("models.check", params, principal.key_id, webhook))


def run_check_job(services: Services, ctx: JobContext) -> dict[str, Any]:
    """Job `models.check`: locate (and with `load`, load) each model; per-model status with the fix."""
    registry = services.registry
    names = ctx.params.get("names") or registry.names()
    statuses = []
    for index, name in enumerate(names):
        ctx.report(index / max(1, len(names)), f"checking {name}")
        statuses.append(check_spec(registry.get(name), load=bool(ctx.params.get("load"))).to_dict())
    return {"models": statuses, "ok": all(s["ok"] for s in statuses)}


JOBS = {"models.check": run_check_job}
