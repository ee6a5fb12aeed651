"""`create_api(runtime)`: the FastAPI ingress — routers, error envelope, limits, metrics.

Thin on purpose: routers translate wire models to service calls; services come from `build_services`
through the `Runtime`, and the routers of every capability are listed in `serving/capabilities.py`.
"""

from __future__ import annotations

from fastapi import FastAPI

from serving.capabilities import route_modules
from serving.errors import install_error_handlers
from serving.limits import BodySizeLimit
from serving.metrics import MetricsMiddleware
from serving.runtime import Runtime

__all__ = ["create_api"]

API_DESCRIPTION = """
Note Studio HTTP API. Authenticate with `Authorization: Bearer <key>` (or `X-API-Key`).
Scopes: `merchant` (content generation), `platform` (moderation), `admin` (everything).
Errors always use one envelope: `{"error": {"type", "message", "param"}}`.
Long work runs as jobs: poll `GET /v1/jobs/{id}`, download artifacts, cancel, or pass a `webhook_url`.
"""


def create_api(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="Note Studio", description=API_DESCRIPTION, version="0.1.0")
    app.state.runtime = runtime
    install_error_handlers(app)
    for module in route_modules():
        app.include_router(module.router)
    # Outermost first: metrics see every response, including 413s from the size limit.
    app.add_middleware(BodySizeLimit, max_bytes=runtime.settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=runtime.metrics, replica=runtime.replica_id)
    return app
