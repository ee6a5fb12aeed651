"""`NoteDraft` (what every engine returns) and the JSON schema an LLM is constrained to.

The schema is shaped so that constrained decoding always terminates inside a bounded token budget, even
for a random model: every string has a `maxLength` and a pattern that forbids quotes, backslashes and
control characters (no escape sequences, so a character is at most a few byte-level tokens), and the body
is a list of short paragraphs that we join with blank lines ourselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "NoteDraft",
    "NoteContent",
    "Compliance",
    "note_json_schema",
    "parse_note_json",
    "max_json_tokens",
    "TITLE_MAX_CHARS",
    "BODY_LIMITS",
    "HASHTAGS_MIN",
    "HASHTAGS_MAX",
    "NoteParseError",
]

TITLE_MAX_CHARS = 20
HASHTAGS_MIN, HASHTAGS_MAX = 5, 8
HASHTAG_MAX_CHARS = 16
POINT_MAX_CHARS = 40
#: length -> (max paragraphs, max characters per paragraph)
BODY_LIMITS: dict[str, tuple[int, int]] = {"short": (3, 60), "medium": (5, 80), "long": (7, 100)}
#: No quote, backslash or control character: no JSON escapes, so strings stay cheap to decode and to parse.
#: Lengths are regex quantifiers because grammar backends (xgrammar) ignore `maxLength` next to a `pattern`.
_PLAIN = r'[^"\\\x00-\x1f]'
_TAG = r'[^"\\\x00-\x1f#\s]'


def _string(chars: str, low: int, high: int) -> dict[str, Any]:
    # Bounds only in the regex: vLLM rejects pattern + minLength/maxLength for xgrammar, which ignores them.
    return {"type": "string", "pattern": f"^{chars}{{{low},{high}}}$"}


class NoteParseError(ValueError):
    """Model output that is not a note (only possible without constrained decoding, e.g. an HTTP server)."""


@dataclass
class NoteContent:
    """The part of a note an engine writes: what the JSON schema describes."""

    titles: list[str]
    paragraphs: list[str]
    hashtags: list[str]
    selling_points_used: list[str] = field(default_factory=list)

    @property
    def body(self) -> str:
        return "\n\n".join(p.strip() for p in self.paragraphs if p.strip())


class Compliance(BaseModel):
    """What the compliance pass did: `clean` (nothing to fix), `rewritten` (fixed, re-checked clean) or
    `flagged` (still not clean after rewriting; must not be posted as is)."""

    status: Literal["clean", "rewritten", "flagged"]
    rewrites: list[dict[str, str]] = Field(default_factory=list, description="field, original, replacement, code")
    remaining: list[dict[str, Any]] = Field(default_factory=list, description="Labels left after rewriting.")


class NoteDraft(BaseModel):
    """One publishable note variant, exactly as the API returns it."""

    titles: list[str] = Field(description="3 title options, each <= 20 characters.")
    body: str = Field(description="Short paragraphs separated by blank lines, with emoji.")
    hashtags: list[str] = Field(description="5-8 tags without the leading `#`.")
    selling_points: list[str] = Field(description="The request's selling points this draft uses.")
    engine: str = Field(description="What wrote it: template, transformers, vllm or openai.")
    model: str | None = Field(description="Registry model name; null for the template engine.")
    style: str
    language: str
    variant: int = Field(0, description="Index of this variant within the request.")
    seed: int | None = Field(
        None, description="Reproduces this variant alone: the same request with n=1 and this seed."
    )
    filled: list[str] = Field(
        default_factory=list,
        description="Fields the model did not supply in full and that were completed from the merchant's own facts "
        "(`titles`, `hashtags`); empty for the template engine and for complete model answers.",
    )
    moderation: dict[str, Any] | None = Field(None, description="Moderation result of the final text.")
    compliance: Compliance | None = None

    @property
    def text(self) -> str:
        """The note as it would be posted: first title, body, hashtags."""
        return f"{self.titles[0]}\n\n{self.body}\n\n{' '.join('#' + t for t in self.hashtags)}"

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def note_json_schema(length: str = "medium") -> dict[str, Any]:
    """JSON schema of `NoteContent` for `length` (short/medium/long).

    Hashtags use the pattern that also forbids `#` and whitespace, so `#` is ours to add.
    """
    max_paragraphs, max_chars = BODY_LIMITS[length]
    return {
        "type": "object",
        "properties": {
            "titles": {"type": "array", "items": _string(_PLAIN, 2, TITLE_MAX_CHARS), "minItems": 3, "maxItems": 3},
            "paragraphs": {
                "type": "array",
                "items": _string(_PLAIN, 4, max_chars),
                "minItems": 2,
                "maxItems": max_paragraphs,
            },
            "hashtags": {
                "type": "array",
                "items": _string(_TAG, 1, HASHTAG_MAX_CHARS),
                "minItems": HASHTAGS_MIN,
                "maxItems": HASHTAGS_MAX,
            },
            "selling_points_used": {"type": "array", "items": _string(_PLAIN, 1, POINT_MAX_CHARS), "maxItems": 6},
        },
        "required": ["titles", "paragraphs", "hashtags", "selling_points_used"],
        "additionalProperties": False,
    }


def max_json_tokens(length: str = "medium", tokens_per_char: int = 4) -> int:
    """Upper bound of tokens a schema-valid answer can take (byte-level BPE: <= 4 tokens a character), plus
    punctuation; used as `max_new_tokens` so constrained decoding can always close the object."""
    max_paragraphs, max_chars = BODY_LIMITS[length]
    chars = 3 * TITLE_MAX_CHARS + max_paragraphs * max_chars + HASHTAGS_MAX * HASHTAG_MAX_CHARS + 6 * POINT_MAX_CHARS
    items = 3 + max_paragraphs + HASHTAGS_MAX + 6
    return chars * tokens_per_char + items * 4 + 64


def parse_note_json(text: str) -> NoteContent:
    """Parse an engine's JSON answer into `NoteContent`, checking what the schema promises.

    Raises:
        NoteParseError: not JSON, or not the shape of the schema (message says what is wrong).
    """
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise NoteParseError(f"model output is not a JSON object: {text[:120]!r}")
    try:
        raw = json.loads(text[start : end + 1], strict=False)
    except json.JSONDecodeError as exc:
        raise NoteParseError(f"model output is not valid JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(raw, dict):
        raise NoteParseError("model output is not a JSON object")

    def strings(key: str) -> list[str]:
        value = raw.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise NoteParseError(f"model output field {key!r} is not a list of strings")
        return [v.strip() for v in value if v.strip()]

    titles, paragraphs = strings("titles"), strings("paragraphs")
    if not paragraphs and isinstance(raw.get("body"), str):  # servers without structured outputs
        paragraphs = [p for p in raw["body"].split("\n") if p.strip()]
    if not titles or not paragraphs:
        raise NoteParseError("model output has no titles or no body")
    return NoteContent(titles, paragraphs, strings("hashtags"), strings("selling_points_used"))
