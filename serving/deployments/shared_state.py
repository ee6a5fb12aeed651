"""`SharedState`: what every ingress replica must agree on, in one place — per-key rate limits and metrics.

With several ingress replicas (`serving/configs/local.yaml` runs two), a limit kept in each replica lets
N x replicas requests through, and `/metrics` shows whichever replica answered. This deployment runs ONE
replica (never scale it: its state is the point) that holds the token buckets and the latest metrics
snapshot of every ingress replica.

A call to it costs milliseconds, too much for every request, so replicas lease tokens: a replica takes a
small batch of a key's tokens at once (half a second of the key's rate, at most 50) and spends them
locally for up to `LEASE_TTL_S`. Tokens only ever come out of the one shared bucket, so the key never
gets more than its limit across replicas; a replica's unspent lease at worst refuses a request slightly
early. Figures in `benchmarks/RESULTS.md` ("Ingress overhead").

Outside Ray (uvicorn, `TestClient`) there is one process, and the in-process limiter and metrics are exact.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ray import serve

from serving.auth import Principal, TokenBuckets, rate_limited
from serving.metrics import MetricsSnapshot

__all__ = ["SharedState", "SharedRateLimiter", "SNAPSHOT_TTL_S", "LEASE_TTL_S", "lease_size"]

#: A replica that has not pushed its metrics for this long is gone (its series leave `/metrics`).
SNAPSHOT_TTL_S = 60.0
#: Leased tokens a replica has not spent within this time are dropped (never handed to anyone else).
LEASE_TTL_S = 1.0


def lease_size(per_minute: int) -> int:
    """Tokens a replica takes per call: half a second of the key's rate, 1..50 (1 keeps small limits exact)."""
    return max(1, min(50, per_minute // 120))


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

    def lease(self, key: str, want: int) -> tuple[int, int]:
        """Up to `want` of `key`'s tokens: (granted, seconds until a retry can succeed when none was)."""
        return self._buckets.take_up_to(key, want)

    def push_metrics(self, replica: str, snapshot: MetricsSnapshot) -> None:
        self._snapshots[replica] = (time.monotonic(), snapshot)

    def metrics(self) -> dict[str, MetricsSnapshot]:
        """The latest snapshot of every live replica."""
        now = time.monotonic()
        for replica in [r for r, (seen, _) in self._snapshots.items() if now - seen > SNAPSHOT_TTL_S]:
            del self._snapshots[replica]
        return {replica: snapshot for replica, (_, snapshot) in self._snapshots.items()}


class SharedRateLimiter:
    """`RateLimiter` whose buckets live in the `SharedState` deployment: N/min across all replicas.

    Lives in one replica's event loop; one lease call per key is in flight at a time.
    """

    def __init__(self, handle: Any, per_minute: int, lease: int | None = None) -> None:
        self._handle = handle
        self.per_minute = per_minute
        self._lease = lease or lease_size(per_minute)
        self._leases: dict[str, tuple[int, float]] = {}  # key -> (tokens left, expiry)
        self._locks: dict[str, asyncio.Lock] = {}

    async def check(self, principal: Principal) -> None:
        if self.per_minute <= 0:
            return
        key = principal.key_id
        if self._spend(key):
            return
        async with self._locks.setdefault(key, asyncio.Lock()):
            if self._spend(key):  # another request of this key renewed the lease while we waited
                return
            granted, retry = await self._handle.lease.remote(key, self._lease)
            if not granted:
                raise rate_limited(self.per_minute, retry)
            self._leases[key] = (granted - 1, time.monotonic() + LEASE_TTL_S)

    def _spend(self, key: str) -> bool:
        tokens, expires = self._leases.get(key, (0, 0.0))
        if tokens > 0 and time.monotonic() < expires:
            self._leases[key] = (tokens - 1, expires)
            return True
        return False
