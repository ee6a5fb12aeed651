"""Runs queued jobs on worker threads, reports progress, honours cancels, recovers lost jobs.

A job kind is a plain function `handler(ctx) -> dict`: it reads `ctx.params`, writes files under
`ctx.artifacts_dir`, calls `ctx.report(fraction, message)` as it goes (which raises `JobCancelled` once a
cancel was requested) and returns a JSON-safe result. A separate heartbeat thread keeps running jobs
alive in the store even during long uninterrupted steps; when a replica dies its heartbeats stop and any
runner sharing the store requeues or fails the job.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from serving.jobs.store import Job, JobState, JobStore
from serving.jobs.webhook import WebhookSender

__all__ = ["JobCancelled", "JobContext", "JobHandler", "JobRunner"]

log = logging.getLogger(__name__)

_STOPPED = "requeued: the service stopped while it ran"


class JobCancelled(Exception):
    """Raised inside a handler by `ctx.report` once the job was cancelled."""


@dataclass
class JobContext:
    """What a handler sees of its job."""

    job_id: str
    params: dict[str, Any]
    artifacts_dir: Path
    _report: Callable[[float, str], bool] = field(repr=False)

    def report(self, progress: float, message: str = "") -> None:
        """Record progress in [0, 1]; raises `JobCancelled` when a cancel was requested."""
        if self._report(progress, message):
            raise JobCancelled(self.job_id)

    def artifact(self, name: str) -> Path:
        """Path for an output file; `GET /v1/jobs/{id}/artifacts/{name}` serves it."""
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"artifact name must be a plain file name, got {name!r}")
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        return self.artifacts_dir / name

    @contextmanager
    def writing(self, name: str) -> Iterator[Path]:
        """Yield a hidden path to write artifact `name` into; it becomes the artifact only when the block ends
        without an error (a rename), and is deleted otherwise — a download never sees a half-written file, and a
        cancelled or failed job leaves no partial one behind."""
        final = self.artifact(name)
        partial = final.with_name(f".{name}.partial")  # dot names are never served (see `artifact`)
        try:
            yield partial
            partial.replace(final)
        finally:
            partial.unlink(missing_ok=True)

    def write_artifact(self, name: str, data: bytes) -> Path:
        """Write a whole artifact at once, atomically (see `writing`)."""
        with self.writing(name) as path:
            path.write_bytes(data)
        return self.artifact(name)


JobHandler = Callable[[JobContext], dict[str, Any]]


class JobRunner:
    """Worker threads over a `JobStore`; any number of runners (replicas) may share one store."""

    def __init__(
        self,
        store: JobStore,
        handlers: dict[str, JobHandler],
        artifacts_root: Path,
        workers: int = 2,
        heartbeat_s: float = 2.0,
        stale_after_s: float = 30.0,
        webhooks: WebhookSender | None = None,
        poll_s: float = 0.2,
    ) -> None:
        self.store = store
        self.handlers = dict(handlers)
        self.artifacts_root = Path(artifacts_root)
        self.n_workers = workers
        self.heartbeat_s = heartbeat_s
        self.stale_after = timedelta(seconds=stale_after_s)
        self.webhooks = webhooks
        self.poll_s = poll_s
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, tuple[float, str]] = {}  # job id -> latest (progress, message)
        self._running_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        self.recover()
        if self.webhooks:
            self.webhooks.start()
        for i in range(self.n_workers):
            self._spawn(self._work_loop, f"job-worker-{i}")
        self._spawn(self._heartbeat_loop, "job-heartbeat")

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop taking work and hand running jobs back to the queue at once.

        A shutdown must not wait for a long job (Ctrl-C stops the service in seconds):

        1. From this call on no worker starts a job: a claim already in flight when it began is handed back
           untouched (see `_begin`), so nothing new runs during the drain.
        2. Each running job is requeued now — its interrupted run does not count as an attempt — so another
           replica, or this service after a restart, runs it again; a job whose cancel was requested ends as
           cancelled instead.
        3. Only jobs that finished (succeeded, failed, cancelled) get their webhook; a requeued job sends
           none now, and sends its one webhook when it finishes after the restart.

        Handlers still running are told to stop at their next progress report; worker threads get `timeout`
        seconds in all, then are left to die with the process.
        """
        with self._running_lock:  # `_begin` registers under this lock: a job is either in `running` or refused
            self._stop.set()
            running = list(self._running)
        self._wake.set()
        for job_id in running:
            job = self.store.get(job_id)
            if job is not None and job.cancel_requested:
                self.store.finish(job_id, self.worker_id, JobState.CANCELLED, message="cancelled")
                self._after_finish(job_id)
            elif self.store.release(job_id, self.worker_id, _STOPPED):
                log.warning("job %s (%s) requeued: the service is stopping", job_id, job.kind if job else "?")
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if self.webhooks:
            self.webhooks.stop()

    def notify(self) -> None:
        """Wake idle workers (called after a job is created)."""
        self._wake.set()

    def recover(self) -> list[Job]:
        recovered = self.store.recover_stale(self.stale_after)
        for job in recovered:
            log.warning("recovered job %s (%s): %s", job.id, job.state.value, job.message)
            if job.terminal:
                self._after_finish(job.id)
        return recovered

    # -- loops -----------------------------------------------------------------------------------------
    def _work_loop(self) -> None:
        kinds = set(self.handlers)
        while not self._stop.is_set():
            job = self.store.claim(self.worker_id, kinds)
            if job is None:
                self._wake.wait(self.poll_s)
                self._wake.clear()
                continue
            if not self._begin(job):
                self.store.release(job.id, self.worker_id, "requeued: the service stopped before it ran")
                return
            self._run(job)

    def _begin(self, job: Job) -> bool:
        """Register a claimed job as running here; False (run nothing) once `stop` began."""
        with self._running_lock:
            if self._stop.is_set():
                return False
            self._running[job.id] = (0.0, "running")
            return True

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            with self._running_lock:
                running = dict(self._running)
            for job_id, (progress, message) in running.items():
                self.store.heartbeat(job_id, self.worker_id, progress, message)
            self.recover()

    def _run(self, job: Job) -> None:
        def report(progress: float, message: str) -> bool:
            with self._running_lock:
                self._running[job.id] = (progress, message)
            return self.store.heartbeat(job.id, self.worker_id, progress, message) or self._stop.is_set()

        ctx = JobContext(job.id, job.params, self.artifacts_root / job.id, report)
        try:
            result = self.handlers[job.kind](ctx)
        except JobCancelled:
            if self._stop.is_set() and not self.store.heartbeat(job.id, self.worker_id):
                self.store.release(job.id, self.worker_id, _STOPPED)
            else:
                self.store.finish(job.id, self.worker_id, JobState.CANCELLED, message="cancelled")
        except Exception as exc:  # a failing handler fails its job, never the worker thread
            log.error("job %s (%s) failed:\n%s", job.id, job.kind, traceback.format_exc())
            self.store.finish(job.id, self.worker_id, JobState.FAILED, error=f"{type(exc).__name__}: {exc}")
        else:
            self.store.finish(job.id, self.worker_id, JobState.SUCCEEDED, result=result, message="done")
        finally:
            with self._running_lock:
                self._running.pop(job.id, None)
        self._after_finish(job.id)

    def _after_finish(self, job_id: str) -> None:
        """Hand a finished job's webhook to the sender; a job that was requeued (not finished) sends none."""
        if self.webhooks is not None:
            job = self.store.get(job_id)
            if job is not None and job.terminal and job.webhook_state == "pending":
                self.webhooks.enqueue(job_id)
