"""What a slideshow video is asked for and what comes back (pydantic: the HTTP API uses these models as they are).

The photos and the audio track travel beside the spec (uploads, files, base64 in JSON); the spec holds the words
and the choices. Captions come either from the spec's own lines or from a note (`NoteDraft`) the copy service
wrote: the first title, 2-4 short lines from its selling points, its hashtags at the end.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from generation.image.schema import NOT_BLANK_PATTERN, Line

__all__ = [
    "SlideshowSpec",
    "ClipSpec",
    "VideoInfo",
    "Transition",
    "captions_from_note",
    "MAX_PHOTOS",
    "MIN_DURATION",
    "MAX_DURATION",
]

MAX_PHOTOS = 12
MIN_DURATION, MAX_DURATION = 6.0, 60.0
#: 9:16 sizes a platform takes; both sides even (yuv420p), the long side 1920 at most.
MIN_WIDTH, MAX_WIDTH = 360, 1080

Transition = Literal["crossfade", "cut"]
_NOT_BLANK = {"pattern": NOT_BLANK_PATTERN}  # something left once stripped
CaptionLine = Annotated[Line, Field(min_length=1, max_length=40, json_schema_extra=_NOT_BLANK)]
Hashtag = Annotated[Line, Field(min_length=1, max_length=30, json_schema_extra=_NOT_BLANK)]


class SlideshowSpec(BaseModel):
    """The words and choices of one slideshow (1-12 photos and an optional audio track travel beside it)."""

    model_config = ConfigDict(extra="forbid")

    title: Line = Field("", max_length=40, description="Shown on the cover (the first frame); empty: no cover.")
    lines: list[CaptionLine] = Field(
        default_factory=list, max_length=4, description="Captions, one per photo in turn (2-4 short lines)."
    )
    hashtags: list[Hashtag] = Field(default_factory=list, max_length=10, description="Shown at the end, without `#`.")
    price: float | None = Field(None, ge=0, le=1e9, description="CNY; a sticker on the cover when given.")
    badge: Line = Field("", max_length=8, description="A sticker word on the cover (新品, 限时).")
    template: str | None = Field(None, description="Cover template (GET /v1/images/templates); default: by seed.")
    duration: float = Field(15.0, ge=MIN_DURATION, le=MAX_DURATION, description="Seconds (6-60).")
    fps: int = Field(30, ge=12, le=60, description="Frames per second.")
    width: int = Field(
        1080,
        ge=MIN_WIDTH,
        le=MAX_WIDTH,
        multiple_of=2,
        description="Even (H.264 yuv420p); 9:16: the height is width * 16 / 9.",
    )
    transition: Transition = Field("crossfade", description="crossfade or cut between photos.")
    crf: int = Field(20, ge=14, le=28, description="H.264 quality (lower is better and bigger; 20 by default).")
    seed: int | None = Field(None, ge=0, lt=2**32, description="Same photos, words and seed: the same video.")
    audio_start: float = Field(0.0, ge=0, le=3600, description="Where in the audio track to start (seconds).")
    audio_fade: float = Field(1.0, ge=0, le=5, description="Fade in and out of the audio track (seconds).")

    @property
    def height(self) -> int:
        """The 9:16 height for `width`, rounded to an even number."""
        return round(self.width * 16 / 9 / 2) * 2

    @property
    def frames(self) -> int:
        return round(self.duration * self.fps)

    @property
    def hashtag_text(self) -> str:
        tags = [t.lstrip("#＃").strip() for t in self.hashtags]
        return " ".join(f"#{t}" for t in tags if t)


class ClipSpec(BaseModel):
    """An image-to-video clip (`engine: "i2v"`, weights needed): the first photo brought to life by a diffusion
    model, encoded like the slideshows."""

    model_config = ConfigDict(extra="forbid")

    prompt: Line = Field("", max_length=500, description="How it should move (English works best); SVD takes none.")
    negative_prompt: Line = Field("", max_length=500)
    duration: float | None = Field(None, gt=0, le=10, description="Seconds; None: the model's default length.")
    steps: int | None = Field(None, ge=1, le=100, description="Denoising steps; None: the model's default.")
    guidance: float | None = Field(None, ge=0, le=20, description="Guidance scale; None: the model's default.")
    long_side: int | None = Field(None, ge=256, le=1920, description="The frame's long side; None: the model's.")
    fit: Literal["cover", "contain"] = Field(
        "contain", description="contain keeps the whole photo (blurred fill); cover crops it to 9:16."
    )


class VideoInfo(BaseModel):
    """How a video was made and what it is."""

    engine: str = Field(description="slideshow (no weights), or the image-to-video model's engine.")
    model: str | None = Field(None, description="Registry model for image-to-video; null for the slideshow.")
    width: int
    height: int
    fps: int
    frames: int
    duration: float = Field(description="Seconds.")
    codec: str = "h264"
    audio: bool = Field(description="Whether the video carries the merchant's audio track (AAC).")
    seed: int
    bytes: int = Field(0, description="File size.")
    cover_template: str | None = Field(None, description="The composer template of the first frame (the cover).")
    warnings: list[str] = Field(default_factory=list, description="What was adjusted (e.g. emoji left out).")
    steps: int | None = Field(None, description="Denoising steps (image-to-video).")
    pipeline: str | None = Field(None, description="The diffusers pipeline class (image-to-video).")


_SENTENCE = re.compile(r"[^\n。！？!?；;]+")
_SHORT = (4, 18)  # a caption line read in two seconds


def captions_from_note(note: dict[str, Any]) -> dict[str, Any]:
    """A note's words as slideshow captions: the first title, 2-4 short lines (its selling points, topped up with
    short sentences of its body) and its hashtags. `note` is a `NoteDraft` as JSON (only these fields are read).
    """
    titles = [t.strip() for t in note.get("titles") or [] if isinstance(t, str) and t.strip()]
    points = [p.strip() for p in note.get("selling_points") or [] if isinstance(p, str) and p.strip()]
    lines = [p for p in points if len(p) <= 40][:4]
    if len(lines) < 2 and isinstance(note.get("body"), str):
        for sentence in _SENTENCE.findall(note["body"]):
            sentence = sentence.strip(" ，,、~～")
            if _SHORT[0] <= len(sentence) <= _SHORT[1] and sentence not in lines:
                lines.append(sentence)
            if len(lines) >= 3:
                break
    tags = [t.strip().lstrip("#＃") for t in note.get("hashtags") or [] if isinstance(t, str) and t.strip()]
    return {"title": titles[0][:40] if titles else "", "lines": lines, "hashtags": [t[:30] for t in tags[:6] if t]}
