"""Prometheus metrics: request counts and latency per route template, job counts per state.

Each process counts its own requests. With several ingress replicas, each pushes a snapshot of its
counters to the `SharedState` deployment and `/metrics` (on any replica) renders every replica's series,
labelled `replica`, so a scrape counts all requests whichever replica answered it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Metrics", "MetricsMiddleware", "MetricsSnapshot", "render_replicas", "CONTENT_TYPE_LATEST"]

#: Plain-data form of a registry (it crosses process boundaries): one entry per metric family,
#: (name, documentation, type, [(sample name, labels, value), ...]).
MetricsSnapshot = list[tuple[str, str, str, list[tuple[str, dict[str, str], float]]]]


class Metrics:
    """One registry per app instance, so tests can build many apps in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "notestudio_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "notestudio_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.jobs = Gauge("notestudio_jobs", "Jobs in the store by state", ["state"], registry=self.registry)

    def render(self, job_counts: Callable[[], dict[str, int]] | None = None) -> bytes:
        """This process's metrics only (one server process, or a replica without `SharedState`)."""
        if job_counts is not None:
            self._set_jobs(job_counts())
        return generate_latest(self.registry)

    def _set_jobs(self, counts: Mapping[str, int]) -> None:
        for state, count in counts.items():
            self.jobs.labels(state=state).set(count)

    def snapshot(self) -> MetricsSnapshot:
        """Request counters and latencies of this process (jobs are counted from the database instead)."""
        return [
            (
                family.name,
                family.documentation,
                family.type,
                [(s.name, dict(s.labels), s.value) for s in family.samples],
            )
            for family in self.registry.collect()
            if family.name != "notestudio_jobs"
        ]


class _Snapshots:
    """A collector over several replicas' snapshots, each series labelled with its replica."""

    def __init__(self, snapshots: Mapping[str, MetricsSnapshot]) -> None:
        self._snapshots = snapshots

    def collect(self) -> Iterable[Metric]:
        families: dict[str, Metric] = {}
        for replica, snapshot in sorted(self._snapshots.items()):
            for name, documentation, kind, samples in snapshot:
                family = families.setdefault(name, Metric(name, documentation, kind))
                for sample_name, labels, value in samples:
                    family.add_sample(sample_name, {**labels, "replica": replica}, value)
        return list(families.values())


def render_replicas(snapshots: Mapping[str, MetricsSnapshot], job_counts: Mapping[str, int]) -> bytes:
    """Every replica's request metrics (label `replica`) and the job counts of the shared database."""
    registry = CollectorRegistry()
    registry.register(_Snapshots(snapshots))  # type: ignore[arg-type]
    jobs = Gauge("notestudio_jobs", "Jobs in the store by state", ["state"], registry=registry)
    for state, count in job_counts.items():
        jobs.labels(state=state).set(count)
    return generate_latest(registry)


class MetricsMiddleware:
    """Labels by the matched route template (`/v1/jobs/{job_id}`), never the raw path, to bound cardinality."""

    def __init__(self, app: ASGIApp, metrics: Metrics, replica: str | None = None) -> None:
        self.app = app
        self.metrics = metrics
        # Which replica answered (operators and the replica tests read it; it names a host and a pid).
        self._replica_header = (b"x-notestudio-replica", replica.encode()) if replica else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if self._replica_header is not None:
                    message = {**message, "headers": [*message.get("headers", []), self._replica_header]}
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or ("unmatched" if status == 404 else "other")
            self.metrics.requests.labels(scope["method"], template, str(status)).inc()
            self.metrics.latency.labels(scope["method"], template).observe(time.perf_counter() - started)
