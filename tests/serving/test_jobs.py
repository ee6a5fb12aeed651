"""Job store and runner: progress, artifacts, failure, cancel, lost workers, restarts (webhooks: test_webhooks.py)."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

import pytest

from serving.jobs import JobContext, JobRunner, JobState, JobStore
from tests.conftest import ADMIN_KEY, MERCHANT_KEY, auth

# Every store test runs on SQLite; set NOTESTUDIO_TEST_POSTGRES_URL to run them on PostgreSQL too.
STORE_URLS = ["sqlite"] + (
    [os.environ["NOTESTUDIO_TEST_POSTGRES_URL"]] if "NOTESTUDIO_TEST_POSTGRES_URL" in os.environ else []
)


@pytest.fixture(params=STORE_URLS)
def store(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.db'}" if request.param == "sqlite" else request.param
    job_store = JobStore(url)
    if request.param != "sqlite":  # a shared server: start from an empty table
        from sqlalchemy import text

        with job_store.engine.begin() as connection:
            connection.execute(text("DELETE FROM jobs"))
    yield job_store
    job_store.close()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def finished(store: JobStore, job_id: str):
    return wait_for(lambda: (job := store.get(job_id)) is not None and job.terminal and job)


def make_runner(store, tmp_path, handlers, **kwargs) -> JobRunner:
    options = {"workers": 2, "heartbeat_s": 0.1, "stale_after_s": 1.0, "poll_s": 0.02, **kwargs}
    return JobRunner(store, handlers, tmp_path / "artifacts", **options)


def test_success_with_progress_and_artifact(store, tmp_path):
    seen: list[float] = []

    def render(ctx: JobContext) -> dict:
        for i in range(3):
            ctx.report(i / 3, f"step {i}")
            seen.append(store.get(ctx.job_id).progress)
        ctx.artifact("out.txt").write_text(ctx.params["text"])
        return {"artifacts": ["out.txt"], "chars": len(ctx.params["text"])}

    runner = make_runner(store, tmp_path, {"render": render})
    runner.start()
    job = store.create("render", {"text": "你好"})
    done = finished(store, job.id)
    runner.stop()
    assert done.state == JobState.SUCCEEDED and done.progress == 1.0 and done.attempts == 1
    assert done.result == {"artifacts": ["out.txt"], "chars": 2}
    assert seen == pytest.approx([0, 1 / 3, 2 / 3])
    assert (tmp_path / "artifacts" / job.id / "out.txt").read_text() == "你好"


def test_failing_handler_fails_the_job_not_the_worker(store, tmp_path):
    def boom(ctx):
        raise ValueError("bad frame 7")

    runner = make_runner(store, tmp_path, {"boom": boom, "ok": lambda ctx: {"fine": True}})
    runner.start()
    bad, good = store.create("boom"), store.create("ok")
    assert finished(store, bad.id).error == "ValueError: bad frame 7"
    assert finished(store, good.id).state == JobState.SUCCEEDED
    runner.stop()


def test_cancel_queued_and_running(store, tmp_path):
    started = threading.Event()

    def slow(ctx):
        started.set()
        for i in range(500):
            ctx.report(i / 500)
            time.sleep(0.01)
        return {}

    runner = make_runner(store, tmp_path, {"slow": slow}, workers=1)
    queued = store.create("slow")
    assert store.request_cancel(queued.id).state == JobState.CANCELLED  # never ran
    running = store.create("slow")
    runner.start()
    started.wait(5)
    assert store.request_cancel(running.id).cancel_requested
    done = finished(store, running.id)
    runner.stop()
    assert done.state == JobState.CANCELLED and done.progress < 1
    assert store.request_cancel(done.id).state == JobState.CANCELLED  # terminal: unchanged


def test_claim_is_exclusive_across_runners(store, tmp_path):
    runs: list[str] = []
    lock = threading.Lock()

    def record(ctx):
        with lock:
            runs.append(ctx.job_id)
        return {}

    runners = [make_runner(store, tmp_path, {"r": record}) for _ in range(3)]
    jobs = [store.create("r") for _ in range(30)]
    for runner in runners:
        runner.start()
    for job in jobs:
        finished(store, job.id)
    for runner in runners:
        runner.stop()
    assert sorted(runs) == sorted(j.id for j in jobs)  # each exactly once


def test_dead_worker_job_is_requeued_then_failed(store):
    job = store.create("x", max_attempts=2)
    assert store.claim("dead-worker-1").id == job.id
    assert store.recover_stale(timedelta(seconds=60)) == []  # heartbeat is fresh
    time.sleep(0.05)
    [requeued] = store.recover_stale(timedelta(seconds=0.01))
    assert requeued.state == JobState.QUEUED and "stopped answering" in requeued.message
    assert store.claim("dead-worker-2").attempts == 2
    time.sleep(0.05)
    [failed] = store.recover_stale(timedelta(seconds=0.01))
    assert failed.state == JobState.FAILED and "dead-worker-2 stopped answering" in failed.error


def test_nothing_lost_across_a_restart(tmp_path):
    """Queued jobs survive; a job interrupted by shutdown is requeued and finishes after the restart."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    gate = threading.Event()

    def waits(ctx):
        while not gate.is_set():
            ctx.report(0.5, "waiting")
            time.sleep(0.01)
        return {"ok": True}

    first_store = JobStore(url)
    runner = make_runner(first_store, tmp_path, {"w": waits}, workers=1)
    runner.start()
    interrupted = first_store.create("w")
    wait_for(lambda: first_store.get(interrupted.id).state == JobState.RUNNING)
    queued = first_store.create("w")
    runner.stop()  # "service restart"
    first_store.close()

    second_store = JobStore(url)
    assert second_store.get(interrupted.id).state == JobState.QUEUED
    assert second_store.get(queued.id).state == JobState.QUEUED
    gate.set()
    runner = make_runner(second_store, tmp_path, {"w": waits})
    runner.start()
    assert finished(second_store, interrupted.id).state == JobState.SUCCEEDED
    assert finished(second_store, queued.id).state == JobState.SUCCEEDED
    runner.stop()


def test_stop_does_not_wait_for_a_silent_job_and_requeues_it(tmp_path):
    """A handler that never reports (one long model call) must not hold up a shutdown: the job is requeued
    at once, without counting the interrupted run as an attempt, and a requested cancel is honoured."""
    store = JobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    release = threading.Event()

    def silent(ctx):
        release.wait(30)
        return {"ok": True}

    runner = make_runner(store, tmp_path, {"s": silent}, workers=2)
    runner.start()
    long_job, cancelled = store.create("s", max_attempts=1), store.create("s", max_attempts=1)
    wait_for(lambda: store.get(long_job.id).state == store.get(cancelled.id).state == JobState.RUNNING)
    store.request_cancel(cancelled.id)
    started = time.monotonic()
    runner.stop(timeout=1.0)
    assert time.monotonic() - started < 3.0
    requeued = store.get(long_job.id)
    assert requeued.state == JobState.QUEUED and requeued.attempts == 0 and "service stopped" in requeued.message
    assert store.get(cancelled.id).state == JobState.CANCELLED
    release.set()  # the old handler returns later: its result must not overwrite the requeued row
    time.sleep(0.3)
    assert store.get(long_job.id).state == JobState.QUEUED
    store.close()


def test_runner_start_recovers_jobs_of_a_crashed_process(tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    crashed = JobStore(url)
    job = crashed.create("x", max_attempts=1)
    crashed.claim("crashed-process")  # then the process dies without finishing
    time.sleep(1.2)
    runner = make_runner(JobStore(url), tmp_path, {"x": lambda ctx: {}})
    runner.start()
    assert finished(runner.store, job.id).state == JobState.FAILED
    runner.stop()


def test_http_job_lifecycle(client, runtime):
    """models.check over HTTP: 202, poll to success, ownership, cancel of a finished job is harmless."""
    created = client.post("/v1/models/check", json={}, headers=auth(ADMIN_KEY))
    assert created.status_code == 202 and created.json()["state"] == "queued"
    job_id = created.json()["id"]
    body = wait_for(
        lambda: (r := client.get(f"/v1/jobs/{job_id}", headers=auth(ADMIN_KEY)).json())["state"] == "succeeded" and r
    )
    names = {m["name"] for m in body["result"]["models"]}
    assert names == set(runtime.registry.names())
    assert all(m["ok"] or m["problem"] for m in body["result"]["models"])
    assert client.get(f"/v1/jobs/{job_id}", headers=auth(MERCHANT_KEY)).status_code == 404  # not the owner
    listed = client.get("/v1/jobs", headers=auth(ADMIN_KEY)).json()["jobs"]
    assert job_id in {j["id"] for j in listed}
    assert client.get("/v1/jobs", headers=auth(MERCHANT_KEY)).json()["jobs"] == []
    assert client.post(f"/v1/jobs/{job_id}/cancel", headers=auth(ADMIN_KEY)).json()["state"] == "succeeded"
    missing = client.get(f"/v1/jobs/{job_id}/artifacts/none.txt", headers=auth(ADMIN_KEY))
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "name"


def test_http_artifact_download(tmp_path, settings):
    from fastapi.testclient import TestClient

    from serving.api import create_api
    from serving.runtime import Runtime

    def write(ctx):
        ctx.artifact("note.txt").write_text("笔记")
        return {"artifacts": ["note.txt"]}

    rt = Runtime(settings, extra_jobs={"write": write})
    rt.start()
    client = TestClient(create_api(rt))
    job = rt.submit("write", {}, owner_key="")
    wait_for(lambda: rt.store.get(job.id).state == JobState.SUCCEEDED)
    body = client.get(f"/v1/jobs/{job.id}", headers=auth(ADMIN_KEY)).json()
    assert body["links"]["artifact:note.txt"] == f"/v1/jobs/{job.id}/artifacts/note.txt"
    download = client.get(body["links"]["artifact:note.txt"], headers=auth(ADMIN_KEY))
    assert download.status_code == 200 and download.content.decode() == "笔记"
    rt.stop()


def test_artifact_writes_are_atomic(tmp_path):
    """An artifact appears only complete: a failing writer leaves neither the file nor its partial behind."""
    ctx = JobContext("j1", {}, tmp_path / "art", lambda progress, message: False)
    with pytest.raises(RuntimeError), ctx.writing("video.mp4") as path:
        path.write_bytes(b"half")
        assert not ctx.artifact("video.mp4").exists()
        raise RuntimeError("encoder died")
    assert list((tmp_path / "art").iterdir()) == []
    ctx.write_artifact("cover.png", b"png")
    assert [p.name for p in (tmp_path / "art").iterdir()] == ["cover.png"]
    assert ctx.artifact("cover.png").read_bytes() == b"png"
