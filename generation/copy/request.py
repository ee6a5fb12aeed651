"""`NoteRequest`: what a merchant tells us about a product, validated once, the same way everywhere.

It is a pydantic model so that the HTTP layer uses it as the request body itself (no second wire model,
no second validation, one error shape), while the CLI, batch jobs and library callers get the very same
checks through `NoteRequest.parse(record)`, which raises `InputError` naming the field.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from common.errors import InputError, from_validation_error
from common.text import strip_bidi

__all__ = [
    "NoteRequest",
    "STYLES",
    "STYLE_ALIASES",
    "LANGUAGES",
    "LENGTHS",
    "MAX_VARIANTS",
    "MAX_SELLING_POINTS",
    "MAX_POINT_CHARS",
    "normalize_style",
]

#: The five note styles of the platform, in Chinese (canonical) with their English aliases.
STYLE_ALIASES: dict[str, str] = {
    "recommendation": "种草",
    "review": "测评",
    "tutorial": "教程",
    "roundup": "合集",
    "unboxing": "开箱",
}
STYLES: tuple[str, ...] = tuple(STYLE_ALIASES.values())
LANGUAGES: tuple[str, ...] = ("zh", "en")
LENGTHS: tuple[str, ...] = ("short", "medium", "long")
MAX_VARIANTS = 8
MAX_SELLING_POINTS = 12
MAX_POINT_CHARS = 200
MAX_TEXT_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_POINT_SPLIT = re.compile(r"[\n;；]")
_STYLE_DOC = ", ".join(f"{zh} ({en})" for en, zh in STYLE_ALIASES.items())


def normalize_style(value: str) -> str:
    """`review` -> `测评`; canonical names pass through.

    Raises:
        ValueError: an unknown style, naming the accepted values.
    """
    key = str(value).strip()
    if key in STYLES:
        return key
    if key.lower() in STYLE_ALIASES:
        return STYLE_ALIASES[key.lower()]
    raise ValueError(f"unknown style {value!r}; use one of {_STYLE_DOC}")


def _clean_text(value: Any) -> Any:
    """None means "not given"; text is stripped (of bidi controls too) and must not carry control characters."""
    if value is None:
        return ""
    if isinstance(value, str):
        if _CONTROL.search(value):
            raise ValueError("contains control characters")
        return strip_bidi(value).strip()  # bidi overrides would be echoed into the note
    return value


def _no_bool(value: Any) -> Any:
    """JSON `true` is not a number here (pydantic would read it as 1)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


#: What `_clean_text` accepts, as JSON-schema patterns: no control characters; for a required text, something left
#: once it is stripped (of bidi controls too).
_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_NOT_BLANK_PATTERN = (
    r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*[^\s\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]"
    r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
)
Text = Annotated[
    str, BeforeValidator(_clean_text), Field(max_length=MAX_TEXT_CHARS, json_schema_extra={"pattern": _TEXT_PATTERN})
]
Point = Annotated[
    str, BeforeValidator(_clean_text), Field(max_length=MAX_POINT_CHARS, json_schema_extra={"pattern": _TEXT_PATTERN})
]


class NoteRequest(BaseModel):
    """One product and how the notes about it should read. A bad field is an error naming it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    product: Text = Field(
        min_length=1,
        description="Product name as the merchant sells it (required).",
        json_schema_extra={"pattern": _NOT_BLANK_PATTERN},
    )
    brand: Text = Field("", description="Brand name.")
    category: Text = Field("", description="Free text (护肤, 口红, 咖啡机); picks the template engine's phrase bank.")
    price: Annotated[float | None, BeforeValidator(_no_bool)] = Field(
        None, ge=0, le=1e9, description="CNY; mentioned only when given (empty means unknown, never 0)."
    )
    selling_points: list[Point] = Field(
        default_factory=list,
        max_length=MAX_SELLING_POINTS,
        description=f"Up to {MAX_SELLING_POINTS} facts (or one text split at newlines/semicolons); notes build "
        "on these only.",
    )
    audience: Text = Field("", description="Who it is for (学生党, 通勤族).")
    scenario: Text = Field("", description="Where it is used (通勤, 约会, 露营).")
    style: str = Field(
        "种草", description=f"One of {_STYLE_DOC}.", json_schema_extra={"enum": [*STYLES, *STYLE_ALIASES]}
    )
    tone: Text = Field("", description="Free text (活泼, 专业, 温柔).")
    length: Literal["short", "medium", "long"] = Field("medium", description="Body length.")
    language: Literal["zh", "en"] = "zh"
    n: Annotated[int, BeforeValidator(_no_bool)] = Field(1, ge=1, le=MAX_VARIANTS, description="Variants to write.")
    seed: Annotated[int | None, BeforeValidator(_no_bool)] = Field(
        None, ge=0, lt=2**32, description="Variant i is written with seed + i; each draft reports its own seed."
    )
    id: StrictStr | StrictInt | None = Field(None, description="Your product id; echoed in batch results.")

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        """Product files often say `name` or `product_name`."""
        if isinstance(data, dict) and "product" not in data:
            for alias in ("name", "product_name"):
                if alias in data:
                    data = {**data, "product": data[alias]}
                    del data[alias]
                    break
        return data

    @field_validator("selling_points", mode="before")
    @classmethod
    def _split_points(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return _POINT_SPLIT.split(value)
        return value

    @field_validator("selling_points")
    @classmethod
    def _drop_empty_points(cls, value: list[str]) -> list[str]:
        return [p for p in value if p]

    @field_validator("style", mode="before")
    @classmethod
    def _style(cls, value: Any) -> str:
        return normalize_style("种草" if value is None else value)

    @classmethod
    def parse(cls, record: Any, prefix: str = "") -> NoteRequest:
        """Validate a JSON object (CLI files, batch jobs, library callers).

        Raises:
            InputError: the first bad field, named (with `prefix`, e.g. `products.3.`).
        """
        if isinstance(record, cls):
            return record
        if not isinstance(record, dict):
            raise InputError(f"{prefix or 'product'}: a product must be a JSON object", prefix or "product")
        try:
            return cls.model_validate(record)
        except ValidationError as exc:
            raise from_validation_error(exc, prefix) from None

    @property
    def style_en(self) -> str:
        """English name of the style (prompt data is keyed by it)."""
        return {zh: en for en, zh in STYLE_ALIASES.items()}[self.style]

    def variant(self, index: int, seed: int) -> NoteRequest:
        """The request that writes variant `index` alone: n=1 and that variant's own seed."""
        return self.model_copy(update={"n": 1, "seed": seed + index})
