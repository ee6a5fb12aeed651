"""Thresholds of the image signals (`data/image_policy.yaml`): OCR, QR codes, nudity.

Kept apart from `policy.yaml` (label thresholds, hot-reloaded by the service) because these numbers belong to
the detectors: what counts as read text, which QR payloads are links, which NudeNet classes are sexual content.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["ImagePolicy", "OcrPolicy", "QrPolicy", "NudityPolicy", "DEFAULT_IMAGE_POLICY"]

DEFAULT_IMAGE_POLICY = Path(__file__).with_name("data") / "image_policy.yaml"


class OcrPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_side: int = Field(960, ge=64, le=8192)
    max_upscale: float = Field(2.0, ge=1, le=8)
    long_image_aspect: float = Field(2.0, ge=1)
    max_tiles: int = Field(8, ge=1, le=64)
    tile_overlap: float = Field(0.15, ge=0, lt=0.5)
    min_line_score: float = Field(0.5, ge=0, le=1)
    line_separator: str = "\n"


class QrPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_side: int = Field(1280, ge=64, le=8192)
    score: float = Field(0.7, ge=0, le=1)
    link_score: float = Field(0.95, ge=0, le=1)
    link_patterns: tuple[str, ...] = ()

    @field_validator("link_patterns")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"qr.link_patterns: {pattern!r} is not a regular expression ({exc})") from None
        return patterns

    @cached_property
    def link_regexes(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(pattern) for pattern in self.link_patterns)

    def is_link(self, payload: str) -> bool:
        """True when a QR payload is a link or an app scheme (it leads a buyer off the platform)."""
        return any(regex.search(payload) for regex in self.link_regexes)


class NudityPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    input_size: int = Field(320, ge=32, le=2048)
    candidate_score: float = Field(0.2, ge=0, le=1)
    nms_score: float = Field(0.25, ge=0, le=1)
    nms_iou: float = Field(0.45, ge=0, le=1)
    min_score: float = Field(0.5, ge=0, le=1)
    classes: dict[str, float]
    model_labels: tuple[str, ...]

    @model_validator(mode="after")
    def _known_classes(self) -> NudityPolicy:
        unknown = set(self.classes) - set(self.model_labels)
        if unknown:
            raise ValueError(f"nudity.classes {sorted(unknown)} are not model labels {list(self.model_labels)}")
        bad = {name: score for name, score in self.classes.items() if not 0 <= score <= 1}
        if bad:
            raise ValueError(f"nudity.classes scores must lie in [0, 1], got {bad}")
        return self


class ImagePolicy(BaseModel):
    """Validated image thresholds; `ImagePolicy.load()` reads the shipped file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str = "custom"
    ocr: OcrPolicy = OcrPolicy()
    qr: QrPolicy = QrPolicy()
    nudity: NudityPolicy

    @classmethod
    def load(cls, path: Path = DEFAULT_IMAGE_POLICY) -> ImagePolicy:
        return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
