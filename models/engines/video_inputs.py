"""Checked arguments of the image-to-video engine: the photo, the output size for an aspect, frame counts, fitting.

Everything here runs before any model work, so a bad request fails in microseconds with `DiffusionInputError`
(a `ValueError` whose `param` names the argument), the same error the image engines raise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageFilter

from models.engines.diffusion_inputs import MAX_INPUT_SIDE, MAX_SIDE, DiffusionInputError

__all__ = [
    "Fit",
    "FrameRule",
    "MAX_FPS",
    "check_aspect",
    "check_photo",
    "fit_photo",
    "video_size_for_aspect",
]

#: Frames per second a caller may ask for (metadata for most families; SVD is conditioned on it).
MAX_FPS = 60
#: How the photo fills the video frame (see `fit_photo`).
Fit = Literal["cover", "contain"]


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_aspect(aspect: Any) -> tuple[int, int]:
    """`(width, height)` of an aspect ratio, e.g. `(9, 16)`: two positive integers, neither over 100x the other."""
    if (
        not isinstance(aspect, tuple | list)
        or len(aspect) != 2
        or not all(_is_int(v) and v > 0 for v in aspect)
        or max(aspect) > 100 * min(aspect)
    ):
        raise DiffusionInputError(
            "aspect", f"expected (width, height) as positive integers like (9, 16), got {aspect!r}"
        )
    return int(aspect[0]), int(aspect[1])


def video_size_for_aspect(aspect_width: int, aspect_height: int, long_side: int, multiple: int) -> tuple[int, int]:
    """(width, height) of a video frame with about the given aspect, its long side at most `long_side`.

    Both sides are multiples of `multiple` (what the family's VAE and patching need: Wan 2.1 16, Wan 2.2 TI2V 32,
    CogVideoX 16, SVD 64). The long side is `long_side` rounded down to a multiple (never above what the model
    was trained for); the short side is the nearest multiple to the exact aspect (at least one `multiple`), so
    the frame's aspect is within half a `multiple` of the requested one (9:16 at long side 832, multiple 16:
    464x832). The photo is then fitted to this exact frame without distortion (`fit_photo`).

    Raises:
        DiffusionInputError: a bad aspect (`aspect`) or a long side outside `multiple..MAX_SIDE` (`long_side`).
    """
    aspect_width, aspect_height = check_aspect((aspect_width, aspect_height))
    if not _is_int(multiple) or multiple < 1:
        raise ValueError(f"multiple must be a positive integer, got {multiple!r}")
    if not _is_int(long_side) or not multiple <= long_side <= MAX_SIDE:
        raise DiffusionInputError("long_side", f"must be an integer in {multiple}..{MAX_SIDE}, got {long_side!r}")
    long_px = long_side // multiple * multiple
    short_exact = long_px * min(aspect_width, aspect_height) / max(aspect_width, aspect_height)
    short_px = max(multiple, round(short_exact / multiple) * multiple)
    return (short_px, long_px) if aspect_height >= aspect_width else (long_px, short_px)


@dataclass(frozen=True)
class FrameRule:
    """Which frame counts a family generates: `minimum + k * step` up to `maximum`; `default` when not asked.

    Wan and CogVideoX compress time 4x with a causal VAE, so they make `4k + 1` frames; SVD makes any count
    up to the length it was trained on.
    """

    step: int
    minimum: int
    maximum: int
    default: int

    def __post_init__(self) -> None:
        if not (self.step >= 1 and 1 <= self.minimum <= self.maximum and self.is_valid(self.default)):
            raise ValueError(f"inconsistent frame rule {self}")

    def is_valid(self, count: int) -> bool:
        return self.minimum <= count <= self.maximum and (count - self.minimum) % self.step == 0

    def neighbours(self, count: int) -> list[int]:
        """The valid counts around `count`: itself when valid, else the closest one below and/or above it."""
        clamped = min(max(count, self.minimum), self.maximum)
        below = self.minimum + (clamped - self.minimum) // self.step * self.step
        if below == count or clamped != count:
            return [below]
        return [c for c in (below, below + self.step) if self.is_valid(c)]

    def nearest(self, count: int) -> int:
        """The valid count closest to `count` (the lower one on a tie)."""
        return min(self.neighbours(count), key=lambda c: (abs(c - count), c))

    def describe(self) -> str:
        if self.minimum == self.maximum:
            return f"exactly {self.minimum}"
        if self.step == 1:
            return f"{self.minimum}..{self.maximum}"
        offset = self.minimum % self.step
        return f"{self.step}k+{offset} in {self.minimum}..{self.maximum}"

    def check(self, count: Any) -> int:
        """`count` itself when valid, `default` for None; otherwise an error naming the nearest valid counts."""
        if count is None:
            return self.default
        if not _is_int(count):
            raise DiffusionInputError("num_frames", f"must be an integer ({self.describe()}), got {count!r}")
        count = int(count)
        if not self.is_valid(count):
            hint = " or ".join(str(c) for c in self.neighbours(count))
            raise DiffusionInputError(
                "num_frames", f"this model makes {self.describe()} frames, got {count}; nearest valid: {hint}"
            )
        return count


def check_photo(image: Any) -> np.ndarray:
    """An RGB photo as a (H, W, 3) uint8 array with sides 8..`MAX_INPUT_SIDE`."""
    if not isinstance(image, np.ndarray):
        raise DiffusionInputError("image", f"expected a numpy array (H, W, 3) uint8 RGB, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise DiffusionInputError("image", f"expected shape (H, W, 3) RGB, got {image.shape}")
    if image.dtype != np.uint8:
        raise DiffusionInputError("image", f"expected dtype uint8, got {image.dtype}")
    height, width = image.shape[:2]
    if not (8 <= width <= MAX_INPUT_SIDE and 8 <= height <= MAX_INPUT_SIDE):
        raise DiffusionInputError("image", f"sides must be 8..{MAX_INPUT_SIDE} pixels, got {width}x{height}")
    return image


def _cover_box(src_w: int, src_h: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The centred crop of a src_w x src_h image with the aspect width:height (left, top, right, bottom)."""
    if src_w * height > width * src_h:  # source wider than the frame: crop the sides
        crop_w = max(1, round(src_h * width / height))
        left = (src_w - crop_w) // 2
        return left, 0, left + crop_w, src_h
    crop_h = max(1, round(src_w * height / width))
    top = (src_h - crop_h) // 2
    return 0, top, src_w, top + crop_h


def fit_photo(image: np.ndarray, width: int, height: int, fit: Fit = "cover") -> Image.Image:
    """The photo at exactly width x height, never stretched.

    `cover` (the default) scales the photo to fill the frame and crops the overflow, centred. Image-to-video
    models take the photo as the video's first frame and were trained on full-frame footage: bars would become
    part of the scene (static borders the model animates, or smears into), and the clip is meant to fill a phone
    screen. The cost: a square product shot loses its sides in 9:16 (about 44% of its width).

    `contain` keeps the whole photo: it is scaled to fit and centred over a blurred, slightly darkened cover-crop
    of itself, the "blurred fill" short-video apps use, so the frame is still one plausible full-frame picture
    rather than black bars. Use it when the product reaches the photo's edges.
    """
    if fit not in ("cover", "contain"):
        raise DiffusionInputError("fit", f"must be 'cover' or 'contain', got {fit!r}")
    photo = Image.fromarray(np.ascontiguousarray(image))
    src_w, src_h = photo.size
    cover = photo.resize((width, height), Image.Resampling.LANCZOS, box=_cover_box(src_w, src_h, width, height))
    if fit == "cover":
        return cover
    scale = min(width / src_w, height / src_h)
    inner_w, inner_h = max(1, round(src_w * scale)), max(1, round(src_h * scale))
    if (inner_w, inner_h) == (width, height):
        return cover
    radius = max(2.0, 0.04 * math.hypot(width, height))
    backdrop = cover.filter(ImageFilter.GaussianBlur(radius)).point(lambda v: int(v * 0.8))
    backdrop.paste(
        photo.resize((inner_w, inner_h), Image.Resampling.LANCZOS), ((width - inner_w) // 2, (height - inner_h) // 2)
    )
    return backdrop
