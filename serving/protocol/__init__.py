"""Wire models of the HTTP API (pydantic). `core` holds the shared ones; each capability adds a module."""

from serving.protocol.core import (
    ErrorDetail,
    ErrorEnvelope,
    HealthOut,
    JobListOut,
    JobOut,
    ModelCheckIn,
    ModelListOut,
    ModelOut,
    ReadyOut,
)

__all__ = [
    "ErrorDetail",
    "ErrorEnvelope",
    "HealthOut",
    "JobListOut",
    "JobOut",
    "ModelCheckIn",
    "ModelListOut",
    "ModelOut",
    "ReadyOut",
]
