"""`NoteRequest`: what a merchant tells us about a product, validated before any engine runs.

Validation lives here (not only on the wire) because the CLI, the job runner and library callers reach the
pipeline without FastAPI; every error names the field so each entry point can report it the same way.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "NoteRequest",
    "CopyInputError",
    "STYLES",
    "STYLE_ALIASES",
    "LANGUAGES",
    "LENGTHS",
    "MAX_VARIANTS",
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


class CopyInputError(ValueError):
    """A request field a client can fix; `param` names it (`selling_points.3`, `style`, ...)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


def normalize_style(value: str) -> str:
    """`review` -> `测评`; canonical names pass through.

    Raises:
        CopyInputError: an unknown style, naming the accepted values.
    """
    key = str(value).strip()
    if key in STYLES:
        return key
    if key.lower() in STYLE_ALIASES:
        return STYLE_ALIASES[key.lower()]
    accepted = ", ".join(f"{zh} ({en})" for en, zh in STYLE_ALIASES.items())
    raise CopyInputError("style", f"unknown style {value!r}; use one of {accepted}")


def _text(param: str, value: Any, required: bool = False, max_chars: int = MAX_TEXT_CHARS) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise CopyInputError(param, f"must be a string, got {type(value).__name__}")
    value = value.strip()
    if required and not value:
        raise CopyInputError(param, "must not be empty")
    if len(value) > max_chars:
        raise CopyInputError(param, f"is {len(value)} characters long; at most {max_chars} are accepted")
    if _CONTROL.search(value):
        raise CopyInputError(param, "contains control characters")
    return value


@dataclass
class NoteRequest:
    """One product and how the notes about it should read.

    Attributes:
        product: Product name as the merchant sells it (required, <= 200 characters).
        brand: Brand name; optional.
        category: Free text (`护肤`, `口红`, `咖啡机`); picks the phrase bank of the template engine.
        price: Price in CNY; mentioned when given.
        selling_points: Up to 12 facts, each <= 200 characters; the notes build on these only.
        audience: Who it is for (`学生党`, `通勤族`).
        scenario: Where it is used (`通勤`, `约会`, `露营`).
        style: 种草/测评/教程/合集/开箱, or recommendation/review/tutorial/roundup/unboxing.
        tone: Free text (`活泼`, `专业`, `温柔`).
        length: short / medium / long body.
        language: zh or en.
        n: Number of variants (1..8).
        seed: Makes variants reproducible; None draws one.
    """

    product: str
    brand: str = ""
    category: str = ""
    price: float | None = None
    selling_points: list[str] = field(default_factory=list)
    audience: str = ""
    scenario: str = ""
    style: str = "种草"
    tone: str = ""
    length: str = "medium"
    language: str = "zh"
    n: int = 1
    seed: int | None = None

    def __post_init__(self) -> None:
        self.check_inputs()

    def check_inputs(self) -> None:
        """Validate and normalise every field in place (diffusers' `check_inputs`).

        Raises:
            CopyInputError: the first bad field, by name.
        """
        self.product = _text("product", self.product, required=True)
        for name in ("brand", "category", "audience", "scenario", "tone"):
            setattr(self, name, _text(name, getattr(self, name)))
        if self.price is not None:
            if isinstance(self.price, bool) or not isinstance(self.price, int | float):
                raise CopyInputError("price", f"must be a number, got {type(self.price).__name__}")
            if not 0 <= float(self.price) <= 1e9:
                raise CopyInputError("price", f"must be in 0..1e9 CNY, got {self.price}")
            self.price = float(self.price)
        if isinstance(self.selling_points, str):
            self.selling_points = [p for p in re.split(r"[\n;；]", self.selling_points)]
        if not isinstance(self.selling_points, list):
            raise CopyInputError("selling_points", "must be a list of strings")
        if len(self.selling_points) > MAX_SELLING_POINTS:
            raise CopyInputError(
                "selling_points", f"at most {MAX_SELLING_POINTS} points, got {len(self.selling_points)}"
            )
        points = [_text(f"selling_points.{i}", p, max_chars=MAX_POINT_CHARS) for i, p in enumerate(self.selling_points)]
        self.selling_points = [p for p in points if p]
        self.style = normalize_style(self.style)
        if self.length not in LENGTHS:
            raise CopyInputError("length", f"unknown length {self.length!r}; use one of {', '.join(LENGTHS)}")
        if self.language not in LANGUAGES:
            raise CopyInputError("language", f"unknown language {self.language!r}; use one of {', '.join(LANGUAGES)}")
        if isinstance(self.n, bool) or not isinstance(self.n, int) or not 1 <= self.n <= MAX_VARIANTS:
            raise CopyInputError("n", f"must be an integer in 1..{MAX_VARIANTS}, got {self.n!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise CopyInputError("seed", f"must be an integer, got {self.seed!r}")
        if self.seed is not None and not 0 <= self.seed < 2**32:
            raise CopyInputError("seed", f"must be in 0..2**32-1, got {self.seed}")

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> NoteRequest:
        """Build from a JSON object (CLI files, job params); `name`/`product_name` are accepted for `product`.

        Raises:
            CopyInputError: unknown fields or bad values, naming the field.
        """
        if not isinstance(record, dict):
            raise CopyInputError("product", "a product must be a JSON object")
        record = dict(record)
        for alias in ("name", "product_name"):
            if alias in record and "product" not in record:
                record["product"] = record.pop(alias)
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(record) - known - {"id", "stream"})
        if unknown:
            raise CopyInputError(unknown[0], f"unknown field; accepted fields: {', '.join(sorted(known))}")
        if "product" not in record:
            raise CopyInputError("product", "is required")
        return cls(**{k: v for k, v in record.items() if k in known})

    @property
    def style_en(self) -> str:
        """English name of the style (prompt data is keyed by it)."""
        return {zh: en for en, zh in STYLE_ALIASES.items()}[self.style]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
