"""Per-process serving state: settings, the capability services, keys, limits, metrics, the job runner.

One `Runtime` per ingress replica (or per test). Routes reach it through `get_runtime` and the services
through the dependencies of `serving/routes/deps.py`, so the same FastAPI app runs under Ray Serve, under
uvicorn and in `TestClient` without globals. Services come from the one factory, `build_services`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

import anyio
from fastapi import Request

from serving.auth import KeyRing, LocalRateLimiter, RateLimiter
from serving.capabilities import job_handlers
from serving.jobs import JobHandler, JobRunner, WebhookSender
from serving.limits import KeyConcurrency
from serving.metrics import Metrics, render_replicas
from serving.services import Services, build_services
from serving.settings import Settings

__all__ = ["Runtime", "get_runtime"]

log = logging.getLogger(__name__)


class Runtime:
    """Owns this replica's serving collaborators; `start()` launches job workers and warms services up.

    Args:
        settings: the service settings.
        services: the capability services (default: built from `settings` by `build_services`).
        extra_jobs: more job kinds (tests).
        rate_limiter: the per-key limiter (default: one in this process, or in `shared_state`).
        metrics: this replica's metrics (default: a fresh registry).
        shared_state: the `SharedState` deployment handle: rate limits and metrics across replicas.
    """

    def __init__(
        self,
        settings: Settings,
        services: Services | None = None,
        extra_jobs: dict[str, JobHandler] | None = None,
        rate_limiter: RateLimiter | None = None,
        metrics: Metrics | None = None,
        shared_state: Any = None,
    ) -> None:
        self.settings = settings
        self.services = services or build_services(settings)
        self.keys = KeyRing(settings.key_scopes())
        self.shared_state = shared_state
        if rate_limiter is None and shared_state is not None:
            from serving.deployments.shared_state import SharedRateLimiter

            rate_limiter = SharedRateLimiter(shared_state, settings.rate_limit_per_minute)
        self.rate_limiter = rate_limiter or LocalRateLimiter(settings.rate_limit_per_minute)
        #: Image requests in flight per key on this replica (`image_concurrency_per_key`).
        self.image_slots = KeyConcurrency(settings.image_concurrency_per_key)
        self.metrics = metrics or Metrics()
        #: This process among the replicas (a label of its metrics, and `X-NoteStudio-Replica` on responses).
        self.replica_id = f"{socket.gethostname()}:{os.getpid()}"
        self.store = self.services.store
        handlers = {**job_handlers(self.services), **(extra_jobs or {})}
        webhooks = WebhookSender.from_settings(self.store, settings)
        #: The SSRF guard webhook URLs pass at submit time; the sender checks them again when it sends.
        self.webhook_policy = webhooks.policy
        self.runner = JobRunner(
            self.store,
            handlers,
            settings.artifacts_dir,
            workers=settings.job_workers,
            heartbeat_s=settings.job_heartbeat_s,
            stale_after_s=settings.job_stale_after_s,
            webhooks=webhooks,
        )
        self.started = False

    @property
    def registry(self):
        return self.services.registry

    @property
    def model_hosts(self) -> dict[str, Any]:
        return self.services.model_hosts

    def start(self) -> None:
        if not self.started:
            self.runner.start()
            self.services.warm_up()
            self.started = True

    def stop(self) -> None:
        if self.started:
            self.runner.stop()
            self.started = False
        self.services.close()

    async def render_metrics(self) -> bytes:
        """Prometheus text: every replica's request metrics when they share state, else this process's."""
        counts = await anyio.to_thread.run_sync(self.store.count_by_state)
        if self.shared_state is None:
            return self.metrics.render(lambda: counts)
        await self.shared_state.push_metrics.remote(self.replica_id, self.metrics.snapshot())
        return render_replicas(await self.shared_state.metrics.remote(), counts)

    async def publish_metrics(self, every_s: float = 5.0) -> None:
        """Keep this replica's snapshot in `SharedState` fresh, whichever replica gets scraped. Runs as a task
        on the replica's event loop (a thread calling the handle stalled the loop for ~100 ms every push)."""
        while self.shared_state is not None:
            try:
                await self.shared_state.push_metrics.remote(self.replica_id, self.metrics.snapshot())
            except Exception as exc:  # the shared deployment restarting must not kill this replica
                log.warning("could not publish metrics: %s", exc)
            await asyncio.sleep(every_s)

    def submit(self, kind: str, params: dict[str, Any], owner_key: str, webhook_url: str | None = None):
        """Queue a job. Every route that takes a `webhook_url` comes through here, so the SSRF guard is one check:

        Raises:
            TargetRefused: (422, param `webhook_url`) a scheme other than http/https, or a host that does not
                resolve only to public addresses (or ones `webhook_allow` lets through).
        """
        if webhook_url is not None:
            self.webhook_policy.resolve(webhook_url, "webhook_url")
        job = self.store.create(
            kind,
            params,
            owner_key=owner_key,
            webhook_url=webhook_url,
            max_attempts=self.settings.job_max_attempts,
        )
        self.runner.notify()
        return job


async def get_runtime(request: Request) -> Runtime:
    """FastAPI dependency: the runtime attached to the app that serves this request (a coroutine, so it
    runs on the event loop instead of hopping to the threadpool)."""
    return request.app.state.runtime
