"""Webhook delivery on job completion: POST the job's summary, retry with exponential backoff.

Delivery state lives in the job row, so webhooks still pending when the service stops are sent after a
restart. Bodies are signed with HMAC-SHA256 when a secret is configured.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from collections.abc import Callable

import httpx

from serving.jobs.store import Job, JobStore

__all__ = ["WebhookSender", "webhook_payload"]

log = logging.getLogger(__name__)


def webhook_payload(job: Job) -> dict:
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state.value,
        "result": job.result,
        "error": job.error,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


class WebhookSender:
    """A background thread that delivers webhooks one at a time, so slow receivers never hold a worker."""

    def __init__(
        self,
        store: JobStore,
        max_attempts: int = 5,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        secret: str | None = None,
        timeout_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.secret = secret.encode() if secret else None
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._sleep = sleep
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        for job in self.store.pending_webhooks():  # left over from before a restart
            self._queue.put(job.id)
        self._thread = threading.Thread(target=self._loop, name="webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
        self._client.close()

    def enqueue(self, job_id: str) -> None:
        self._queue.put(job_id)

    def _loop(self) -> None:
        while (job_id := self._queue.get()) is not None:
            job = self.store.get(job_id)
            if job is not None and job.webhook_url and job.webhook_state == "pending":
                self.deliver(job)

    def deliver(self, job: Job) -> bool:
        """Try until a 2xx or `max_attempts`; records the outcome in the job row."""
        body = json.dumps(webhook_payload(job), ensure_ascii=False).encode()
        headers = {"content-type": "application/json", "x-notestudio-event": "job.finished"}
        if self.secret:
            headers["x-notestudio-signature"] = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        attempts = job.webhook_attempts
        while attempts < self.max_attempts:
            attempts += 1
            try:
                status = self._client.post(job.webhook_url, content=body, headers=headers).status_code
            except httpx.HTTPError as exc:
                status, reason = None, f"{type(exc).__name__}: {exc}"
            else:
                reason = f"HTTP {status}"
            if status is not None and 200 <= status < 300:
                self.store.record_webhook(job.id, "delivered", attempts)
                return True
            self.store.record_webhook(job.id, "pending", attempts)
            log.warning("webhook for job %s failed (%s), attempt %d/%d", job.id, reason, attempts, self.max_attempts)
            if attempts < self.max_attempts:
                self._sleep(min(self.max_backoff_s, self.backoff_s * 2 ** (attempts - 1)))
        self.store.record_webhook(job.id, "failed", attempts)
        return False
