"""Ingress overhead: our full HTTP stack vs a bare FastAPI route, same handler, same process.

What it measures: requests/s and p50/p99 latency of `GET /v1/models` through `create_api` (API-key auth,
rate limiter, body-size limit, Prometheus middleware, error envelope) against a bare FastAPI app that
returns the same registry listing with no middleware. Both run in-process over httpx's ASGI transport,
so the figures isolate the per-request cost of the ingress from network and Ray proxy costs.

Run: `.venv/bin/python benchmarks/bench_ingress.py [--requests 3000]`
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3, help="runs per app; the median run is reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(Settings(data_dir=tmp, api_keys=f"{KEY}:admin", rate_limit_per_minute=0))
        ours, baseline = create_api(runtime), bare_app(runtime)
        results = {}
        for name, app, headers in (("bare FastAPI", baseline, {}), ("Note Studio ingress", ours, {"x-api-key": KEY})):
            runs = sorted(asyncio.run(measure(app, args.requests, headers)) for _ in range(args.repeats))
            results[name] = runs[len(runs) // 2]
        runtime.stop()
    print(f"GET /v1/models, {args.requests} sequential requests in-process, median of {args.repeats} runs")
    print(f"{'app':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, (rps, p50, p99) in results.items():
        print(f"{name:<22}{rps:>10.0f}{p50:>10.3f}{p99:>10.3f}")
    ratio = results["Note Studio ingress"][0] / results["bare FastAPI"][0]
    print(f"ratio (ingress / bare throughput): {ratio:.2f}x")


if __name__ == "__main__":
    main()
