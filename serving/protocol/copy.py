"""Wire models of `/v1/copy/*`: note requests in, drafts out (converters from `generation.copy` types)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from generation.copy.request import MAX_POINT_CHARS, MAX_SELLING_POINTS, MAX_VARIANTS, STYLE_ALIASES, normalize_style
from generation.copy.schema import NoteDraft

__all__ = ["NoteRequestIn", "NoteDraftOut", "ComplianceOut", "NotesOut", "NotesBatchIn", "MAX_BATCH_PRODUCTS"]

MAX_BATCH_PRODUCTS = 1000
_STYLES = ", ".join(f"{zh} ({en})" for en, zh in STYLE_ALIASES.items())


class NoteRequestIn(BaseModel):
    """One product and how its notes should read. Bad fields are a 422 naming the field."""

    model_config = ConfigDict(extra="forbid")

    product: str = Field(min_length=1, max_length=200, description="Product name.")
    brand: str = Field("", max_length=200)
    category: str = Field("", max_length=200, description="Picks the template engine's phrase bank.")
    price: float | None = Field(None, ge=0, le=1e9, description="CNY")
    selling_points: list[str] = Field(default_factory=list, max_length=MAX_SELLING_POINTS)
    audience: str = Field("", max_length=200)
    scenario: str = Field("", max_length=200)
    style: str = Field("种草", description=f"One of {_STYLES}.")
    tone: str = Field("", max_length=200)
    length: Literal["short", "medium", "long"] = "medium"
    language: Literal["zh", "en"] = "zh"
    n: int = Field(1, ge=1, le=MAX_VARIANTS, description="Variants to write.")
    seed: int | None = Field(None, ge=0, lt=2**32)
    stream: bool = Field(False, description="Server-sent events: `token` pieces, then `draft`s, then `done`.")

    @field_validator("product")
    @classmethod
    def _product_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("selling_points")
    @classmethod
    def _point_length(cls, value: list[str]) -> list[str]:
        for index, point in enumerate(value):
            if len(point) > MAX_POINT_CHARS:
                raise ValueError(f"point {index} is {len(point)} characters long; at most {MAX_POINT_CHARS}")
        return value

    @field_validator("style")
    @classmethod
    def _style(cls, value: str) -> str:
        return normalize_style(value)

    def library_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"stream"})


class ComplianceOut(BaseModel):
    status: Literal["clean", "rewritten", "flagged"]
    rewrites: list[dict[str, str]] = Field(default_factory=list)
    remaining: list[dict[str, Any]] = Field(default_factory=list, description="Labels left after rewriting.")


class NoteDraftOut(BaseModel):
    titles: list[str] = Field(description="3 options, each <= 20 characters.")
    body: str
    hashtags: list[str] = Field(description="5-8 tags without `#`.")
    selling_points: list[str]
    engine: str = Field(description="template, transformers, vllm or openai.")
    model: str | None = Field(description="Registry model; null for the template engine.")
    style: str
    language: str
    variant: int
    seed: int | None
    moderation: dict[str, Any] | None
    compliance: ComplianceOut

    @classmethod
    def from_draft(cls, draft: NoteDraft) -> NoteDraftOut:
        return cls.model_validate(draft.to_dict())


class NotesOut(BaseModel):
    drafts: list[NoteDraftOut]
    engine: str
    model: str | None


class NotesBatchIn(BaseModel):
    """Many products as one job; each product is validated on its own (a bad one becomes an error entry)."""

    model_config = ConfigDict(extra="forbid")

    products: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH_PRODUCTS)
    n: int | None = Field(None, ge=1, le=MAX_VARIANTS, description="Variants per product (overrides each `n`).")
    webhook_url: HttpUrl | None = None
