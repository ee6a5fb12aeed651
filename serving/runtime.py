"""Per-process service state: settings, model registry, job store and runner, keys, metrics.

One `Runtime` per ingress replica (or per test). Routes reach it through `get_runtime`, so the same
FastAPI app runs under Ray Serve, under uvicorn, and in `TestClient` without globals.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from fastapi import Request

from models.check import check_spec
from models.registry import ModelRegistry
from moderation import AuditLog
from serving.auth import KeyRing, RateLimiter
from serving.handlers.moderation import LocalModeration, ModerationHandler, RemoteModeration
from serving.jobs import JobContext, JobHandler, JobRunner, JobStore, WebhookSender
from serving.metrics import Metrics
from serving.settings import Settings

__all__ = ["Runtime", "get_runtime"]

log = logging.getLogger(__name__)

#: Job kinds of capabilities: kind -> "module:function(runtime, ctx)", imported when a job of the kind runs
#: (so starting a runtime does not import every capability).
CAPABILITY_JOBS: dict[str, str] = {"copy.notes": "serving.handlers.copy:run_batch_job"}


class Runtime:
    """Builds and owns the collaborators of the HTTP layer; `start()` launches job workers."""

    def __init__(
        self,
        settings: Settings,
        extra_jobs: dict[str, JobHandler] | None = None,
        model_hosts: dict[str, Any] | None = None,
        moderation_handle: Any = None,
    ) -> None:
        self.settings = settings
        #: Deployment handles of `ModelHost`s by model name (empty outside Ray Serve).
        self.model_hosts = dict(model_hosts or {})
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.registry = ModelRegistry.from_yaml(settings.models)
        self.keys = KeyRing(settings.key_scopes())
        self.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
        self.metrics = Metrics()
        self.store = JobStore(settings.db_url)
        if moderation_handle is not None:
            backend = RemoteModeration(moderation_handle)
        else:
            registry = str(settings.models) if settings.models else None
            backend = LocalModeration(settings.data_dir, settings.moderation_classifier, registry)
        self.moderation = ModerationHandler(backend, AuditLog(self.store.engine))
        capability = {kind: self._lazy_job(target) for kind, target in CAPABILITY_JOBS.items()}
        handlers: dict[str, JobHandler] = {"models.check": self._check_models, **capability, **(extra_jobs or {})}
        self.runner = JobRunner(
            self.store,
            handlers,
            settings.artifacts_dir,
            workers=settings.job_workers,
            heartbeat_s=settings.job_heartbeat_s,
            stale_after_s=settings.job_stale_after_s,
            webhooks=WebhookSender(
                self.store,
                max_attempts=settings.webhook_max_attempts,
                backoff_s=settings.webhook_backoff_s,
                secret=settings.webhook_secret,
            ),
        )
        self.started = False

    def start(self) -> None:
        if not self.started:
            self.runner.start()
            if isinstance(self.moderation.backend, LocalModeration):
                self.moderation.backend.warm_up()
            self.started = True

    def stop(self) -> None:
        if self.started:
            self.runner.stop()
            self.started = False
        self.store.close()

    def submit(self, kind: str, params: dict[str, Any], owner_key: str, webhook_url: str | None = None):
        job = self.store.create(
            kind,
            params,
            owner_key=owner_key,
            webhook_url=webhook_url,
            max_attempts=self.settings.job_max_attempts,
        )
        self.runner.notify()
        return job

    def _lazy_job(self, target: str) -> JobHandler:
        def handler(ctx: JobContext) -> dict[str, Any]:
            module, _, name = target.partition(":")
            return getattr(importlib.import_module(module), name)(self, ctx)

        return handler

    # -- job kinds owned by the foundation ------------------------------------------------------------
    def _check_models(self, ctx: JobContext) -> dict[str, Any]:
        names = ctx.params.get("names") or self.registry.names()
        statuses = []
        for index, name in enumerate(names):
            ctx.report(index / max(1, len(names)), f"checking {name}")
            statuses.append(check_spec(self.registry.get(name), load=bool(ctx.params.get("load"))).to_dict())
        return {"models": statuses, "ok": all(s["ok"] for s in statuses)}


def get_runtime(request: Request) -> Runtime:
    """FastAPI dependency: the runtime attached to the app that serves this request."""
    return request.app.state.runtime
