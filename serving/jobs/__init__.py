"""Long work as durable jobs: a SQLAlchemy store, a threaded runner, webhook delivery."""

from serving.jobs.runner import JobCancelled, JobContext, JobHandler, JobRunner
from serving.jobs.store import TERMINAL_STATES, Job, JobState, JobStore
from serving.jobs.webhook import WebhookSender

__all__ = [
    "TERMINAL_STATES",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobHandler",
    "JobRunner",
    "JobState",
    "JobStore",
    "WebhookSender",
]
