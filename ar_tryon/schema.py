"""Requests and results of the try-on service (pydantic); the HTTP API uses them as they are.

Image bytes travel beside these models (multipart uploads, files): the models carry what to do with them
and what came back, including which engine and models did the work.
"""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ar_tryon.shades import Shade

__all__ = [
    "ShadeOut",
    "ShadeListOut",
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


class ShadeOut(BaseModel):
    sku: str
    name: str
    hex: str
    product: str
    finish: str

    @classmethod
    def from_shade(cls, shade: Shade) -> ShadeOut:
        return cls(**shade.to_dict())


class ShadeListOut(BaseModel):
    source: str = Field(description="Where the catalog was read from; the house shades are illustrative.")
    shades: list[ShadeOut]


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
