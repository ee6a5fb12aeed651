"""Errors raised by the model layer.

Each error carries a one-line message that names the problem and the fix, because the CLI prints it
as is and exits with code 2, and the HTTP layer turns it into a 503 envelope.
"""

from __future__ import annotations

__all__ = [
    "ModelError",
    "ModelConfigError",
    "UnknownModelError",
    "MissingWeightsError",
    "EngineUnavailableError",
]


class ModelError(Exception):
    """Base class for every error of the model layer."""


class ModelConfigError(ModelError):
    """The models YAML file is missing, unreadable or does not match the schema."""


class UnknownModelError(ModelError, KeyError):
    """A model name that the registry does not know."""

    def __init__(self, name: str, known: list[str]) -> None:
        listed = ", ".join(sorted(known)) or "none configured"
        super().__init__(f"unknown model {name!r}; configured models: {listed} (see `notestudio models list`)")
        self.name = name

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return str(self.args[0])


class MissingWeightsError(ModelError, FileNotFoundError):
    """The weights of a configured model are neither in a local directory nor in the Hugging Face cache."""


class EngineUnavailableError(ModelError):
    """The engine a spec asks for cannot run here (missing optional dependency or device)."""
