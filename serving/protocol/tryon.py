"""Wire models of `/v1/tryon/*` (pydantic), with converters from `ar_tryon` results. No logic lives here."""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import BaseModel, Field

from ar_tryon.garment.renderer import GarmentResult
from ar_tryon.pipeline import MakeupResult
from ar_tryon.shades import Shade

__all__ = ["ShadeOut", "ShadeListOut", "FaceOut", "MakeupOut", "GarmentOut", "OutputFormat", "FacesMode"]

#: `png` / `jpeg`: the image itself; `json`: base64 PNG plus landmarks.
OutputFormat = Literal["png", "jpeg", "json"]
#: `largest`: only the largest face; `all`: every face found (up to 8).
FacesMode = Literal["largest", "all"]


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


class FaceOut(BaseModel):
    box: list[float] = Field(description="x0, y0, x1, y1 in pixels of the input image.")
    landmarks: list[list[float]] = Field(description="478 points [x, y, z] in pixels (mediapipe face mesh order).")


class MakeupOut(BaseModel):
    engine: str = "mediapipe"
    media_type: str = "image/png"
    image_base64: str
    width: int
    height: int
    shades: list[ShadeOut]
    intensity: float
    faces: list[FaceOut]
    session_id: str | None = None

    @classmethod
    def from_result(
        cls,
        result: MakeupResult,
        encoded: bytes,
        shades: list[Shade],
        intensity: float,
        session_id: str | None = None,
        media_type: str = "image/png",
    ) -> MakeupOut:
        h, w = result.image.shape[:2]
        return cls(
            media_type=media_type,
            image_base64=base64.b64encode(encoded).decode("ascii"),
            width=w,
            height=h,
            shades=[ShadeOut.from_shade(s) for s in shades],
            intensity=intensity,
            faces=[FaceOut(box=[round(v, 1) for v in f.box], landmarks=f.to_list()) for f in result.faces],
            session_id=session_id,
        )


class GarmentOut(BaseModel):
    engine: str = "mediapipe"
    media_type: str = "image/png"
    image_base64: str
    width: int
    height: int
    category: str
    pose: list[list[float]] = Field(description="33 BlazePose points [x, y, z, visibility], pixels of the input.")

    @classmethod
    def from_result(cls, result: GarmentResult, png: bytes, category: str) -> GarmentOut:
        h, w = result.image.shape[:2]
        return cls(
            image_base64=base64.b64encode(png).decode("ascii"),
            width=w,
            height=h,
            category=category,
            pose=result.pose.to_list(),
        )
