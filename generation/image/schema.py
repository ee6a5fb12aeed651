"""What a cover is asked for and what comes back (pydantic: the HTTP API uses these models as they are)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = ["Preset", "PRESET_SIZES", "CoverSpec", "CoverInfo"]

#: Delivered sizes: the platform's 3:4 note cover, square, and vertical video / story.
Preset = Literal["3:4", "1:1", "9:16"]
PRESET_SIZES: dict[str, tuple[int, int]] = {"3:4": (1242, 1660), "1:1": (1080, 1080), "9:16": (1080, 1920)}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        if _CONTROL.search(value):
            raise ValueError("contains control characters")
        return value.strip()
    return value


Line = Annotated[str, BeforeValidator(_clean)]


class CoverSpec(BaseModel):
    """The words and choices of one cover; the photos travel beside it (uploads, files)."""

    model_config = ConfigDict(extra="forbid")

    title: Line = Field(min_length=1, max_length=40, description="The note's title, set large (auto-fitted).")
    subtitle: Line = Field("", max_length=60, description="A second line under the title.")
    points: list[Line] = Field(
        default_factory=list, max_length=4, description="Short selling points (checklist / panel templates)."
    )
    price: float | None = Field(None, ge=0, le=1e9, description="CNY; shown by the price templates when given.")
    badge: Line = Field("", max_length=8, description="A sticker word (新品, 限时, 必入); empty for none.")
    template: str | None = Field(None, description="A template name (GET /v1/images/templates); default: by seed.")
    preset: Preset = Field("3:4", description="3:4 (1242x1660), 1:1 (1080x1080) or 9:16 (1080x1920).")
    seed: int | None = Field(None, ge=0, lt=2**32, description="Same seed, same cover.")


class CoverInfo(BaseModel):
    """How a cover was made (the image itself is PNG/JPEG bytes beside it)."""

    engine: str = Field(description="composer, or the diffusion engine that painted the scene.")
    model: str | None = Field(None, description="Registry model for diffusion; null for the composer.")
    template: str
    preset: str
    width: int
    height: int
    seed: int
    palette: list[str] = Field(default_factory=list, description="Colours taken from the product (hex).")
