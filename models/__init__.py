"""How a model is named, found, loaded and run — knows nothing of notes or listings."""

from models.errors import (
    EngineUnavailableError,
    MissingWeightsError,
    ModelConfigError,
    ModelError,
    UnknownModelError,
)
from models.loader import EngineCache, load_engine
from models.registry import ModelRegistry, ResolvedWeights, default_registry_path, resolve_weights
from models.spec import EngineKind, ModelSpec, Task

__all__ = [
    "EngineCache",
    "EngineKind",
    "EngineUnavailableError",
    "MissingWeightsError",
    "ModelConfigError",
    "ModelError",
    "ModelRegistry",
    "ModelSpec",
    "ResolvedWeights",
    "Task",
    "UnknownModelError",
    "default_registry_path",
    "load_engine",
    "resolve_weights",
]
