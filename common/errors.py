"""`InputError`: a problem with what a caller sent, naming the field, with the HTTP status it deserves.

Domain services raise it (or a subclass) for anything a client can fix, and `UpstreamError` when a model
server answers something unusable; the HTTP layer renders it in the
error envelope `{"error": {"type", "message", "param"}}`, the CLI prints it as one line and exits 2, and
batch operations store `to_dict()` as a per-record error entry. pydantic validation errors are converted
by `from_validation_error`, so a request validated by a domain model fails the same way everywhere.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

__all__ = [
    "ServiceError",
    "InputError",
    "UpstreamError",
    "ModelUnavailableError",
    "from_validation_error",
    "param_of",
    "STATUS_TYPES",
]

#: The envelope's `type` for each status a service answers with.
STATUS_TYPES = {
    400: "invalid_request",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    502: "upstream_error",
    503: "unavailable",
}


class ServiceError(Exception):
    """A failure a service reports to its caller in the envelope's terms: HTTP `status`, `type`, `param`."""

    status: int = 500
    type: str = "internal_error"

    def __init__(self, message: str, param: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if status is not None:
            self.status = status
            self.type = STATUS_TYPES.get(status, self.type)

    def to_dict(self) -> dict[str, Any]:
        """The envelope's `error` object."""
        return {"type": self.type, "message": self.message, "param": self.param}


class InputError(ServiceError, ValueError):
    """Bad input a client can fix. `param` is the dotted path of the field (`selling_points.3`, `image`)."""

    status = 422
    type = "invalid_request"


class UpstreamError(ServiceError):
    """A model server or hosted model answered something unusable (502)."""

    status = 502
    type = "upstream_error"


def param_of(loc: tuple[Any, ...] | list[Any], prefix: str = "") -> str | None:
    """Dotted field path from a pydantic `loc`, without FastAPI's `body`/`query` roots."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    path = ".".join(parts)
    if prefix:
        return f"{prefix}.{path}" if path else prefix
    return path or None


class ModelUnavailableError(ServiceError):
    """A capability whose model is not configured or cannot load (503; the message says how to add it)."""

    status = 503
    type = "model_unavailable"


def from_validation_error(exc: ValidationError, prefix: str = "") -> InputError:
    """The first error of a pydantic `ValidationError` as an `InputError` naming its field."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid value"}
    param = param_of(tuple(first.get("loc", ())), prefix)
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return InputError(f"{param}: {message}" if param else message, param)
