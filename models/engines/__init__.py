"""Engine interfaces (one per task family); concrete backends load lazily through `models.loader`."""

from models.engines.base import (
    CancelHook,
    ChatMessage,
    ClassifierEngine,
    DiffusionCancelled,
    DiffusionEngine,
    Engine,
    Generation,
    GenerationParams,
    Prompt,
    Seq2SeqEngine,
    StepCallback,
    TextEngine,
    UnsupportedPairError,
    row_params,
)
from models.engines.diffusion_inputs import DiffusionInputError

__all__ = [
    "CancelHook",
    "ChatMessage",
    "ClassifierEngine",
    "DiffusionCancelled",
    "DiffusionEngine",
    "DiffusionInputError",
    "Engine",
    "Generation",
    "GenerationParams",
    "Prompt",
    "Seq2SeqEngine",
    "StepCallback",
    "TextEngine",
    "UnsupportedPairError",
    "row_params",
]
