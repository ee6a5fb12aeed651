"""Device and dtype choice from a `ModelSpec`, shared by every torch-based engine."""

from __future__ import annotations

import torch

from models.errors import EngineUnavailableError

__all__ = ["resolve_device", "resolve_dtype"]


def resolve_device(requested: str) -> torch.device:
    """`auto` takes CUDA when present; an explicit CUDA request on a machine without one is an error."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise EngineUnavailableError(
            f"device {requested!r} requested but torch sees no CUDA device (torch {torch.__version__}); set "
            "`device: cpu` or install the CUDA build of torch (README, GPU install)"
        )
    return torch.device(requested)


def resolve_dtype(requested: str, device: torch.device) -> torch.dtype:
    """`auto` is bfloat16 on GPUs that support it, float16 on older GPUs, float32 on CPU."""
    if requested == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[requested]
