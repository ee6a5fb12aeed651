"""Webhook delivery: a bounded pool, waiting retries that hold no worker, jittered backoff, durable state,
the SSRF guard at submit and send time, and shutdowns that lose no webhook.

Receivers are real HTTP servers on free ports (port 0) of 127.0.0.1, answering per path as each test plans.
Loopback is no allowed webhook target, so senders that must reach them allow-list it (`LOCAL`), as an
operator would with NOTESTUDIO_WEBHOOK_ALLOW.
"""

from __future__ import annotations

import hmac
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from common.netguard import OutboundPolicy
from serving.jobs import JobRunner, JobState, JobStore, WebhookSender
from serving.jobs.webhook import jittered_backoff, sign, webhook_payload
from tests.conftest import ADMIN_KEY, MERCHANT_KEY, auth, serving_client
from tests.serving.test_contract import assert_envelope

#: The allow-list that lets senders reach the test receivers.
LOCAL = ["127.0.0.1"]

STORE_URLS = ["sqlite"] + (
    [os.environ["NOTESTUDIO_TEST_POSTGRES_URL"]] if "NOTESTUDIO_TEST_POSTGRES_URL" in os.environ else []
)


def _open_store(param: str, tmp_path) -> JobStore:
    url = f"sqlite:///{tmp_path / 'jobs.db'}" if param == "sqlite" else param
    job_store = JobStore(url)
    if param != "sqlite":  # a shared server: start from an empty table
        from sqlalchemy import text

        with job_store.engine.begin() as connection:
            connection.execute(text("DELETE FROM jobs"))
    return job_store


@pytest.fixture
def store(tmp_path):
    job_store = _open_store("sqlite", tmp_path)
    yield job_store
    job_store.close()


@pytest.fixture(params=STORE_URLS)
def any_store(request, tmp_path):
    """SQLite, and PostgreSQL too when NOTESTUDIO_TEST_POSTGRES_URL is set (`make test` sets it)."""
    job_store = _open_store(request.param, tmp_path)
    yield job_store
    job_store.close()


@dataclass
class Hit:
    path: str
    at: float  # time.monotonic() when the request arrived
    body: bytes
    signature: str | None
    host: str | None = None  # the Host header


class Receiver:
    """An HTTP server on a free port; `plans[path]` lists statuses to answer in turn (then 200), `hang[path]`
    holds each request that long (or until `release`) before answering."""

    def __init__(self) -> None:
        self.plans: dict[str, list[int]] = {}
        self.hang: dict[str, float] = {}
        self.hits: list[Hit] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["content-length"]))
                with receiver._lock:
                    receiver.hits.append(
                        Hit(
                            self.path,
                            time.monotonic(),
                            body,
                            self.headers.get("x-notestudio-signature"),
                            self.headers.get("host"),
                        )
                    )
                    plan = receiver.plans.get(self.path)
                    status = plan.pop(0) if plan else 200
                if self.path in receiver.hang:
                    receiver.release.wait(receiver.hang[self.path])
                try:
                    self.send_response(status)
                    self.end_headers()
                except OSError:  # the sender timed out and hung up
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def hits_for(self, path: str) -> list[Hit]:
        with self._lock:
            return [hit for hit in self.hits if hit.path == path]


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.release.set()
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def senders(receiver):
    """Factory of started senders (allow-listing the receivers, unless told otherwise); stopped (after the
    receiver lets hanging requests go) at teardown."""
    made: list[WebhookSender] = []

    def make(job_store: JobStore, start: bool = True, **options) -> WebhookSender:
        sender = WebhookSender(job_store, **({"allow": LOCAL} | options))
        made.append(sender)
        if start:
            sender.start()
        return sender

    yield make
    receiver.release.set()
    for sender in made:
        sender.stop()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def finished_job(job_store: JobStore, url: str | None, state: JobState = JobState.SUCCEEDED):
    """A job that ran and ended in `state`, its webhook (if any) pending."""
    kind = f"k-{uuid.uuid4().hex[:8]}"
    job = job_store.create(kind, {"n": 1}, webhook_url=url)
    assert job_store.claim("test-worker", {kind}).id == job.id
    assert job_store.finish(job.id, "test-worker", state, result={"n": 1} if state == JobState.SUCCEEDED else None)
    return job_store.get(job.id)


def delivered(job_store: JobStore, job_id: str, timeout: float = 10.0):
    return wait_for(lambda: (j := job_store.get(job_id)).webhook_state == "delivered" and j, timeout)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- backoff -------------------------------------------------------------------------------------------
def test_backoff_is_exponential_jittered_and_capped():
    delay = jittered_backoff(1.0, 8.0)
    for attempt, full in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (9, 8.0)]:
        samples = [delay(attempt) for _ in range(300)]
        assert all(full / 2 <= s <= full for s in samples), (attempt, min(samples), max(samples))
        assert max(samples) - min(samples) > full / 4  # jittered, not one fixed value
    with pytest.raises(ValueError, match="backoff_s"):
        jittered_backoff(0.0, 1.0)
    with pytest.raises(ValueError, match="attempt"):
        delay(0)


# -- the pool --------------------------------------------------------------------------------------------
def test_a_hanging_receiver_does_not_delay_a_fast_one(store, receiver, senders):
    receiver.hang["/slow"] = 6.0
    slow, fast = finished_job(store, receiver.url("/slow")), finished_job(store, receiver.url("/fast"))
    sender = senders(store, concurrency=2, timeout_s=10.0)
    sender.enqueue(slow.id)
    wait_for(lambda: receiver.hits_for("/slow"))  # the slow delivery is in flight
    started = time.monotonic()
    sender.enqueue(fast.id)
    delivered(store, fast.id, timeout=5)
    assert time.monotonic() - started < 4.0  # well before the slow receiver answers (6 s)
    still = store.get(slow.id)
    assert still.webhook_state == "pending" and still.webhook_attempts == 0  # still hanging, not yet answered


def test_waiting_retries_hold_no_worker(store, receiver, senders):
    """Four receivers that hang past the timeout, two workers: their retries wait in the heap, not in a thread."""
    receiver.hang["/slow"] = 30.0
    slow = [finished_job(store, receiver.url("/slow")) for _ in range(4)]
    fast = finished_job(store, receiver.url("/fast"))
    sender = senders(store, concurrency=2, timeout_s=0.3, backoff_s=40.0, max_backoff_s=40.0)
    started = time.monotonic()
    for job in slow:
        sender.enqueue(job.id)
    sender.enqueue(fast.id)  # behind four attempts that each time out after 0.3 s, on two workers
    delivered(store, fast.id, timeout=10)
    assert time.monotonic() - started < 8.0  # ~0.6 s here; a retry that slept in its worker would take 20 s+
    # the last slow attempt may still be timing out on the other worker; then each waits in the heap
    wait_for(lambda: all(store.get(j.id).webhook_attempts == 1 for j in slow), timeout=5)
    now = datetime.now(UTC)
    for job in (store.get(j.id) for j in slow):
        assert job.webhook_state == "pending" and job.webhook_attempts == 1
        assert job.webhook_next_at - now > timedelta(seconds=15)  # first retry: 20-40 s out, in the heap


def test_retries_with_jittered_backoff_then_delivered(any_store, receiver, senders):
    receiver.plans["/flaky"] = [500, 503]
    job = finished_job(any_store, receiver.url("/flaky"))
    sender = senders(any_store, backoff_s=0.2, max_backoff_s=5.0, secret="s3cret")
    sender.enqueue(job.id)
    done = delivered(any_store, job.id)
    hits = receiver.hits_for("/flaky")
    assert done.webhook_attempts == 3 and len(hits) == 3 and done.webhook_next_at is None
    gaps = [later.at - earlier.at for earlier, later in zip(hits, hits[1:], strict=False)]
    assert 0.1 <= gaps[0] < 0.2 + 3.0, gaps  # attempt 1 failed: wait in [0.1, 0.2] (+ a loaded machine's slack)
    assert 0.2 <= gaps[1] < 0.4 + 3.0, gaps  # attempt 2 failed: wait in [0.2, 0.4]
    assert json.loads(hits[-1].body) == webhook_payload(done) and json.loads(hits[-1].body)["result"] == {"n": 1}
    for hit in hits:  # what a receiver does: recompute the HMAC over the raw body
        assert hmac.compare_digest(hit.signature or "", sign(b"s3cret", hit.body))
    assert sign(b"wrong", hits[-1].body) != hits[-1].signature


def test_gives_up_after_max_attempts(any_store, receiver, senders):
    receiver.plans["/down"] = [500] * 10
    refused = f"http://127.0.0.1:{free_port()}/nobody-listens"
    down, unreachable = finished_job(any_store, receiver.url("/down")), finished_job(any_store, refused)
    sender = senders(any_store, max_attempts=3, backoff_s=0.05, max_backoff_s=0.1)
    sender.enqueue(down.id)
    sender.enqueue(unreachable.id)
    for job_id in (down.id, unreachable.id):
        failed = wait_for(lambda i=job_id: (j := any_store.get(i)).webhook_state == "failed" and j)
        assert failed.webhook_attempts == 3
    time.sleep(0.3)
    assert len(receiver.hits_for("/down")) == 3  # and nothing after giving up


def test_only_finished_jobs_are_delivered(store, receiver, senders):
    job = store.create("render", webhook_url=receiver.url("/hook"))
    sender = senders(store, rescan_s=0.1)
    sender.enqueue(job.id)  # queued, not finished: nothing to deliver yet
    time.sleep(0.5)
    assert receiver.hits_for("/hook") == [] and store.get(job.id).webhook_state == "pending"
    assert store.claim_webhook(job.id, timedelta(seconds=5)) is None
    store.claim("w", {"render"})
    store.finish(job.id, "w", JobState.FAILED, error="boom")
    sender.enqueue(job.id)
    delivered(store, job.id)
    assert [json.loads(h.body)["state"] for h in receiver.hits_for("/hook")] == ["failed"]


def test_pending_deliveries_survive_a_restart(tmp_path, receiver, senders):
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    before = JobStore(url)
    fresh = finished_job(before, receiver.url("/fresh"), JobState.CANCELLED)
    retried = finished_job(before, receiver.url("/retried"))
    for _ in range(2):  # two failed attempts by the previous process, the next one due now
        assert before.claim_webhook(retried.id, timedelta(seconds=30))
        before.record_webhook(retried.id, before.get(retried.id).webhook_attempts, "pending", datetime.now(UTC))
    later = finished_job(before, receiver.url("/later"))
    assert before.claim_webhook(later.id, timedelta(seconds=30))
    due = datetime.now(UTC) + timedelta(seconds=1.5)
    before.record_webhook(later.id, 0, "pending", due)
    crashed = finished_job(before, receiver.url("/crashed"))
    assert before.claim_webhook(crashed.id, timedelta(seconds=1))  # the process died mid-attempt
    before.close()

    after = JobStore(url)
    started_at = time.monotonic()
    senders(after, max_attempts=5)
    assert delivered(after, fresh.id).webhook_attempts == 1
    assert delivered(after, retried.id).webhook_attempts == 3
    assert delivered(after, crashed.id).webhook_attempts == 1
    assert receiver.hits_for("/crashed")[0].at - started_at >= 0.5  # only once its lease ran out
    assert delivered(after, later.id).webhook_attempts == 2
    assert receiver.hits_for("/later")[0].at - started_at >= 1.0  # the backoff due before the restart holds
    after.close()


def test_a_pending_delivery_left_by_another_replica_is_found_by_the_scan(store, receiver, senders):
    sender = senders(store, rescan_s=0.1)
    job = finished_job(store, receiver.url("/orphan"))  # finished elsewhere; nobody enqueued it here
    delivered(store, job.id, timeout=5)
    assert len(receiver.hits_for("/orphan")) == 1
    assert sender.rescan() == 0  # nothing pending is left


def test_senders_sharing_a_database_deliver_each_attempt_once(any_store, receiver, senders):
    jobs = [finished_job(any_store, receiver.url(f"/r{i}")) for i in range(12)]
    other_store = JobStore(any_store.engine.url.render_as_string(hide_password=False))
    try:
        pair = [senders(other_store, start=False, concurrency=3), senders(any_store, start=False, concurrency=3)]
        assert [sender.rescan() for sender in pair] == [12, 12]  # each tracks all twelve
        for sender in pair:
            sender.start()
        for job in jobs:
            delivered(any_store, job.id)
        time.sleep(0.3)
        paths = sorted(hit.path for hit in receiver.hits)
        assert paths == sorted(f"/r{i}" for i in range(12))  # each once
        assert all(any_store.get(job.id).webhook_attempts == 1 for job in jobs)
    finally:
        other_store.close()


def test_runner_delivers_when_a_job_finishes(store, tmp_path, receiver, senders):
    sender = senders(store, start=False, secret="k")
    runner = JobRunner(store, {"ok": lambda ctx: {"n": 2}}, tmp_path / "artifacts", poll_s=0.02, webhooks=sender)
    runner.start()
    try:
        job = store.create("ok", webhook_url=receiver.url("/done"))
        runner.notify()
        done = delivered(store, job.id)
    finally:
        runner.stop()
    [hit] = receiver.hits_for("/done")
    assert json.loads(hit.body) == webhook_payload(done) and done.result == {"n": 2}
    assert hit.signature == sign(b"k", hit.body)


def test_sender_from_settings(settings, store):
    configured = settings.model_copy(
        update={
            "webhook_concurrency": 3,
            "webhook_max_attempts": 7,
            "webhook_secret": "abc",
            "webhook_allow": ["10.20.0.0/16", "hooks.corp"],
        }
    )
    sender = WebhookSender.from_settings(store, configured)
    assert (sender.concurrency, sender.max_attempts, sender.secret) == (3, 7, b"abc")
    assert sender.policy.hosts == {"hooks.corp"} and [str(n) for n in sender.policy.networks] == ["10.20.0.0/16"]
    with pytest.raises(ValueError, match="concurrency"):
        WebhookSender(store, concurrency=0)


# -- the SSRF guard ------------------------------------------------------------------------------------------
def fake_dns(answers: dict[str, list[str]]):
    """A `getaddrinfo` whose n-th lookup of a name gets `answers[name][n]` (then the last one again)."""
    calls: dict[str, int] = {}

    def getaddrinfo(host, port, *args, **kwargs):
        calls[host] = calls.get(host, 0) + 1
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        address = answers[host][min(calls[host], len(answers[host])) - 1]
        return [(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    return getaddrinfo


def test_the_sender_refuses_internal_targets(store, receiver, senders):
    """Without an allow-list a loopback receiver gets nothing: the delivery fails at once, without retries."""
    job = finished_job(store, receiver.url("/inside"))
    sender = senders(store, allow=[], backoff_s=0.05, max_backoff_s=0.1)
    sender.enqueue(job.id)
    failed = wait_for(lambda: (j := store.get(job.id)).webhook_state == "failed" and j)
    time.sleep(0.3)
    assert receiver.hits == [] and failed.webhook_attempts == 1


def test_dns_rebinding_is_refused_at_send_time(store, receiver, senders):
    """A name that resolved to a public address when the job was submitted and to loopback when the webhook is
    sent: the send-time check resolves again, and nothing reaches the loopback receiver."""
    port = receiver.server.server_address[1]
    policy = OutboundPolicy(resolver=fake_dns({"rebind.example": ["93.184.216.34", "127.0.0.1"]}))
    url = f"http://rebind.example:{port}/rebound"
    assert policy.resolve(url).addresses == ("93.184.216.34",)  # the submit-time check passes
    job = finished_job(store, url)
    sender = senders(store, policy=policy)
    sender.enqueue(job.id)
    failed = wait_for(lambda: (j := store.get(job.id)).webhook_state == "failed" and j)
    assert receiver.hits == [] and failed.webhook_attempts == 1


def test_the_sender_connects_to_the_checked_address(store, receiver, senders):
    """The request goes to the address the check saw (the name is resolved once, by the guard), and the receiver
    still sees the URL's host in the Host header."""
    port = receiver.server.server_address[1]
    policy = OutboundPolicy(["hooks.corp"], resolver=fake_dns({"hooks.corp": ["127.0.0.1", "10.66.0.1"]}))
    job = finished_job(store, f"http://hooks.corp:{port}/named?via=dns")
    sender = senders(store, policy=policy)
    sender.enqueue(job.id)
    delivered(store, job.id)
    [hit] = receiver.hits
    assert hit.path == "/named?via=dns" and hit.host == f"hooks.corp:{port}"


WEBHOOK_ROUTES = {  # route -> (key, a body that is otherwise valid)
    "/v1/images": (MERCHANT_KEY, {"items": [{}, {}]}),
    "/v1/videos": (MERCHANT_KEY, {"photos": ["PHOTO"], "width": 360, "fps": 12, "duration": 6}),
    "/v1/copy/notes/batch": (MERCHANT_KEY, {"products": [{"product": "防晒霜"}]}),
    "/v1/models/check": (ADMIN_KEY, {}),
}


@pytest.fixture(scope="module")
def photo() -> str:
    import base64

    import cv2

    from generation.image.testing import product_shot

    shot = product_shot("bottle", "white", size=(600, 800), seed=3)
    return base64.b64encode(cv2.imencode(".png", cv2.cvtColor(shot.rgb, cv2.COLOR_RGB2BGR))[1].tobytes()).decode()


@pytest.mark.parametrize("route", list(WEBHOOK_ROUTES))
def test_every_route_refuses_internal_webhook_urls_with_one_422(client, route, photo):
    key, body = WEBHOOK_ROUTES[route]
    body = {k: ([photo] if v == ["PHOTO"] else v) for k, v in body.items()}
    refused = [
        "http://127.0.0.1:8080/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://10.0.0.7/hook",
        "http://172.16.5.4/hook",
        "http://192.168.1.20/hook",
        "http://100.64.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://localhost:8080/hook",
    ]
    for url in refused:
        response = client.post(route, json={**body, "webhook_url": url}, headers=auth(key))
        error = assert_envelope(response, 422, "invalid_request", "webhook_url")
        assert error["message"].startswith("webhook_url: ") and "NOTESTUDIO_WEBHOOK_ALLOW" in error["message"], url
    ftp = client.post(route, json={**body, "webhook_url": "ftp://93.184.216.34/x"}, headers=auth(key))
    assert_envelope(ftp, 422, "invalid_request", "webhook_url")
    assert client.get("/v1/jobs", headers=auth(key)).json()["jobs"] == []  # nothing was queued


def test_the_allow_list_lets_a_chosen_target_through_and_the_job_view_says_only_the_state(tmp_path):
    """With 127.0.0.1 allow-listed a loopback webhook is accepted; one that cannot be delivered shows as
    `failed` in the job, with nothing about why (connection refused and timed out read the same)."""
    nobody = f"http://127.0.0.1:{free_port()}/nobody-listens"
    with serving_client(tmp_path / "var", webhook_allow=["127.0.0.1"], webhook_max_attempts=1) as allowed:
        body = {"products": [{"product": "防晒霜"}], "webhook_url": nobody}
        created = allowed.post("/v1/copy/notes/batch", json=body, headers=auth(MERCHANT_KEY))
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        job = wait_for(
            lambda: (
                (r := allowed.get(f"/v1/jobs/{job_id}", headers=auth(MERCHANT_KEY)).json())["webhook_state"] == "failed"
                and r
            ),
            timeout=120,  # a fresh service warms up first (on a busy machine, tens of seconds)
        )
    assert job["state"] == "succeeded" and job["error"] is None
    assert set(job) == {
        *("id", "kind", "state", "progress", "message", "result", "error", "attempts", "webhook_state"),
        *("created_at", "started_at", "finished_at", "links"),
    }
    shown = json.dumps(job).lower()
    assert not any(word in shown for word in ("refused", "connect", "timeout", "timed out", "nobody-listens"))


# -- shutdowns lose no webhook ---------------------------------------------------------------------------------
class ClaimLog(JobStore):
    """A store that records when each claim began and what it took, and can hold one successful claim before it
    returns (`hold` armed: the claim is done in the database, the worker has not seen it yet)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.claims: list[tuple[float, str]] = []
        self.hold, self.held, self.go = threading.Event(), threading.Event(), threading.Event()

    def claim(self, worker, kinds=None):
        began = time.monotonic()
        job = super().claim(worker, kinds)
        if job is not None:
            self.claims.append((began, job.id))
            if self.hold.is_set():
                self.hold.clear()
                self.held.set()
                self.go.wait(10)
        return job


def test_a_job_interrupted_by_shutdown_sends_one_webhook_with_its_result_after_the_restart(tmp_path, receiver, senders):
    """Stop a runner while job A runs and while a worker's claim of job B is in flight; restart on the same
    database. Nothing starts once the stop began, nothing is sent for the requeued jobs, neither interruption
    counts as an attempt, and after the restart each job sends exactly one webhook: its final state and result."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    dies = threading.Event()  # set at teardown: the first process's handlers never return before the restart
    started_first: list[str] = []

    def first_run(ctx):  # one long silent step (a model call) when the service stops
        started_first.append(ctx.job_id)
        dies.wait(30)
        return {"made": "by the stopped runner"}

    def second_run(ctx):
        ctx.report(0.5, "half")
        return {"made": ctx.params["n"]}

    options = {"workers": 2, "heartbeat_s": 0.1, "stale_after_s": 1.0, "poll_s": 0.02}
    first = ClaimLog(url)
    second = None
    try:
        runner = JobRunner(first, {"w": first_run}, tmp_path / "art", webhooks=senders(first, start=False), **options)
        runner.start()
        a = first.create("w", {"n": 1}, webhook_url=receiver.url("/a"), max_attempts=2)
        wait_for(lambda: a.id in started_first)
        first.hold.set()
        b = first.create("w", {"n": 2}, webhook_url=receiver.url("/b"), max_attempts=2)
        assert first.held.wait(5)  # the other worker claimed B; the stop begins before it sees the claim
        threading.Timer(0.3, first.go.set).start()
        stop_began = time.monotonic()
        runner.stop(timeout=2.0)
        wait_for(lambda: first.get(b.id).state == JobState.QUEUED, timeout=3)

        assert started_first == [a.id]  # B never started in the stopping runner
        assert [job_id for began, job_id in first.claims if began >= stop_began] == []  # no claim after the stop
        for job in (first.get(a.id), first.get(b.id)):
            assert job.state == JobState.QUEUED and job.attempts == 0  # requeued, the interruption not counted
            assert job.webhook_state == "pending" and job.webhook_attempts == 0
        time.sleep(0.3)
        assert receiver.hits == []  # nothing sent for a requeued job

        second = JobStore(url)  # the restarted service
        restarted = JobRunner(
            second, {"w": second_run}, tmp_path / "art", webhooks=senders(second, start=False), **options
        )
        restarted.start()
        try:
            done = {job.id: delivered(second, job.id) for job in (a, b)}
            time.sleep(0.5)
        finally:
            restarted.stop()
    finally:
        dies.set()
        first.go.set()
        first.close()
        if second is not None:
            second.close()

    for job, path, n in ((a, "/a", 1), (b, "/b", 2)):
        [hit] = receiver.hits_for(path)  # exactly one webhook per job
        payload = json.loads(hit.body)
        assert payload["state"] == "succeeded" and payload["result"] == {"made": n} and payload["id"] == job.id
        assert done[job.id].attempts == 1 and done[job.id].webhook_attempts == 1
