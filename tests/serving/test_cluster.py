"""Scale-out proof on a real two-node Ray cluster: replicas on both nodes, one killed under load, nothing lost.

Two `ray start --block` processes on this machine — a head node offering the custom resource `head` and a worker
node offering `worker`, each with one CPU and one `ingress_slot` — form the cluster; the test process connects to
it as a driver. The app is deployed from `serving/configs/cluster.yaml`'s own application (its args and its
`Moderation` and `Ingress` deployment options), shrunk to two 1-CPU nodes: GPU/LLM models off, autoscaling pinned
to 2 ingress replicas and 1 moderation replica, each ingress replica needing one `ingress_slot` (so one per node),
one PostgreSQL database (`NOTESTUDIO_TEST_POSTGRES_URL`, a fresh database) or else one SQLite file shared by both
replicas, explicit API keys (`dev_mode: false`, as in the config), one job worker per replica, short job heartbeat and
stale settings.

What it proves:
1. Serve places one ingress replica on each node, and Serve's HTTP proxy on the head answers from both (the test
   turns Serve's local-node preference off, `RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING=0`: with the default, the
   head's proxy keeps every request on its own node's replica while that one keeps up).
2. SIGKILL of the worker node's ingress replica while it runs a job and while clients keep sending keyed
   requests (`/v1/moderation/listings`, through the head's proxy): requests sent once the failover window
   (`FAILOVER_S` after the kill) is over are all answered 200, at least 90% of all requests are, and the
   replacement replica comes back on the worker node (the only free `ingress_slot`).
3. No job is stuck `running`: the dead replica's job is requeued by stale-job recovery (no heartbeat for
   `job_stale_after_s`; the surviving runner's heartbeat loop, or the replacement's start) and succeeds on its
   second attempt; the other jobs run once; every job ends `succeeded`.

What it cannot prove: both nodes are processes on one machine, so "another node" shares this machine's
filesystem (SQLite, the data dir, artifacts; a real cluster needs PostgreSQL and shared storage, as cluster.yaml
says), its network stack and its clock; a whole node dying (raylet, object store, proxy) and network partitions
are not exercised; only the head runs an HTTP proxy (proxies on several nodes of one machine would need one port
each), so a dead head (Serve's controller and proxy) is a different failure, not covered here; nor are the
one-replica deployments (`SharedState`, `TryOnSessions`, `Moderation` here), placed wherever Ray put them.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY, MERCHANT_KEY, PLATFORM_KEY, auth

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("NOTESTUDIO_TEST_POSTGRES_URL")
#: Requests may fail for this long after the kill (Serve notices the dead actor and stops routing to it).
FAILOVER_S = 5.0
#: The smallest share of all requests answered 200, failover window included.
MIN_SUCCESS = 0.90
JOBS = 4
LISTING = {"id": "sku-1", "title": "第一次用这支口红就爱了", "body": "颜色很显白，质地滋润，通勤约会都合适"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- the cluster: two `ray start --block` processes ----------------------------------------------------------------
class _Node:
    """One `ray start --block` process (its own session, temp dir and log); SIGTERM stops the node's processes."""

    def __init__(self, name: str, root: Path, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.log = root / f"{name}.log"
        command = [
            str(Path(sys.executable).parent / "ray"),
            "start",
            "--block",
            "--disable-usage-stats",
            "--num-cpus=1",
            f"--object-store-memory={100 * 1024 * 1024}",
            f"--temp-dir={root / name}",
            f"--dashboard-agent-listen-port={_free_port()}",  # Ray's default is a fixed port (52365)
            *args,
        ]
        with self.log.open("w") as sink:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"ray {self.name} node exited ({self.process.returncode}):\n{tail}")


@dataclass
class _Cluster:
    root: Path
    gcs_port: int
    token: str
    nodes: list[_Node] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "RAY_USAGE_STATS_ENABLED": "0",
            # Token auth with this cluster's own token (Ray 2.60 turns it on for a head node when ~/.ray/auth_token
            # exists, and a node or driver joining by address must then present the same token).
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": self.token,
            # The head's proxy would send every request to the replica on its own node while that one keeps up
            # (Serve's default locality preference): spread them, so the worker's replica serves HTTP too.
            "RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING": "0",
        }

    def our_processes(self) -> list:
        """Every process of this cluster: the node processes' trees, and anything naming our temp dir."""
        import psutil

        found: dict[int, Any] = {}
        for node in self.nodes:
            try:
                parent = psutil.Process(node.process.pid)
                for process in [parent, *parent.children(recursive=True)]:
                    found[process.pid] = process
            except psutil.NoSuchProcess:
                pass
        for process in psutil.process_iter(["cmdline"]):
            if str(self.root) in " ".join(process.info["cmdline"] or []):
                found.setdefault(process.pid, process)
        found.pop(os.getpid(), None)
        return list(found.values())

    def stop(self) -> None:
        """SIGTERM each node (worker first), then SIGKILL whatever of ours outlived that, by pid."""
        import psutil

        ours = self.our_processes()
        for node in reversed(self.nodes):
            if node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
                try:
                    node.process.wait(30)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait(10)
        _, alive = psutil.wait_procs(ours, timeout=5)
        for process in alive:
            try:
                process.kill()  # psutil refuses a pid that now belongs to another process
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def _ray_auth(token: str) -> Iterator[None]:
    """This process presents `token` while the block runs. Ray caches the auth mode (RayConfig) and the token
    (AuthenticationTokenLoader) per process, and an earlier `ray.init` of this pytest process may have loaded
    another token, so both caches are refreshed after the environment changes, and again after it is restored."""
    from ray._raylet import AuthenticationTokenLoader, Config

    def refresh() -> None:
        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()

    saved = {name: os.environ.get(name) for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
    refresh()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        refresh()


@contextmanager
def _two_node_cluster() -> Iterator[_Cluster]:
    """Head (`head`, 1 CPU, 1 `ingress_slot`) + worker (`worker`, 1 CPU, 1 `ingress_slot`), every port free-picked,
    no dashboard; the driver (this process) connected. Everything is stopped at exit, whatever happened."""
    import ray

    # Short on purpose: Ray puts Unix sockets under it (at most 107 bytes a path).
    root = Path(tempfile.mkdtemp(prefix="nsc-", dir="/tmp" if Path("/tmp").is_dir() else None))
    cluster = _Cluster(root=root, gcs_port=_free_port(), token=secrets.token_hex(32))
    try:
        head = _Node(
            "head",
            root,
            [
                "--head",
                f"--port={cluster.gcs_port}",
                "--include-dashboard=false",
                f"--ray-client-server-port={_free_port()}",  # default: a fixed port (10001)
                f"--resources={json.dumps({'head': 1, 'ingress_slot': 1})}",
            ],
            cluster.env(),
        )
        cluster.nodes.append(head)
        _wait(lambda: head.check_alive() or _accepts(cluster.gcs_port), 60, "the head's GCS to listen")
        worker_args = [f"--address={cluster.address}", f"--resources={json.dumps({'worker': 1, 'ingress_slot': 1})}"]
        cluster.nodes.append(_Node("worker", root, worker_args, cluster.env()))
        with _ray_auth(cluster.token):
            ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
            try:

                def two_nodes() -> bool:
                    for node in cluster.nodes:
                        node.check_alive()
                    return sum(n["Alive"] for n in ray.nodes()) == 2

                _wait(two_nodes, 60, "both nodes to join")
                yield cluster
            finally:
                ray.shutdown()
    finally:
        cluster.stop()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait(predicate, timeout: float, what: str, every: float = 0.2, detail=None) -> Any:
    """Poll `predicate` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}" + (f": {detail()}" if detail else ""))


@contextmanager
def _database(data_dir: Path) -> Iterator[str]:
    """A fresh PostgreSQL database when the test server is configured (dropped after), else a SQLite file."""
    if not PG_URL:
        yield f"sqlite:///{data_dir / 'notestudio.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"ns_cluster_{uuid.uuid4().hex[:12]}"
    server = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        server.dispose()


# -- the app: cluster.yaml, shrunk to two 1-CPU nodes --------------------------------------------------------------
def _cluster_yaml_args(data_dir: Path, database_url: str) -> dict[str, Any]:
    from cli.serve_cmd import read_serve_config

    args, _ = read_serve_config(ROOT / "serving" / "configs" / "cluster.yaml")
    by_name = {entry["name"]: dict(entry) for entry in args.pop("deployments")}
    ingress, moderation = by_name["Ingress"], by_name["Moderation"]
    assert args["moderation_deployment"] is True and args["dev_mode"] is False  # what the config says
    # One ingress replica per node: each needs the one `ingress_slot` a node offers (plus cluster.yaml's CPU).
    ingress["ray_actor_options"] = {**ingress["ray_actor_options"], "resources": {"ingress_slot": 1}}
    ingress["autoscaling_config"] = {**ingress["autoscaling_config"], "min_replicas": 2, "max_replicas": 2}
    moderation["ray_actor_options"] = {**moderation["ray_actor_options"], "num_cpus": 0}
    moderation["autoscaling_config"] = {**moderation["autoscaling_config"], "min_replicas": 1, "max_replicas": 1}
    return {
        **args,
        "data_dir": str(data_dir),  # both "nodes" see it: one machine
        "database_url": database_url,
        "hosted_models": [],  # no GPU here: composer covers and the template copy engine
        "image_model": None,
        "copy_model": None,
        "api_keys": f"{MERCHANT_KEY}:merchant,{PLATFORM_KEY}:platform,{ADMIN_KEY}:admin",
        "studio": False,
        "job_workers": 1,
        "job_heartbeat_s": 0.3,
        "job_stale_after_s": 3.0,
        "rate_limit_per_minute": 1_000_000,  # on (SharedState is in the path), never the reason for a failure
        "deployments": [ingress, moderation, {"name": "TryOnSessions", "ray_actor_options": {"num_cpus": 0}}],
    }


@dataclass
class _Replica:
    pid: int
    node_id: str


def _ingress_replicas() -> list[_Replica]:
    """The live Ingress replica actors with their process and node (GCS actor table; the dashboard is off)."""
    from ray._private.state import actors

    return [
        _Replica(pid=actor["Pid"], node_id=actor["Address"]["NodeID"])
        for actor in actors().values()
        if actor["State"] == "ALIVE" and "#Ingress#" in (actor.get("Name") or "")
    ]


def _node_ids() -> dict[str, str]:
    """`head` / `worker` -> node id, by the custom resource each node offers."""
    import ray

    ids = {}
    for node in ray.nodes():
        for role in ("head", "worker"):
            if node["Alive"] and role in node["Resources"]:
                ids[role] = node["NodeID"]
    return ids


# -- load ----------------------------------------------------------------------------------------------------------
@dataclass
class _Load:
    """Client threads sending one-listing moderation requests through the head's proxy until stopped."""

    url: str
    threads: int = 2
    results: list[tuple[float, int, str]] = field(default_factory=list)  # (sent at, status or 0, replica or error)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> _Load:
        self._workers = [threading.Thread(target=self._run, daemon=True) for _ in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(30)

    def _run(self) -> None:
        body = {"listings": [LISTING]}
        with httpx.Client(base_url=self.url, timeout=15, headers=auth(PLATFORM_KEY)) as client:
            while not self._stop.is_set():
                sent = time.monotonic()
                try:
                    response = client.post("/v1/moderation/listings", json=body)
                    ok = response.status_code == 200 and response.json()["results"][0]["decision"] == "pass"
                    outcome = (
                        response.status_code if ok else -response.status_code,
                        response.headers.get("x-notestudio-replica", ""),
                    )
                except httpx.HTTPError as exc:
                    outcome = (0, type(exc).__name__)
                with self._lock:
                    self.results.append((sent, *outcome))
                time.sleep(0.02)

    def snapshot(self) -> list[tuple[float, int, str]]:
        with self._lock:
            return list(self.results)


def _answered_by(results: list[tuple[float, int, str]]) -> dict[str, int]:
    """Replica (`X-NoteStudio-Replica`: host:pid) -> requests it answered 200."""
    return dict(Counter(replica for _, status, replica in results if status == 200))


def _video_body(seed: int) -> dict[str, Any]:
    import cv2

    from generation.image.testing import product_shot

    shot = product_shot("bottle", "white", size=(600, 800), seed=3)
    photo = base64.b64encode(cv2.imencode(".png", cv2.cvtColor(shot.rgb, cv2.COLOR_RGB2BGR))[1].tobytes()).decode()
    return {"photos": [photo], "title": "夏天通勤必备的清爽防晒", "width": 360, "fps": 12, "duration": 8, "seed": seed}


def _running_jobs(database_url: str) -> dict[str, tuple[str, float]]:
    """Running job id -> (worker, progress), read from the shared database (the API does not show workers)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, worker, progress FROM jobs WHERE state = 'running'"))
            return {row.id: (row.worker or "", float(row.progress)) for row in rows}
    finally:
        engine.dispose()


# -- the test ------------------------------------------------------------------------------------------------------
def test_a_replica_killed_under_load_loses_no_request_after_failover_and_no_job(tmp_path):
    from ray import serve

    from serving.app import build_app

    started = time.monotonic()
    data_dir = tmp_path / "var"
    with _database(data_dir) as database_url, _two_node_cluster() as cluster:
        port = _free_port()
        serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port})
        try:
            serve.run(build_app(_cluster_yaml_args(data_dir, database_url)), name="notestudio", route_prefix="/")
            url = f"http://127.0.0.1:{port}"
            deployed = time.monotonic()

            # 1. One ingress replica on each node.
            nodes = _node_ids()
            replicas = _ingress_replicas()
            assert sorted(r.node_id for r in replicas) == sorted(nodes.values()), (replicas, nodes)
            [victim] = [r for r in replicas if r.node_id == nodes["worker"]]
            host = socket.gethostname()

            with _Load(url) as load, httpx.Client(base_url=url, timeout=30, headers=auth(MERCHANT_KEY)) as client:
                # 2. Both replicas answer through the head's proxy.
                _wait(
                    lambda: len(_answered_by(load.snapshot())) == 2,
                    30,
                    "both replicas to answer",
                    detail=lambda: _answered_by(load.snapshot()),
                )
                assert set(_answered_by(load.snapshot())) == {f"{host}:{p.pid}" for p in replicas}

                # 3. Jobs; kill the worker node's replica while it runs one.
                job_ids = []
                for seed in range(JOBS):
                    response = client.post("/v1/videos", json=_video_body(seed))
                    assert response.status_code == 202, response.text
                    job_ids.append(response.json()["id"])
                mine = f"{host}:{victim.pid}:"

                def victim_job() -> str | None:
                    """The job the worker node's replica is running, once it is under way. On a loaded machine the
                    head's replica may claim every job first: whenever nothing is running, one more is queued."""
                    running = _running_jobs(database_url).items()
                    found = next((j for j, (w, p) in running if w.startswith(mine) and p > 0.05), None)
                    if found is None and not running and len(job_ids) < 4 * JOBS:
                        response = client.post("/v1/videos", json=_video_body(len(job_ids)))
                        assert response.status_code == 202, response.text
                        job_ids.append(response.json()["id"])
                    return found

                victim_job_id = _wait(victim_job, 60, f"replica {victim.pid} on the worker node to run a job", 0.05)
                os.kill(victim.pid, signal.SIGKILL)
                killed = time.monotonic()

                # 4. Every job ends; none stays `running`.
                def job(job_id: str) -> dict[str, Any]:
                    response = client.get(f"/v1/jobs/{job_id}")
                    assert response.status_code == 200 or killed + FAILOVER_S > time.monotonic(), response.text
                    return response.json() if response.status_code == 200 else {"state": "unknown"}

                _wait(
                    lambda: all(job(j)["state"] in {"succeeded", "failed", "cancelled"} for j in job_ids),
                    90,
                    "every job to finish",
                    every=0.5,
                    detail=lambda: [job(j)["state"] for j in job_ids],
                )
                jobs = {j: job(j) for j in job_ids}
                recovered_after = time.monotonic() - killed

                # 5. A replacement replica comes back on the worker node (the only free `ingress_slot`) and answers.
                def replacement() -> str | None:
                    fresh = [r for r in _ingress_replicas() if r.node_id == nodes["worker"] and r.pid != victim.pid]
                    return f"{host}:{fresh[0].pid}" if fresh else None

                _wait(replacement, 60, "a replacement ingress replica on the worker node", every=0.5)
                new_replica = replacement()
                _wait(
                    lambda: new_replica in _answered_by(load.snapshot()),
                    30,
                    f"the replacement {new_replica} to answer",
                    detail=lambda: _answered_by(load.snapshot()),
                )
                replaced_after = time.monotonic() - killed
            results = load.snapshot()
        finally:
            serve.shutdown()
        for node in cluster.nodes:
            node.check_alive()  # the kill took one replica, not a node

    after = [r for r in results if r[0] >= killed + FAILOVER_S]
    during = [r for r in results if killed <= r[0] < killed + FAILOVER_S]
    ok = sum(status == 200 for _, status, _ in results)
    served = _answered_by(results)
    failures = [(round(sent - killed, 1), status, why) for sent, status, why in results if status != 200]
    victim_last = max(sent for sent, status, why in results if why == f"{host}:{victim.pid}" and status == 200)
    failed_during = sum(status != 200 for _, status, _ in during)
    figures = (
        f"{len(results)} requests, {ok} answered 200 ({ok / len(results):.1%}); by replica {served} (killed "
        f"{host}:{victim.pid}, its last answer was sent {killed - victim_last:.2f} s before the kill); "
        f"in the {FAILOVER_S:.0f} s after the kill {failed_during} of {len(during)} failed; after it {len(after)} "
        f"requests; failures (s after the kill, status, why) {failures}; "
        f"jobs {[(j['state'], j['attempts']) for j in jobs.values()]}, all finished "
        f"{recovered_after:.1f} s after the kill; the replacement answered {replaced_after:.1f} s after it; "
        f"deploy {deployed - started:.0f} s, total {time.monotonic() - started:.0f} s"
    )
    print(figures)
    assert all(status == 200 for _, status, _ in after), figures
    assert after, figures
    assert ok / len(results) >= MIN_SUCCESS, figures
    assert all(j["state"] == "succeeded" for j in jobs.values()), jobs
    # The killed replica's job was requeued by stale-job recovery and run again (2 attempts) — or, when it finished in
    # the instant before the kill landed (seen once in CI: done 0.9 s after it), it ran once; never more, never stuck.
    assert jobs[victim_job_id]["attempts"] in (1, 2), jobs[victim_job_id]
    assert all(j["attempts"] == 1 for job_id, j in jobs.items() if job_id != victim_job_id), jobs
