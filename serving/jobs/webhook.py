"""Webhook delivery on job completion: a bounded pool of senders, jittered exponential backoff, durable state.

1. A pool of `concurrency` worker threads posts deliveries, so a slow or dead receiver holds one worker for
   at most its per-attempt timeout while the others keep delivering.
2. A retry that waits is an entry in a timer heap, not a sleeping thread: no worker is held between
   attempts, so receivers that keep failing cannot starve the pool either.
3. Retries back off exponentially with jitter: attempt n waits between half and all of
   `backoff_s * 2**(n-1)`, capped at `max_backoff_s`, so receivers that failed together do not retry in step.
   The delays come from tenacity's wait strategies (`wait_exponential + wait_random_exponential`, i.e.
   "equal jitter"). tenacity rather than stamina: stamina wraps tenacity behind retry loops that sleep in
   the calling thread or task, while here the delay must be a number that goes into the heap; tenacity's
   wait strategies are public, composable callables that compute it without sleeping.
4. State lives in the job row (`webhook_state` pending / delivered / failed, `webhook_attempts`,
   `webhook_next_at`). Each attempt is claimed in the store with a conditional UPDATE that only matches a
   terminal job, so only finished jobs are ever delivered and replicas sharing a database never send the
   same attempt twice. Deliveries pending at a restart, or left by a replica that died, are found by the
   scan at start and every `rescan_s`, and keep the backoff that was due.

5. Every attempt goes through the SSRF guard (`common.netguard`): the URL's host is resolved then, every
   address checked (public only, or in the operator's allow-list), and the request connects to a checked
   address (Host header and TLS SNI/certificate still the URL's host); a second DNS answer never reaches a
   socket. Redirects are never followed, and connections are not kept alive (each attempt checks afresh).
   A refused target fails the delivery at once (no retries); a host that does not resolve is retried.

Delivery is at least once (a receiver may see a job twice if a sender dies after the POST and before
recording it): receivers should treat the job `id` as an idempotency key. Bodies are signed with
HMAC-SHA256 (`X-NoteStudio-Signature: sha256=<hex>`) when a secret is configured. Why an attempt failed
(refused, timed out, connection refused, HTTP status) goes to the log only, never into the job row: the
public job view says pending / delivered / failed and nothing a caller could probe a network with.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from tenacity import RetryCallState, wait_exponential, wait_random_exponential

from common.netguard import OutboundPolicy, TargetRefused
from serving.jobs.store import Job, JobStore

if TYPE_CHECKING:
    from serving.settings import Settings

__all__ = ["WebhookSender", "jittered_backoff", "sign", "webhook_payload"]

log = logging.getLogger(__name__)


def webhook_payload(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state.value,
        "result": job.result,
        "error": job.error,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def sign(secret: bytes, body: bytes) -> str:
    """The `X-NoteStudio-Signature` value of `body`: `sha256=` + hex HMAC-SHA256 under `secret`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def jittered_backoff(backoff_s: float, max_backoff_s: float) -> Callable[[int], float]:
    """Delay after failed attempt n (1-based): uniform in [d/2, d] with d = min(backoff_s * 2**(n-1), max_backoff_s).

    Raises:
        ValueError: a non-positive `backoff_s` or a `max_backoff_s` below it.
    """
    if backoff_s <= 0 or max_backoff_s < backoff_s:
        raise ValueError(f"need 0 < backoff_s <= max_backoff_s, got backoff_s={backoff_s}, max={max_backoff_s}")
    half, cap = backoff_s / 2, max_backoff_s / 2
    strategy = wait_exponential(multiplier=half, max=cap) + wait_random_exponential(multiplier=half, max=cap)

    def delay(attempt: int) -> float:
        if attempt < 1:
            raise ValueError(f"attempt counts from 1, got {attempt}")
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = attempt
        return float(strategy(state))

    return delay


class WebhookSender:
    """Delivers the webhooks of finished jobs from a bounded pool of threads; see the module docstring."""

    def __init__(
        self,
        store: JobStore,
        max_attempts: int = 5,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        secret: str | None = None,
        timeout_s: float = 10.0,
        concurrency: int = 4,
        rescan_s: float = 30.0,
        allow: Iterable[str] = (),
        policy: OutboundPolicy | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if timeout_s <= 0 or rescan_s <= 0:
            raise ValueError(f"timeout_s and rescan_s must be > 0, got {timeout_s} and {rescan_s}")
        self.store = store
        self.max_attempts = max_attempts
        self.backoff = jittered_backoff(backoff_s, max(backoff_s, max_backoff_s))
        self.secret = secret.encode() if secret else None
        self.concurrency = concurrency
        self.rescan_s = rescan_s
        #: Which targets may be sent to: public addresses plus `allow` (an explicit `policy` wins).
        self.policy = policy or OutboundPolicy(allow)
        # httpx's timeout bounds each phase (connect, write, read); the claim's lease covers all of them.
        self.lease = timedelta(seconds=4 * timeout_s + 5)
        self._client = httpx.Client(
            timeout=timeout_s,
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: the connection goes to the checked address
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=0),
        )
        self._heap: list[tuple[float, int, str]] = []  # (due on the monotonic clock, tie-breaker, job id)
        self._tracked: set[str] = set()  # job ids in the heap or in flight here
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []

    @classmethod
    def from_settings(cls, store: JobStore, settings: Settings) -> WebhookSender:
        """The sender the service runs: attempts, backoff, secret and pool size from `settings`."""
        return cls(
            store,
            max_attempts=settings.webhook_max_attempts,
            backoff_s=settings.webhook_backoff_s,
            secret=settings.webhook_secret,
            concurrency=settings.webhook_concurrency,
            allow=settings.webhook_allow,
        )

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Schedule the deliveries left pending in the store, then start the pool and the periodic scan."""
        self.rescan()
        for i in range(self.concurrency):
            self._spawn(self._work_loop, f"webhook-{i}")
        self._spawn(self._rescan_loop, "webhook-rescan")

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking deliveries; undelivered ones stay pending in the store for the next start."""
        with self._cond:
            if self._stopping:
                return
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        self._client.close()

    def enqueue(self, job_id: str) -> None:
        """Deliver the webhook of a job now (the runner calls this when the job finishes)."""
        self._schedule(job_id, 0.0, new=True)

    def rescan(self) -> int:
        """Schedule pending deliveries of terminal jobs not tracked yet, each when due; returns how many."""
        now = datetime.now(UTC)
        added = 0
        for job in self.store.pending_webhooks():
            due_in = (job.webhook_next_at - now).total_seconds() if job.webhook_next_at else 0.0
            added += self._schedule(job.id, max(0.0, due_in), new=True)
        return added

    # -- scheduling ------------------------------------------------------------------------------------
    def _schedule(self, job_id: str, delay_s: float, new: bool) -> bool:
        with self._cond:
            if self._stopping or (new and job_id in self._tracked):
                return False
            self._tracked.add(job_id)
            heapq.heappush(self._heap, (time.monotonic() + delay_s, next(self._seq), job_id))
            self._cond.notify()
        return True

    def _take(self) -> str | None:
        """Block until a delivery is due (None once stopping); waiting retries hold no worker."""
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                if self._heap and self._heap[0][0] <= now:
                    return heapq.heappop(self._heap)[2]
                self._cond.wait(self._heap[0][0] - now if self._heap else None)
            return None

    def _work_loop(self) -> None:
        while (job_id := self._take()) is not None:
            try:
                retry_in = self._attempt(job_id)
            except Exception:  # e.g. the database is briefly unreachable: keep the worker, try this one later
                log.exception("webhook delivery for job %s failed inside the sender; retrying later", job_id)
                retry_in = self.rescan_s
            if retry_in is None:
                with self._cond:
                    self._tracked.discard(job_id)
            else:
                self._schedule(job_id, retry_in, new=False)

    def _rescan_loop(self) -> None:
        while True:
            with self._cond:
                if self._cond.wait_for(lambda: self._stopping, timeout=self.rescan_s):
                    return
            try:
                self.rescan()
            except Exception:  # the next scan tries again
                log.exception("scanning for pending webhooks failed")

    # -- one attempt -----------------------------------------------------------------------------------
    def _attempt(self, job_id: str) -> float | None:
        """Claim and send one attempt; returns seconds until this job needs looking at again, None when done."""
        job = self.store.claim_webhook(job_id, self.lease)
        if job is None:
            return self._due_in(job_id)
        delivered, reason, final = self._post(job)
        attempts = job.webhook_attempts + 1
        if delivered:
            state, next_at, retry_in = "delivered", None, None
        elif final or attempts >= self.max_attempts:
            state, next_at, retry_in = "failed", None, None
            log.warning("webhook for job %s failed (%s); gave up after %d attempts", job.id, reason, attempts)
        else:
            retry_in = self.backoff(attempts)
            state, next_at = "pending", datetime.now(UTC) + timedelta(seconds=retry_in)
            log.info(
                "webhook for job %s failed (%s), attempt %d/%d; retry in %.2f s",
                *(job.id, reason, attempts, self.max_attempts, retry_in),
            )
        if not self.store.record_webhook(job.id, job.webhook_attempts, state, next_at):
            return self._due_in(job_id)  # another sender recorded an attempt meanwhile (our lease ran out)
        return retry_in

    def _due_in(self, job_id: str) -> float | None:
        """For a job this sender could not claim: when its delivery is due, or None if it needs none."""
        job = self.store.get(job_id)
        if job is None or not job.terminal or job.webhook_state != "pending" or job.webhook_next_at is None:
            return None  # gone, not finished (the runner enqueues it when it is), or done
        return max(0.01, (job.webhook_next_at - datetime.now(UTC)).total_seconds())

    def _post(self, job: Job) -> tuple[bool, str, bool]:
        """One POST: (delivered, why not, whether retrying is pointless). Connects only to checked addresses."""
        try:
            target = self.policy.resolve(job.webhook_url or "")
        except TargetRefused as exc:  # refused now (e.g. DNS rebinding to an internal address): never retried
            return False, f"target refused ({exc.reason})", exc.reason != "unresolved"
        body = json.dumps(webhook_payload(job), ensure_ascii=False).encode()
        headers = {
            "content-type": "application/json",
            "x-notestudio-event": "job.finished",
            "host": target.host_header,
        }
        if self.secret:
            headers["x-notestudio-signature"] = sign(self.secret, body)
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        reason = "no address"
        for address in target.addresses:  # the next checked address only when this one cannot be reached
            try:
                response = self._client.post(
                    target.url_for(address), content=body, headers=headers, extensions=extensions
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                continue
            except httpx.HTTPError as exc:
                return False, f"{type(exc).__name__}: {exc}", False
            return 200 <= response.status_code < 300, f"HTTP {response.status_code}", False
        return False, reason, False
