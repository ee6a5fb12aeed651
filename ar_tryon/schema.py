"""Requests and results of the try-on service (pydantic); the HTTP API uses them as they are.

Image bytes travel beside these models (multipart uploads, files): the models carry what to do with them
and what came back, including which engine and models did the work.
"""

from __future__ import annotations

import base64
import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ar_tryon.shades import PRODUCT_KIND, Shade

__all__ = [
    "ShadeOut",
    "ShadeListOut",
    "ShadeKind",
    "ShadeFinish",
    "SwatchBackground",
    "MerchantShadeIn",
    "MerchantShadePatch",
    "SwatchShadeForm",
    "SwatchRequest",
    "SwatchOut",
    "SHADE_ID_PATTERN",
    "MAX_SHADE_NAME_CHARS",
    "FaceOut",
    "MakeupRequest",
    "FrameRequest",
    "GarmentRequest",
    "MakeupOut",
    "GarmentOut",
    "TryOnImage",
    "OutputFormat",
    "FacesMode",
    "SESSION_ID_PATTERN",
]

#: `png` / `jpeg`: the image itself; `json`: base64 image plus landmarks.
OutputFormat = Literal["png", "jpeg", "json"]
#: `largest`: only the largest face; `all`: every face found (up to 8).
FacesMode = Literal["largest", "all"]
SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
#: A shade id in a path: a built-in SKU (`LIP-102`) or a merchant shade's id (`ms_` + 24 hex digits).
SHADE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_SHADE_NAME_CHARS = 80
#: What a merchant sells: lipstick, blush or eyeshadow (the renderers' lips, blush, eyeshadow).
ShadeKind = Literal["lipstick", "blush", "eyeshadow"]
#: matte, satin (rendered as matte: the renderers have no satin yet), gloss, shimmer.
ShadeFinish = Literal["matte", "satin", "gloss", "shimmer"]
#: What a swatch lies on: auto (decided from the photo's border), neutral (paper, white card), skin.
SwatchBackground = Literal["auto", "neutral", "skin"]

_CONTROL_CHARS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
_NOT_BLANK_PATTERN = rf"^[^{_CONTROL_CHARS}]*[^\s{_CONTROL_CHARS}][^{_CONTROL_CHARS}]*$"


def _clean_name(value: Any) -> Any:
    """Stripped; no control characters, line/paragraph separators or lone surrogates inside."""
    if not isinstance(value, str):
        return value
    value = value.strip()
    for index, char in enumerate(value):
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
            raise ValueError(f"name holds a control character or line break (U+{ord(char):04X} at position {index})")
    return value


ShadeName = Annotated[
    str,
    BeforeValidator(_clean_name),
    Field(
        min_length=1,
        max_length=MAX_SHADE_NAME_CHARS,
        description="The shade's name as the merchant sells it.",
        json_schema_extra={"pattern": _NOT_BLANK_PATTERN},
    ),
]
ShadeHex = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$", description="Colour as worn, sRGB #RRGGBB.")]


class SwatchOut(BaseModel):
    """What a swatch photo showed: the colour, the finish guess and how sure the extractor is."""

    hex: str = Field(description="The swatch colour, sRGB #RRGGBB.")
    lab: list[float] = Field(description="CIELAB (D65) L*, a*, b* of the swatch colour.")
    finish: ShadeFinish = Field(description="Finish guess from highlights, sparkles and sheen.")
    finish_confidence: float = Field(ge=0, le=1)
    confidence: float = Field(ge=0, le=1, description="How clearly the photo shows one swatch, 0..1.")
    area_fraction: float = Field(description="Share of the photo the swatch covers.")
    box: list[int] = Field(description="x0, y0, x1, y1 of the swatch in pixels of the photo.")
    background: Literal["neutral", "skin", "other"] = Field(description="What the swatch lay on.")
    white_balanced: bool = Field(description="Whether colours were corrected to make the background neutral.")
    background_hex: str = Field(description="The background colour (after any correction).")


class ShadeOut(BaseModel):
    """A shade of the built-in catalog (`source: builtin`, read-only) or of this key's own (`source: merchant`)."""

    id: str = Field(description="What `shade` fields of the makeup endpoints take: a SKU or a merchant shade id.")
    sku: str = Field(description="The same as `id`.")
    name: str
    hex: str
    product: str = Field(description="What the renderer paints: lips, blush, eyeshadow, eyeliner, brows.")
    kind: str = Field(description="lipstick, blush, eyeshadow (and eyeliner, brows in the built-in catalog).")
    finish: str = Field(description="matte, satin, gloss or shimmer.")
    source: Literal["builtin", "merchant"]
    created_at: datetime | None = Field(None, description="Merchant shades: when it was added.")
    updated_at: datetime | None = Field(None, description="Merchant shades: when it last changed.")
    swatch: SwatchOut | None = Field(None, description="Merchant shades made from a swatch photo: what it showed.")

    @classmethod
    def from_shade(cls, shade: Shade, **fields: Any) -> ShadeOut:
        base = shade.to_dict()
        source = "merchant" if shade.source == "merchant" else "builtin"
        return cls(id=shade.sku, kind=PRODUCT_KIND[shade.product], source=source, **base, **fields)


class ShadeListOut(BaseModel):
    source: str = Field(description="Where the built-in catalog was read from; the house shades are illustrative.")
    shades: list[ShadeOut] = Field(description="The built-in shades, then this key's own (oldest first).")
    merchant_count: int = Field(0, description="How many of the shades are this key's own.")
    merchant_limit: int = Field(0, description="How many shades a key may keep.")


class MerchantShadeIn(BaseModel):
    """A merchant's own shade, given by its colour."""

    model_config = ConfigDict(extra="forbid")

    name: ShadeName
    hex: ShadeHex
    kind: ShadeKind
    finish: ShadeFinish = "matte"


class MerchantShadePatch(BaseModel):
    """Fields to change (absent or null: unchanged)."""

    model_config = ConfigDict(extra="forbid")

    name: ShadeName | None = None
    hex: ShadeHex | None = None
    kind: ShadeKind | None = None
    finish: ShadeFinish | None = None


class SwatchRequest(BaseModel):
    """How to read a swatch photo (the photo travels beside these fields)."""

    model_config = ConfigDict(extra="ignore")

    background: SwatchBackground = Field(
        "auto", description="auto (from the photo's border), neutral (paper: white balance corrected), or skin."
    )


class SwatchShadeForm(SwatchRequest):
    """A merchant's own shade from a swatch photo: the colour is measured, the finish guessed unless given."""

    name: ShadeName
    kind: ShadeKind
    finish: ShadeFinish | None = Field(None, description="Default: the finish guessed from the photo.")


class _Request(BaseModel):
    # Multipart forms carry the image files beside these fields: other fields are not ours to refuse.
    model_config = ConfigDict(extra="ignore")


class MakeupRequest(_Request):
    """Shades to apply to a photo."""

    shade: list[str] = Field(min_length=1, max_length=8, description="Shade SKUs (repeat the field), one per product.")
    intensity: float = Field(0.8, ge=0.0, le=1.0, description="Strength of every shade, 0..1.")
    faces: FacesMode = Field("largest", description="largest (default) or all faces.")
    output: OutputFormat = Field("png", description="png / jpeg (the image) or json (base64 image + landmarks).")


class FrameRequest(_Request):
    """One webcam frame of a stream: faces are tracked and smoothed per `session_id`."""

    session_id: str = Field(pattern=SESSION_ID_PATTERN, description="Stream id chosen by the client.")
    shade: list[str] = Field(min_length=1, max_length=8, description="Shade SKUs (repeat the field), one per product.")
    intensity: float = Field(0.8, ge=0.0, le=1.0, description="Strength of every shade, 0..1.")
    timestamp_ms: float | None = Field(None, ge=0, description="Capture time; default: arrival.")
    output: OutputFormat = Field("jpeg", description="jpeg / png (the image) or json (base64 JPEG + landmarks).")


class GarmentRequest(_Request):
    category: Literal["upper", "lower", "dress"] = Field("upper", description="upper, lower or dress.")
    output: OutputFormat = Field("png", description="png / jpeg (the image) or json (base64 PNG + pose).")


class FaceOut(BaseModel):
    box: list[float] = Field(description="x0, y0, x1, y1 in pixels of the input image.")
    landmarks: list[list[float]] = Field(description="478 points [x, y, z] in pixels (mediapipe face mesh order).")


class _Engine(BaseModel):
    engine: str = Field(description="What did the work (mediapipe).")
    models: list[str] = Field(description="The models that ran, with the library version that ships them.")


class MakeupOut(_Engine):
    media_type: str
    image_base64: str
    width: int
    height: int
    shades: list[ShadeOut]
    intensity: float
    faces: list[FaceOut]
    session_id: str | None = None
    frame_index: int | None = Field(None, description="Frames this session has processed, this one included.")


class GarmentOut(_Engine):
    media_type: str
    image_base64: str
    width: int
    height: int
    category: str
    pose: list[list[float]] = Field(description="33 BlazePose points [x, y, z, visibility], pixels of the input.")


class TryOnImage(BaseModel):
    """A rendered image in the requested format, and its JSON description for `output: json`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    data: bytes
    media_type: str
    details: MakeupOut | GarmentOut

    @classmethod
    def of(cls, data: bytes, media_type: str, details: MakeupOut | GarmentOut) -> TryOnImage:
        return cls(data=data, media_type=media_type, details=details)

    def json_body(self) -> MakeupOut | GarmentOut:
        """`output: json`: the details with the image inlined as base64."""
        return self.details.model_copy(update={"image_base64": base64.b64encode(self.data).decode("ascii")})
