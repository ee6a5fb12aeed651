"""Engine interfaces (one per task family); concrete backends load lazily through `models.loader`."""

from models.engines.base import (
    ChatMessage,
    ClassifierEngine,
    DiffusionEngine,
    Engine,
    Generation,
    GenerationParams,
    Prompt,
    Seq2SeqEngine,
    TextEngine,
    row_params,
)

__all__ = [
    "ChatMessage",
    "ClassifierEngine",
    "DiffusionEngine",
    "Engine",
    "Generation",
    "GenerationParams",
    "Prompt",
    "Seq2SeqEngine",
    "TextEngine",
    "row_params",
]
