"""Engine interfaces (one per task family); concrete backends load lazily through `models.loader`."""

from models.engines.base import (
    ChatMessage,
    ClassifierEngine,
    DiffusionEngine,
    Engine,
    Generation,
    GenerationParams,
    Seq2SeqEngine,
    TextEngine,
)

__all__ = [
    "ChatMessage",
    "ClassifierEngine",
    "DiffusionEngine",
    "Engine",
    "Generation",
    "GenerationParams",
    "Seq2SeqEngine",
    "TextEngine",
]
