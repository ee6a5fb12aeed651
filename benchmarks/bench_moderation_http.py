"""Moderation over HTTP, open loop: p50/p99 at a fixed offered load and the highest sustained throughput.

Three servers are measured in the same run, one after the other, on this machine:
  * the baseline: the same FastAPI app and moderator in one plain uvicorn process (no Ray);
  * `notestudio serve` on its defaults: Ray Serve proxy -> FastAPI ingress, moderation inside the ingress
    replica (audit rows written per decision);
  * `notestudio serve` with NOTESTUDIO_MODERATION_DEPLOYMENT=true: the ingress calls the Moderation
    deployment, which batches across requests with `@serve.batch` (the multi-node layout).
The load is open loop: requests are sent on a fixed schedule whatever the server does, and latency is
measured from the scheduled send time, so queueing is not hidden (no coordinated omission). Each request
carries 32 listings from the project's dataset. The load generator shares the 2 cores with the server:
figures are lower bounds.

Run: `.venv/bin/python benchmarks/bench_moderation_http.py [--seconds 15] [--rates 100,200,300,400]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

KEY = "bench-platform-key-0123456789"
ROOT = Path(__file__).resolve().parents[1]

_BASELINE = """
import sys, uvicorn
from serving.api import create_api
from serving.runtime import Runtime
from serving.settings import Settings
runtime = Runtime(Settings(data_dir=sys.argv[2], api_keys=sys.argv[3] + ":platform", rate_limit_per_minute=0,
                           studio=False))
runtime.start()
runtime.services.moderator  # train / load before the first request
uvicorn.run(create_api(runtime), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(kind: str, data_dir: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "NOTESTUDIO_API_KEYS": f"{KEY}:platform",
        "NOTESTUDIO_DATA_DIR": data_dir,
        "NOTESTUDIO_RATE_LIMIT_PER_MINUTE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    if kind.startswith("ray"):
        cmd = [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--no-studio"]
        env["NOTESTUDIO_MODERATION_DEPLOYMENT"] = "true" if kind == "ray-deployment" else "false"
        if kind == "ray-2":  # two ingress replicas: one per core
            config = Path(data_dir) / "serve.yaml"
            config.write_text(
                "applications:\n  - import_path: serving.app:build_app\n"
                f"    args: {{data_dir: '{data_dir}', studio: false}}\n"
                "    deployments:\n      - {name: Ingress, num_replicas: 2, ray_actor_options: {num_cpus: 0.5}}\n"
            )
            cmd += ["--config", str(config)]
    else:
        cmd = [sys.executable, "-c", _BASELINE, str(port), data_dir, KEY]
    process = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            probe = httpx.post(
                f"{url}/v1/moderation/text", json={"text": "warm up"}, headers={"x-api-key": KEY}, timeout=30
            )
            if probe.status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError(f"{kind} server did not start")


def stop_server(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


async def open_loop(url: str, bodies: list[bytes], rate: float, seconds: float) -> dict:
    """aiohttp, not httpx, on the client side: it costs less CPU per request on the shared cores."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=512)
    headers = {"x-api-key": KEY, "content-type": "application/json"}
    async with aiohttp.ClientSession(base_url=url, connector=connector, headers=headers) as session:

        async def one(scheduled: float, body: bytes) -> None:
            nonlocal errors
            try:
                async with session.post("/v1/moderation/listings", data=body) as response:
                    await response.read()
                    ok = response.status == 200
            except aiohttp.ClientError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - scheduled)
            else:
                errors += 1

        tasks = []
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(scheduled, bodies[i % len(bodies)])))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    latencies.sort()

    def pick(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3 if latencies else float("nan")

    return {
        "offered": rate,
        "achieved": len(latencies) / elapsed,
        "p50": pick(0.5),
        "p99": pick(0.99),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rates", default="50,100,150", help="offered requests/s to sweep")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--slo-ms", type=float, default=50)
    parser.add_argument("--kinds", default="plain,ray,ray-2,ray-deployment", help="servers to measure")
    parser.add_argument("--warmup", type=float, default=5, help="seconds at 20 req/s before measuring, discarded")
    args = parser.parse_args()
    rows = [json.loads(line) for line in (ROOT / "moderation/data/listings.jsonl").read_text("utf-8").splitlines()]
    random.seed(0)
    bodies = [
        json.dumps(
            {
                "listings": [
                    {k: r[k] for k in ("id", "title", "body", "price", "brand", "category")}
                    for r in random.sample(rows, args.batch)
                ]
            },
            ensure_ascii=False,
        ).encode()
        for _ in range(64)
    ]
    rates = [float(r) for r in args.rates.split(",")]
    summary = {}
    kinds = (
        ("plain", "baseline: one uvicorn process"),
        ("ray", "Note Studio on Ray Serve (moderation in the ingress)"),
        ("ray-2", "Note Studio on Ray Serve (moderation in the ingress, 2 ingress replicas)"),
        ("ray-deployment", "Note Studio on Ray Serve (Moderation deployment, @serve.batch)"),
    )
    kinds = tuple((kind, name) for kind, name in kinds if kind in args.kinds.split(","))
    for kind, name in kinds:
        with tempfile.TemporaryDirectory() as data_dir:
            process, url = start_server(kind, data_dir)
            try:
                print(f"== {name} ({args.batch} listings/request, {args.seconds:.0f} s per rate, open loop)")
                if args.warmup:  # every replica loads its moderator and JIT paths before the clock runs
                    asyncio.run(open_loop(url, bodies, 20, args.warmup))
                print(f"{'offered req/s':>14}{'achieved':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
                results = []
                for rate in rates:
                    r = asyncio.run(open_loop(url, bodies, rate, args.seconds))
                    results.append(r)
                    print(
                        f"{r['offered']:>14.0f}{r['achieved']:>10.1f}{r['p50']:>9.1f}{r['p99']:>9.1f}{r['errors']:>8}"
                    )
                sustained = [
                    r
                    for r in results
                    if r["p99"] <= args.slo_ms and r["errors"] == 0 and r["achieved"] >= 0.95 * r["offered"]
                ]
                best = max((r["offered"] for r in sustained), default=0.0)
                summary[kind] = (results[0], best)
                print(
                    f"highest sustained with p99 <= {args.slo_ms:.0f} ms: {best:.0f} req/s "
                    f"= {best * args.batch:,.0f} listings/s"
                )
            finally:
                stop_server(process)
    if "plain" not in summary:
        return
    base_first, base_best = summary["plain"]
    for kind in [k for k in ("ray", "ray-2", "ray-deployment") if k in summary]:
        first, best = summary[kind]
        ratio = f"{best / base_best:.2f}x" if base_best else "n/a (baseline sustained no rate)"
        print(
            f"{kind}: p99 at {rates[0]:.0f} req/s {first['p99']:.1f} ms (baseline {base_first['p99']:.1f} ms); "
            f"sustained throughput vs baseline: {ratio}"
        )


if __name__ == "__main__":
    main()
