"""`create_api(runtime)`: the FastAPI ingress — routers, error envelope, limits, metrics.

Thin on purpose: routers translate wire models to service calls; services come from `build_services`
through the `Runtime`, and the routers of every capability are listed in `serving/capabilities.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from serving.capabilities import route_modules
from serving.errors import install_error_handlers
from serving.guards import DevHostGuard, StudioUploadGuard, is_loopback_bind
from serving.limits import BodySizeLimit
from serving.metrics import MetricsMiddleware
from serving.openapi import document_api
from serving.runtime import Runtime

__all__ = ["create_api"]

API_DESCRIPTION = """
Note Studio HTTP API. Authenticate with `Authorization: Bearer <key>` (or `X-API-Key`): the security schemes
`bearer` and `apiKey`; an operation's role names are the scope it needs.
Scopes: `merchant` (content generation), `platform` (moderation), `admin` (everything).
Errors always use one envelope: `{"error": {"type", "message", "param"}}` (LibreTranslate's `/translate` and
`/detect` answer its own `{"error": "..."}` for 400/403/429, as LibreTranslate does).
Long work runs as jobs: poll `GET /v1/jobs/{id}`, download artifacts, cancel, or pass a `webhook_url`.
"""


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Background work of the app's event loop: publishing this replica's metrics when replicas share state."""
    runtime: Runtime = app.state.runtime
    task = asyncio.create_task(runtime.publish_metrics()) if runtime.shared_state is not None else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()


def create_api(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="Note Studio", description=API_DESCRIPTION, version="0.1.0", lifespan=_lifespan)
    app.state.runtime = runtime
    install_error_handlers(app)
    for module in route_modules():
        app.include_router(module.router)
    document_api(app)  # the key scheme and every error status of every route, in the OpenAPI document
    # Added innermost first: metrics see every response, including 421s, 401s and 413s from the guards.
    settings = runtime.settings
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.studio:
        dev_loopback = settings.dev_key if is_loopback_bind(settings.host) else None
        app.add_middleware(StudioUploadGuard, keys=runtime.keys, page_key=dev_loopback)
    if settings.dev_key and is_loopback_bind(settings.host):
        app.add_middleware(DevHostGuard, port=settings.port)
    app.add_middleware(MetricsMiddleware, metrics=runtime.metrics, replica=runtime.replica_id)
    return app
