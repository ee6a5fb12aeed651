"""Wire models of `/v1/copy/*`: the domain's own models, plus what only HTTP has (streaming, webhooks)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StrictBool

from generation.copy.request import MAX_VARIANTS, NoteRequest
from generation.copy.schema import Compliance, NoteDraft
from generation.copy.service import BatchItem, BatchResult, NotesResult

__all__ = [
    "NoteRequestIn",
    "NotesBatchIn",
    "NotesResult",
    "NoteDraft",
    "Compliance",
    "BatchItem",
    "BatchResult",
    "MAX_BATCH_PRODUCTS",
]

MAX_BATCH_PRODUCTS = 1000


class NoteRequestIn(NoteRequest):
    """A `NoteRequest`, optionally answered as a stream."""

    stream: StrictBool = Field(
        False, description="Server-sent events: `token` pieces, then `draft`s, then `done`. JSON true or false only."
    )


class NotesBatchIn(BaseModel):
    """Many products as one job; each product is validated on its own (a bad one becomes an error entry)."""

    model_config = ConfigDict(extra="forbid")

    products: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH_PRODUCTS)
    n: int | None = Field(None, ge=1, le=MAX_VARIANTS, description="Variants per product (overrides each `n`).")
    webhook_url: HttpUrl | None = None
