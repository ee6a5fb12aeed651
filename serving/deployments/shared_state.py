"""`SharedState`: what every ingress replica must agree on, in one place — per-key rate limits and metrics.

With several ingress replicas (`serving/configs/local.yaml` runs two), a limit kept in each replica lets
N x replicas requests through, and `/metrics` shows whichever replica answered. This deployment runs ONE
replica (never scale it: its state is the point) that holds the token buckets and the latest metrics
snapshot of every ingress replica. It costs one in-cluster call per authenticated request; the figure is
in `benchmarks/RESULTS.md` ("Ingress overhead").

Outside Ray (uvicorn, `TestClient`) there is one process, and the in-process limiter and metrics are exact.
"""

from __future__ import annotations

import time
from typing import Any

from ray import serve

from serving.auth import Principal, TokenBuckets, rate_limited
from serving.metrics import MetricsSnapshot

__all__ = ["SharedState", "SharedRateLimiter", "SNAPSHOT_TTL_S"]

#: A replica that has not pushed its metrics for this long is gone (its series leave `/metrics`).
SNAPSHOT_TTL_S = 60.0


@serve.deployment(
    name="SharedState",
    num_replicas=1,
    max_ongoing_requests=1000,
    ray_actor_options={"num_cpus": 0},
    graceful_shutdown_wait_loop_s=0.5,
    graceful_shutdown_timeout_s=5,
)
class SharedState:
    def __init__(self, rate_limit_per_minute: int) -> None:
        self._buckets = TokenBuckets(rate_limit_per_minute)
        self._snapshots: dict[str, tuple[float, MetricsSnapshot]] = {}

    def take(self, key: str) -> int:
        """One request of `key`: 0 when admitted, else seconds until a retry can succeed."""
        return self._buckets.take(key)

    def push_metrics(self, replica: str, snapshot: MetricsSnapshot) -> None:
        self._snapshots[replica] = (time.monotonic(), snapshot)

    def metrics(self) -> dict[str, MetricsSnapshot]:
        """The latest snapshot of every live replica."""
        now = time.monotonic()
        for replica in [r for r, (seen, _) in self._snapshots.items() if now - seen > SNAPSHOT_TTL_S]:
            del self._snapshots[replica]
        return {replica: snapshot for replica, (_, snapshot) in self._snapshots.items()}


class SharedRateLimiter:
    """`RateLimiter` whose buckets live in the `SharedState` deployment: N/min across all replicas."""

    def __init__(self, handle: Any, per_minute: int) -> None:
        self._handle = handle
        self.per_minute = per_minute

    async def check(self, principal: Principal) -> None:
        if self.per_minute <= 0:
            return
        retry = await self._handle.take.remote(principal.key_id)
        if retry:
            raise rate_limited(self.per_minute, retry)
