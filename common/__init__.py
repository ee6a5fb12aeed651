"""What every layer shares and nothing else: the input-error type behind the one error envelope, and the
coalescing worker. It imports nothing from the project, so any package may depend on it."""

from common.coalescing import CoalescingWorker
from common.errors import InputError, ServiceError, UpstreamError, from_validation_error

__all__ = ["CoalescingWorker", "InputError", "ServiceError", "UpstreamError", "from_validation_error"]
