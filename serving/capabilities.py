"""The capabilities this service offers: one route module each. Adding a capability adds its module here.

A route module exposes `router` (a FastAPI `APIRouter`, thin: wire in, service call, wire out) and may
expose `JOBS`, the long-running job kinds it submits: `{kind: handler(services, ctx) -> dict}`.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from serving.jobs import JobHandler
    from serving.services import Services

__all__ = ["route_modules", "job_handlers"]


def route_modules() -> list[ModuleType]:
    """Route modules in the order their routers are mounted (and listed in the OpenAPI document)."""
    from serving.routes import (
        copy,
        glossaries,
        images,
        jobs,
        libretranslate,
        models,
        moderation,
        shades,
        system,
        translate,
        tryon,
        videos,
        whoami,
    )

    return [
        system,
        whoami,
        models,
        jobs,
        moderation,
        tryon,
        shades,
        copy,
        images,
        videos,
        glossaries,
        translate,
        libretranslate,
    ]


def job_handlers(services: Services) -> dict[str, JobHandler]:
    """Every job kind of every capability, bound to `services`."""
    handlers: dict[str, JobHandler] = {}
    for module in route_modules():
        for kind, handler in getattr(module, "JOBS", {}).items():
            handlers[kind] = _bind(handler, services)
    return handlers


def _bind(handler: Any, services: Services) -> JobHandler:
    def run(ctx: Any) -> dict[str, Any]:
        return handler(services, ctx)

    run.__name__ = getattr(handler, "__name__", "job")
    return run
