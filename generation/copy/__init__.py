"""Note copy: `CopyService` turns a `NoteRequest` into `NoteDraft`s via the template engine or an LLM
`TextEngine`, then the compliance pass. Names are imported lazily so that `generation.copy.schema` stays
importable without the moderation stack (the vLLM test venv has only what vLLM needs)."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "CompliancePass",
    "Compliance",
    "CopyService",
    "LLMCopyEngine",
    "NoteContent",
    "NoteDraft",
    "NoteRequest",
    "TemplateEngine",
    "note_json_schema",
    "parse_note_json",
]

_WHERE = {
    "CompliancePass": "compliance",
    "Compliance": "schema",
    "CopyService": "service",
    "LLMCopyEngine": "llm",
    "NoteContent": "schema",
    "NoteDraft": "schema",
    "NoteRequest": "request",
    "TemplateEngine": "template_engine",
    "note_json_schema": "schema",
    "parse_note_json": "schema",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'generation.copy' has no attribute {name!r}")
    return getattr(importlib.import_module(f"generation.copy.{_WHERE[name]}"), name)
