"""What a cover is asked for and what comes back (pydantic: the HTTP API uses these models as they are)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = ["Preset", "PRESET_SIZES", "CoverSpec", "CoverInfo", "SceneRequest", "SceneMode", "Line", "NOT_BLANK_PATTERN"]

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


#: What `_clean` accepts, as JSON-schema patterns: no control characters; something left once stripped.
_LINE_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
NOT_BLANK_PATTERN = (
    r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*[^\s\x00-\x08\x0b\x0c\x0e-\x1f\x7f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
)
Line = Annotated[str, BeforeValidator(_clean), Field(json_schema_extra={"pattern": _LINE_PATTERN})]


class CoverSpec(BaseModel):
    """The words and choices of one cover; the photos travel beside it (uploads, files)."""

    model_config = ConfigDict(extra="forbid")

    title: Line = Field(
        min_length=1,
        max_length=40,
        description="The note's title, set large (auto-fitted).",
        json_schema_extra={"pattern": NOT_BLANK_PATTERN},
    )
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


#: What a diffusion request does: paint from text, restyle the photo, replace the product's background
#: (its own pixels kept exactly), extend the photo to the preset's aspect, or make variations of it.
SceneMode = Literal["text2img", "restyle", "background", "outpaint", "variations"]


class SceneRequest(BaseModel):
    """A diffusion request (needs a configured image model; always runs as a job)."""

    model_config = ConfigDict(extra="forbid")

    mode: SceneMode = Field(description="text2img, restyle, background, outpaint or variations.")
    prompt: Line = Field("", max_length=500, description="What the scene should look like (English works best).")
    negative_prompt: Line = Field("", max_length=500)
    photo: str | None = Field(None, description="base64 product photo (every mode but text2img).")
    preset: Preset = "3:4"
    n: int = Field(1, ge=1, le=4, description="Images to make; image i uses seed + i.")
    steps: int = Field(30, ge=1, le=150, description="Denoising steps.")
    guidance: float = Field(7.0, ge=0, le=30, description="Classifier-free guidance scale.")
    strength: float = Field(0.6, ge=0.05, le=1.0, description="restyle / variations: how far from the photo.")
    seed: int | None = Field(None, ge=0, lt=2**32)
    lora: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]{1,64}$", description="A merchant's LoRA adapter (from the model's lora_dir)."
    )
    cover: CoverSpec | None = Field(None, description="Also lay each image out as a cover with these words.")
