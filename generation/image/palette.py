"""Colours of a cover: the product's dominant colours, and text/background pairs that stay readable.

Dominant colours are k-means clusters (CIELAB, OpenCV's RNG seeded: same photo, same palette) of the product's
opaque pixels. Readability follows WCAG 2.x: relative luminance and contrast ratio, 4.5:1 for text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "RGB",
    "Palette",
    "palette_of",
    "make_palette",
    "chroma",
    "dominant_colours",
    "luminance",
    "contrast",
    "readable_text",
    "with_contrast",
    "to_hex",
    "from_hex",
    "mix",
    "TEXT_CONTRAST",
]

RGB = tuple[int, int, int]
#: WCAG 2.x AA contrast for body text.
TEXT_CONTRAST = 4.5
_SAMPLE = 4000  # product pixels clustered at most
_BLACK: RGB = (20, 20, 24)
_WHITE: RGB = (255, 255, 255)


def to_hex(c: Sequence[int]) -> str:
    """`#rrggbb`."""
    return "#{:02x}{:02x}{:02x}".format(*(int(v) for v in c[:3]))


def from_hex(s: str) -> RGB:
    """`#rrggbb` (or `rrggbb`) to an RGB tuple."""
    s = s.lstrip("#")
    return int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16)


def mix(a: Sequence[int], b: Sequence[int], t: float) -> RGB:
    """`a` moved a fraction `t` towards `b`."""
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a[:3], b[:3], strict=True))  # type: ignore[return-value]


def luminance(c: Sequence[int]) -> float:
    """WCAG relative luminance of an sRGB colour (0 black .. 1 white)."""
    v = np.asarray(c[:3], dtype=np.float64) / 255.0
    lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return float(0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2])


def contrast(a: Sequence[int], b: Sequence[int]) -> float:
    """WCAG contrast ratio (1..21) of two colours."""
    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def _lab(c: Sequence[int]) -> np.ndarray:
    return cv2.cvtColor(np.uint8([[list(c[:3])]]), cv2.COLOR_RGB2LAB)[0, 0].astype(np.float64)


def _rgb(lab: np.ndarray) -> RGB:
    px = cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8).reshape(1, 1, 3), cv2.COLOR_LAB2RGB)[0, 0]
    return int(px[0]), int(px[1]), int(px[2])


def _with_lightness(c: Sequence[int], lightness: float, max_chroma: float) -> RGB:
    """The colour's hue at a CIELAB lightness (0-100) with its chroma capped."""
    lab = _lab(c)
    a, b = lab[1] - 128, lab[2] - 128
    chroma = float(np.hypot(a, b))
    k = min(1.0, max_chroma / chroma) if chroma > 0 else 0.0
    return _rgb(np.array([lightness * 255 / 100, 128 + a * k, 128 + b * k]))


def chroma(c: Sequence[int]) -> float:
    """CIELAB chroma (0 grey .. ~130)."""
    lab = _lab(c)
    return float(np.hypot(lab[1] - 128, lab[2] - 128))


def readable_text(bg: Sequence[int], preferred: Sequence[Sequence[int]] = ()) -> RGB:
    """A text colour on `bg`: the first of `preferred` with contrast >= 4.5, else near-black or white."""
    for c in (*preferred, _BLACK, _WHITE):
        if contrast(c, bg) >= TEXT_CONTRAST:
            return tuple(int(v) for v in c[:3])  # type: ignore[return-value]
    return (0, 0, 0) if contrast((0, 0, 0), bg) >= contrast(_WHITE, bg) else _WHITE  # one of them reaches 4.58


def with_contrast(bg: Sequence[int], text: Sequence[int], ratio: float = TEXT_CONTRAST) -> RGB:
    """`bg` darkened or lightened (hue kept) until `text` on it reaches `ratio`."""
    if contrast(bg, text) >= ratio:
        return tuple(int(v) for v in bg[:3])  # type: ignore[return-value]
    lab = _lab(bg)
    darker = luminance(text) > luminance(bg)
    for step in range(1, 51):
        cand = lab.copy()
        cand[0] = np.clip(lab[0] + (-5 if darker else 5) * step, 0, 255)
        c = _rgb(cand)
        if contrast(c, text) >= ratio:
            return c
    return _BLACK if darker else _WHITE


def dominant_colours(rgba: np.ndarray, k: int = 5) -> list[tuple[RGB, float]]:
    """The product's main colours with their shares (largest first), from pixels with alpha >= 200."""
    px = rgba[..., :3][rgba[..., 3] >= 200] if rgba.shape[2] == 4 else rgba.reshape(-1, 3)
    if len(px) < k:
        px = rgba[..., :3].reshape(-1, 3)
    step = max(1, len(px) // _SAMPLE)
    sample = np.ascontiguousarray(px[::step][:_SAMPLE]).reshape(-1, 1, 3)
    lab = cv2.cvtColor(sample, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    k = min(k, len(np.unique(lab, axis=0)))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.5)
    cv2.setRNGSeed(7)
    _, labels, centres = cv2.kmeans(lab, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    counts = np.bincount(labels.ravel(), minlength=k) / len(labels)
    order = np.argsort(-counts, kind="stable")
    return [(_rgb(centres[i]), float(counts[i])) for i in order if counts[i] > 0]


@dataclass(frozen=True)
class Palette:
    """A cover's colours.

    Attributes:
        colours: the product's dominant colours, largest share first.
        accent: the most vivid of them that covers a fair share (or the fallback for a grey product).
        light: a pale tint of the accent (backgrounds, panels).
        dark: a deep shade of the accent (text on light, bars).
    """

    colours: tuple[RGB, ...]
    accent: RGB
    light: RGB
    dark: RGB

    def hex(self) -> list[str]:
        """The dominant colours as `#rrggbb` (what `CoverInfo.palette` carries)."""
        return [to_hex(c) for c in self.colours]


def palette_of(rgba: np.ndarray, fallback_accent: RGB) -> Palette:
    """The palette of a product cut-out (or of a whole photo, alpha all opaque).

    Args:
        rgba: H x W x 4 (or x 3) uint8.
        fallback_accent: the accent when the product has no vivid colour (white, black, grey, steel).
    """
    return make_palette(dominant_colours(rgba), fallback_accent)


def make_palette(colours: Sequence[tuple[RGB, float]], fallback_accent: RGB) -> Palette:
    """The palette from dominant colours with their shares (see `dominant_colours`)."""
    vivid = [(chroma(c) * share**0.5, c) for c, share in colours if share >= 0.08 and chroma(c) >= 18]
    accent = max(vivid, key=lambda t: t[0])[1] if vivid else tuple(fallback_accent)
    lab = _lab(accent)
    accent_lightness = lab[0] * 100 / 255
    if accent_lightness > 80:  # a pale accent (pastel): deepen it so it can carry white text and bars
        accent = _with_lightness(accent, 62, 70)
    light = _with_lightness(accent, 95, 10)
    dark = _with_lightness(accent, 24, 28)
    return Palette(colours=tuple(c for c, _ in colours), accent=accent, light=light, dark=dark)  # type: ignore[arg-type]
