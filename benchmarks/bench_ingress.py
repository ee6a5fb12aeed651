"""Ingress overhead: our full HTTP stack vs a bare FastAPI route, same handler, same process.

What it measures: requests/s and p50/p99 latency of `GET /v1/models` through `create_api` (API-key auth,
rate limiter, body-size limit, Prometheus middleware, error envelope) against a bare FastAPI app that
returns the same registry listing with no middleware. All run in-process over httpx's ASGI transport,
so the figures isolate the per-request cost of the ingress from network and Ray proxy costs.

Rows: the bare app (baseline); our ingress with the rate limit off (the figure compared across commits);
with the per-key limit kept in this process (one server process); and with the limit kept in the
`SharedState` Ray Serve deployment that every ingress replica shares (`--no-ray` skips it). The last two
use a limit high enough never to refuse, so they measure what the check costs.

Run: `.venv/bin/python benchmarks/bench_ingress.py [--requests 3000] [--no-ray]`
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

import httpx
from fastapi import FastAPI

from serving.api import create_api
from serving.runtime import Runtime
from serving.settings import Settings

KEY = "bench-admin-key-0123456789"
UNLIMITED = 10**9  # requests per minute: the limiter runs, never refuses


def bare_app(runtime: Runtime) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/models")
    def models() -> dict:
        return {"models": [spec.model_dump(mode="json") for spec in runtime.registry]}

    return app


async def measure(app, n: int, headers: dict[str, str]) -> tuple[float, float, float]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(50):  # warm-up
            (await client.get("/v1/models", headers=headers)).raise_for_status()
        latencies = []
        started = time.perf_counter()
        for _ in range(n):
            t0 = time.perf_counter()
            response = await client.get("/v1/models", headers=headers)
            latencies.append(time.perf_counter() - t0)
            response.raise_for_status()
        elapsed = time.perf_counter() - started
    latencies.sort()
    return n / elapsed, statistics.median(latencies) * 1e3, latencies[int(0.99 * (n - 1))] * 1e3


def _shared_state_handle():
    """A real single-node Ray cluster running the `SharedState` deployment (what replicas share)."""
    import ray
    from ray import serve

    from serving.deployments.shared_state import SharedState

    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    serve.start(http_options={"port": _free_port()}, logging_config={"log_level": "WARNING"})
    return serve.run(SharedState.bind(UNLIMITED), name="bench-shared", route_prefix=None)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3, help="runs per app; the median run is reported")
    parser.add_argument("--no-ray", action="store_true", help="skip the SharedState (Ray) row")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=tmp, api_keys=f"{KEY}:admin", rate_limit_per_minute=0)
        runtime = Runtime(settings)
        limited = Runtime(settings.model_copy(update={"rate_limit_per_minute": UNLIMITED}), runtime.services)
        apps = [
            ("bare FastAPI", bare_app(runtime), {}),
            ("ingress, no rate limit", create_api(runtime), {"x-api-key": KEY}),
            ("ingress, limit in process", create_api(limited), {"x-api-key": KEY}),
        ]
        if not args.no_ray:
            from serving.deployments.shared_state import SharedRateLimiter, lease_size

            handle = _shared_state_handle()
            shared = Runtime(limited.settings, runtime.services, shared_state=handle)
            apps.append(("ingress, limit in SharedState", create_api(shared), {"x-api-key": KEY}))
            # The default limit (1200/min) leases 10 tokens per call instead of 50.
            default = SharedRateLimiter(handle, UNLIMITED, lease=lease_size(1200))
            small = Runtime(limited.settings, runtime.services, rate_limiter=default, shared_state=handle)
            apps.append(("  same, lease of 10 (1200/min)", create_api(small), {"x-api-key": KEY}))
        results = {}
        for name, app, headers in apps:
            runs = sorted(asyncio.run(measure(app, args.requests, headers)) for _ in range(args.repeats))
            results[name] = runs[len(runs) // 2]
        runtime.stop()
    print(f"GET /v1/models, {args.requests} sequential requests in-process, median of {args.repeats} runs")
    print(f"{'app':<32}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, (rps, p50, p99) in results.items():
        print(f"{name:<32}{rps:>10.0f}{p50:>10.3f}{p99:>10.3f}")
    ratio = results["ingress, no rate limit"][0] / results["bare FastAPI"][0]
    print(f"ratio (ingress / bare throughput): {ratio:.2f}x")
    local = results["ingress, limit in process"][1]
    if "ingress, limit in SharedState" in results:
        added = results["ingress, limit in SharedState"][1] - local
        print(f"shared rate limit adds {added:.3f} ms per request at p50 over the in-process limit")


if __name__ == "__main__":
    main()
