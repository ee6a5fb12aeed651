"""Caption pictures for a vertical video: white words on a dark rounded box, inside the platform's safe area.

The safe area and caption band come from `data/layout.yaml` (what feed players draw over a video). Words are
set with the cover composer's `Typesetter` (Noto Sans CJK, Chinese line breaking, auto-fit between a largest and
a smallest legible size), so a caption that cannot fit is an `InputError` naming its field, never clipped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image, ImageDraw

from generation.image.fonts import Fonts
from generation.image.text import Block, Box, Line, Typesetter

__all__ = ["Layout", "CaptionPicture", "Captioner", "load_layout"]

_LAYOUT = Path(__file__).parent / "data" / "layout.yaml"


@dataclass(frozen=True)
class Layout:
    """Fractions of the frame (see `data/layout.yaml`)."""

    safe_area: dict[str, float]
    caption_band: dict[str, float]
    caption: dict[str, Any]

    def safe_box(self, width: int, height: int) -> Box:
        s = self.safe_area
        return Box(round(s["left"] * width), round(s["top"] * height), round((1 - s["right"]) * width),
                   round((1 - s["bottom"]) * height))  # fmt: skip


@lru_cache(maxsize=4)
def load_layout(path: Path = _LAYOUT) -> Layout:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Layout(data["safe_area"], data["caption_band"], data["caption"])


@dataclass(frozen=True)
class CaptionPicture:
    """An RGBA caption and where its top-left corner goes in the frame."""

    rgba: np.ndarray
    x: int
    y: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        h, w = self.rgba.shape[:2]
        return self.x, self.y, self.x + w, self.y + h


class Captioner:
    """Draws the captions of one video size."""

    def __init__(self, width: int, height: int, typesetter: Typesetter | None = None, layout: Layout | None = None):
        self.width, self.height = width, height
        self.layout = layout or load_layout()
        self.ts = typesetter or Typesetter(Fonts())

    def picture(self, text: str, param: str, *, hashtags: bool = False) -> CaptionPicture:
        """`text` laid out at the bottom of the caption band, on its rounded box.

        Raises:
            InputError: naming `param`, when the words cannot fit at the smallest legible size.
        """
        w, h = self.width, self.height
        c = self.layout.caption
        safe = self.layout.safe_box(w, h)
        pad = round(c["pill_padding"] * w)
        band = self.layout.caption_band
        box = Box(safe.x0 + pad, round(band["top"] * h) + pad, safe.x1 - pad, round(band["bottom"] * h) - pad)
        block = self.ts.fit(
            text,
            box,
            max_size=round(c["max_size"] * w),
            min_size=round(c["min_size"] * w),
            bold=not hashtags,
            max_lines=c["hashtag_max_lines"] if hashtags else c["max_lines"],
            spacing=1.3,
            align="left",
            valign="bottom",
            param=param,
        )
        x0, y0, x1, y1 = block.ink
        left, top = max(safe.x0, x0 - pad), max(safe.y0, y0 - pad)
        right, bottom = min(safe.x1, x1 + pad), min(safe.y1, y1 + pad)
        canvas = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
        draw = ImageDraw.Draw(canvas)
        radius = round(min(pad * 1.2, (bottom - top) / 2))
        fill = (0, 0, 0, round(255 * c["pill_opacity"]))
        draw.rounded_rectangle((0, 0, right - left - 1, bottom - top - 1), radius=radius, fill=fill)
        text_layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
        self.ts.draw(ImageDraw.Draw(text_layer), _translate(block, -left, -top), (255, 255, 255, 255))
        canvas.alpha_composite(text_layer)
        return CaptionPicture(np.asarray(canvas), left, top)


def _translate(block: Block, dx: int, dy: int) -> Block:
    """The block drawn `dx`, `dy` px further (onto a canvas whose origin is elsewhere)."""
    lines = tuple(
        Line(
            line.text,
            line.x + dx,
            line.baseline + dy,
            (line.ink[0] + dx, line.ink[1] + dy, line.ink[2] + dx, line.ink[3] + dy),
        )  # fmt: skip
        for line in block.lines
    )
    return replace(block, lines=lines, top=block.top + dy)
