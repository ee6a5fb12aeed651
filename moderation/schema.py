"""Requests and results of the moderation service as pydantic models; the HTTP API uses them as they are.

The listing contract is fixed: other tools depend on it. `ListingIn.to_listing` is the one place a wire
record becomes a library `Listing` (images decoded and checked), for HTTP, the CLI and batch callers alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from common.errors import InputError, from_validation_error
from common.images import MAX_IMAGE_BYTES, check_pixels, decode_base64
from common.text import replace_unencodable
from moderation.image_registry import ImageError, decode_image
from moderation.types import Listing

__all__ = [
    "ListingIn",
    "ListingsIn",
    "TextIn",
    "ImagesIn",
    "EvidenceOut",
    "LabelOut",
    "ModerationOut",
    "RecordError",
    "ListingsOut",
    "AppealIn",
    "AppealOut",
    "DecisionOut",
    "BrandImageIn",
    "BrandImageOut",
    "MAX_BATCH",
    "MAX_IMAGE_BYTES",
    "decode_base64_image",
    "read_images",
]

MAX_BATCH = 256
#: Longest text field read. Padding a term with invisible characters must not buy an error instead of a
#: decision, so fields are long (the request's byte limit still applies); folding strips the padding.
MAX_FIELD_CHARS = 100_000

#: A key's public id (`GET /v1/whoami` shows a key its own): 12 lowercase hex characters.
_KEY_ID = r"^[0-9a-f]{12}$"
_MERCHANT_ID_DOC = (
    "The public id of the merchant's API key (its `key_id`, as `GET /v1/whoami` shows it to that key). "
    "That merchant may then read this decision and appeal it; without it only the key that asked and "
    "admin keys can."
)


def _readable(value: str | None) -> str | None:
    """Control characters stay (normalization folds them away and counts them as evasion); lone surrogates
    and NUL, which nothing downstream can store or send, become U+FFFD one for one, so offsets hold."""
    return replace_unencodable(value) if value is not None else None


def _readable_id(value: str | int | None) -> str | int | None:
    return replace_unencodable(value) if isinstance(value, str) else value


def _readable_record(data: Any) -> Any:
    """Before validation (pydantic refuses a str with a lone surrogate outright): the same, for every string."""
    if isinstance(data, dict):
        return {key: replace_unencodable(value) if isinstance(value, str) else value for key, value in data.items()}
    return data


class ListingIn(BaseModel):
    """One listing or note. Unknown fields are ignored; `id` is echoed back."""

    # No blanket str_max_length: it also capped every base64 image at that many characters (a 20 KB photo was
    # refused); text fields carry their own limits, images the byte limit `read_images` checks (a 413).
    model_config = ConfigDict(extra="ignore")

    id: str | int | None = Field(None, description="Echoed back in the result.")
    title: str = Field("", max_length=MAX_FIELD_CHARS)
    body: str = Field("", max_length=MAX_FIELD_CHARS)
    price: float | None = Field(None, ge=0, le=1e9, description="CNY")
    brand: str | None = Field(None, max_length=200)
    category: str | None = Field(None, max_length=200)
    images: list[str] = Field(default_factory=list, max_length=9, description="base64 or data: URIs")
    merchant_id: str | None = Field(None, pattern=_KEY_ID, description=_MERCHANT_ID_DOC)

    _text = field_validator("title", "body", "brand", "category")(_readable)
    _record = model_validator(mode="before")(_readable_record)

    @field_validator("id")
    @classmethod
    def _id_length(cls, value: str | int | None) -> str | int | None:
        if isinstance(value, str) and len(value) > 256:
            raise ValueError("id is longer than 256 characters")
        return _readable_id(value)

    @classmethod
    def parse(cls, record: Any, param: str) -> ListingIn:
        """Validate one record of a batch; raises `InputError` naming `param.field`."""
        if not isinstance(record, dict):
            raise InputError(f"{param}: a listing must be a JSON object", param)
        try:
            wire = cls.model_validate(record)
        except ValidationError as exc:
            raise from_validation_error(exc, param) from None
        if not (wire.title.strip() or wire.body.strip() or wire.images):
            raise InputError(f"{param}: listing has no title, body or images", param)
        return wire

    def to_listing(self, param: str) -> Listing:
        """The library listing, images decoded from base64 and checked (`InputError` naming the image)."""
        images = read_images([(f"{param}.images.{i}", image) for i, image in enumerate(self.images)])
        return Listing(
            id=self.id,
            title=self.title,
            body=self.body,
            price=self.price,
            brand=self.brand,
            category=self.category,
            images=images,
        )


def decode_base64_image(value: str, param: str) -> bytes:
    """base64 or a data: URI -> validated image bytes; `InputError` naming `param` otherwise."""
    return read_images([(param, value)])[0]


def read_images(images: Sequence[tuple[str, str]]) -> list[bytes]:
    """`(param, base64 or data: URI)` pairs -> validated image bytes.

    Every header is read before any image is decoded: one above 40 MP, or all together above the current
    request's pixel budget (`common.images.start_pixel_budget`), is a 413 `ImageTooLargeError` naming the image,
    and the budget is spent. Then each is decoded (at most 2048 px a side for JPEG) to be sure it is an image.

    Raises:
        InputError: naming the image: not base64, a URL, unreadable (422), too large (413).
    """
    datas = [(param, decode_base64(value, param, MAX_IMAGE_BYTES)) for param, value in images]
    check_pixels(datas, spend=True)
    for param, data in datas:
        try:
            decode_image(data)
        except ImageError as exc:
            raise InputError(f"{param}: image: {exc}", param) from None
    return [data for _, data in datas]


class ListingsIn(BaseModel):
    """Records are validated one by one, so one bad record does not fail the batch."""

    listings: list[Any] = Field(min_length=1, max_length=MAX_BATCH)


class TextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_FIELD_CHARS)
    id: str | int | None = None
    category: str | None = Field(None, max_length=200)
    merchant_id: str | None = Field(None, pattern=_KEY_ID, description=_MERCHANT_ID_DOC)

    _text = field_validator("text", "category")(_readable)
    _record = model_validator(mode="before")(_readable_record)
    _id = field_validator("id")(_readable_id)


class ImagesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    images: list[str] = Field(min_length=1, max_length=9, description="base64 or data: URIs")
    id: str | int | None = None
    merchant_id: str | None = Field(None, pattern=_KEY_ID, description=_MERCHANT_ID_DOC)


class EvidenceOut(BaseModel):
    field: str
    start: int
    end: int
    text: str


class LabelOut(BaseModel):
    code: str = Field(description="<top>.<sub>, e.g. ad_law.absolute")
    score: float
    evidence: list[EvidenceOut] = Field(description="Spans of the ORIGINAL field text: text[start:end]")
    sources: list[str] = Field([], description="Signals behind the label: lexicon, rule, classifier, image, ...")


class ModerationOut(BaseModel):
    id: str | int | None
    decision: str = Field(description="pass | review | block")
    risk: float
    labels: list[LabelOut]
    decision_id: str | None = Field(None, description="GET /v1/moderation/decisions/{decision_id}")
    reasons: list[str] = []
    engine: str
    versions: dict[str, str]


class RecordError(BaseModel):
    id: str | int | None = None
    error: dict[str, str | None]


class ListingsOut(BaseModel):
    results: list[ModerationOut | RecordError]


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


class AppealOut(BaseModel):
    appellant: str | None = Field(description="key_id of the key that appealed (null: filed before appeal history)")
    reason: str
    created_at: str | None


class DecisionOut(BaseModel):
    """A recorded decision, as the caller may see it (the key that asked, the listing's merchant, or admin)."""

    decision_id: str
    id: str | None
    input_hash: str
    decision: str
    risk: float
    labels: list[dict[str, Any]]
    engine: str
    versions: dict[str, str]
    created_at: str | None
    requested_by: str | None = Field(None, description="key_id of the key that asked for the decision")
    merchant_id: str | None = Field(None, description="key_id of the merchant the listing named")
    review_state: str
    appeals: list[AppealOut] = Field(
        [], description="Oldest first; every appeal to admin and the asking key, a merchant's own to the merchant."
    )
    appeal_reason: str | None = Field(None, description="Deprecated: the newest entry of `appeals`.")
    appealed_at: str | None = Field(None, description="Deprecated: the newest entry of `appeals`.")


class BrandImageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image: str = Field(min_length=1, description="base64 or data: URI of an official image or logo")
    kind: str = Field("product", pattern=r"^(product|logo)$")


class BrandImageOut(BaseModel):
    brand: str
    image_id: str
    registered_images: int
