"""`check_spec`: can this configured model run here, and if not, exactly why and how to fix it.

Shared by `notestudio models check` and the `models.check` job, so both say the same thing.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from models.errors import ModelError
from models.loader import load_engine
from models.registry import resolve_weights
from models.spec import ModelSpec

__all__ = ["ModelStatus", "check_spec"]


@dataclass(frozen=True)
class ModelStatus:
    """Outcome of checking one spec; `problem` is a one-line message with the fix when not `ok`."""

    name: str
    task: str
    engine: str
    ok: bool
    origin: str | None = None
    path: str | None = None
    loaded: bool = False
    load_seconds: float | None = None
    problem: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def check_spec(spec: ModelSpec, load: bool = False) -> ModelStatus:
    """Resolve the weights offline; with `load`, also build the engine (slow: real weights are read)."""
    base = {"name": spec.name, "task": spec.task.value, "engine": spec.engine.value}
    try:
        weights = resolve_weights(spec)
    except ModelError as exc:
        return ModelStatus(**base, ok=False, problem=str(exc))
    found = {**base, "origin": weights.origin, "path": str(weights.path)}
    if not load:
        return ModelStatus(**found, ok=True)
    started = time.perf_counter()
    try:
        engine = load_engine(spec)
    except ModelError as exc:
        return ModelStatus(**found, ok=False, problem=str(exc))
    except (OSError, ValueError, RuntimeError) as exc:  # a corrupt or incompatible checkpoint
        return ModelStatus(
            **found, ok=False, problem=f"model {spec.name!r} failed to load: {type(exc).__name__}: {exc}"
        )
    engine.close()
    return ModelStatus(**found, ok=True, loaded=True, load_seconds=round(time.perf_counter() - started, 3))
