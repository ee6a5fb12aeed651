"""A shade from a photo of a swatch: a lipstick / blush / eyeshadow smear on paper or skin, or a bullet.

`SwatchExtractor.process(rgb)` reads as its steps:

1. check the photo (RGB, at least 32 px a side); work on a copy at most `work_size` px a side;
2. the background: the photo's outer ring (`ring_fraction` of the shorter side), its dominant colour (median in
   CIELAB, refined over the pixels near it); a ring that is not mostly one colour is no plain background;
3. white balance: when the background is neutral (paper, a white card — `background="neutral"`, or `"auto"` and
   the ring is grey-ish or off-grey in a hue skin never has), a von Kries correction in linear RGB makes the ring
   neutral (gains relative to green, like a camera's); on skin (`"skin"`, or `"auto"` and a skin-like ring) nothing
   is corrected — skin is no grey reference;
4. the swatch: pixels far from the background in CIELAB (ΔE76 over a threshold from the ring's own spread),
   opened, closed and hole-filled; the largest connected region;
5. its colour: the median L*, a*, b* of the region's core (the inner part by distance to the edge) without
   specular highlights or sparkles (much lighter than the core's median) and without dark flecks;
6. checks: enough area, a clear colour difference from the background, a hue (C* over `min_chroma`), one
   coherent colour, a compact shape —
   otherwise `NoSwatchError` (422 naming the photo field) says what was missing;
7. the finish guess from the core's lightness: specular highlights (a share of the core much lighter than its
   median, in blobs) -> gloss; many tiny bright points and fine texture above the background's -> shimmer; a broad
   soft sheen -> satin; none -> matte. Each guess comes with a confidence.

CIELAB is D65 (sRGB's white), computed by OpenCV from float sRGB. No weights, no model: pure image statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from ar_tryon.errors import TryOnError

__all__ = [
    "Background",
    "SwatchFinish",
    "NoSwatchError",
    "Swatch",
    "SwatchOptions",
    "SwatchExtractor",
    "extract_swatch",
    "lab_to_hex",
    "hex_to_lab",
]

#: What the swatch lies on: `auto` (decide from the ring), `neutral` (paper, card: correct white balance), `skin`.
Background = Literal["auto", "neutral", "skin"]
SwatchFinish = Literal["matte", "satin", "gloss", "shimmer"]


class NoSwatchError(TryOnError):
    """The photo shows no swatch this extractor can measure; the message says what was missing."""


@dataclass(frozen=True)
class SwatchOptions:
    """Knobs of the extractor (defaults fit phone photos of a swatch filling 5-70% of the frame).

    Attributes:
        work_size: longest side the photo is reduced to before measuring, 128..2048.
        ring_fraction: width of the background ring as a share of the shorter side, 0.03..0.25.
        min_area: smallest swatch, as a share of the photo, 0.001..0.5.
        min_contrast: smallest ΔE2000 between swatch and background, 2..40.
        min_coherence: share of the swatch core within ΔE76 12 of its colour, 0..1.
        min_chroma: smallest C* of the swatch colour, 0..30: lipstick, blush and eyeshadow have a hue, while
            black, grey or white shapes (ink, print, coins, silhouettes) are refused.
    """

    work_size: int = 640
    ring_fraction: float = 0.08
    min_area: float = 0.005
    min_contrast: float = 6.0
    min_coherence: float = 0.55
    min_chroma: float = 4.0

    def __post_init__(self) -> None:
        checks = {
            "work_size": 128 <= self.work_size <= 2048,
            "ring_fraction": 0.03 <= self.ring_fraction <= 0.25,
            "min_area": 0.001 <= self.min_area <= 0.5,
            "min_contrast": 2.0 <= self.min_contrast <= 40.0,
            "min_coherence": 0.0 <= self.min_coherence <= 1.0,
            "min_chroma": 0.0 <= self.min_chroma <= 30.0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"{name}: {getattr(self, name)!r} is out of range (see SwatchOptions)")


@dataclass(frozen=True)
class Swatch:
    """A measured shade. `lab` is CIELAB (D65): L* 0..100, a*, b*; `hex` is its sRGB colour."""

    hex: str
    lab: tuple[float, float, float]
    finish: SwatchFinish
    finish_confidence: float
    confidence: float
    area_fraction: float
    box: tuple[int, int, int, int]
    background: Literal["neutral", "skin", "other"]
    white_balanced: bool
    background_hex: str

    def to_dict(self) -> dict:
        return {
            "hex": self.hex,
            "lab": [round(v, 2) for v in self.lab],
            "finish": self.finish,
            "finish_confidence": round(self.finish_confidence, 3),
            "confidence": round(self.confidence, 3),
            "area_fraction": round(self.area_fraction, 4),
            "box": list(self.box),
            "background": self.background,
            "white_balanced": self.white_balanced,
            "background_hex": self.background_hex,
        }


# -- colour helpers ------------------------------------------------------------------------------------------
def _to_linear(srgb01: np.ndarray) -> np.ndarray:
    return np.where(srgb01 <= 0.04045, srgb01 / 12.92, ((srgb01 + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _to_srgb(linear: np.ndarray) -> np.ndarray:
    c = np.clip(linear, 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055).astype(np.float32)


def _lab(srgb01: np.ndarray) -> np.ndarray:
    """CIELAB of float sRGB in [0, 1] (any shape ending in 3)."""
    shaped = np.ascontiguousarray(srgb01.reshape(-1, 1, 3), dtype=np.float32)
    return cv2.cvtColor(shaped, cv2.COLOR_RGB2Lab).reshape(srgb01.shape)


def lab_to_hex(lab: tuple[float, float, float] | np.ndarray) -> str:
    """`#RRGGBB` of a CIELAB (D65) colour, clipped into sRGB."""
    rgb = cv2.cvtColor(np.array([[lab]], np.float32), cv2.COLOR_Lab2RGB)[0, 0]
    r, g, b = (int(round(float(np.clip(v, 0, 1)) * 255)) for v in rgb)
    return f"#{r:02X}{g:02X}{b:02X}"


def hex_to_lab(hex_colour: str) -> tuple[float, float, float]:
    """CIELAB (D65) of `#RRGGBB`."""
    rgb = np.array([[[int(hex_colour[i : i + 2], 16) / 255.0 for i in (1, 3, 5)]]], np.float32)
    lab = _lab(rgb)[0, 0]
    return float(lab[0]), float(lab[1]), float(lab[2])


def _chroma_hue(a: float, b: float) -> tuple[float, float]:
    return float(np.hypot(a, b)), float(np.degrees(np.arctan2(b, a)) % 360)


def _is_skin_like(lab: np.ndarray) -> bool:
    """Skin of any depth: orange-red hue, moderate chroma (a warm-lit white card can look like this too)."""
    chroma, hue = _chroma_hue(float(lab[1]), float(lab[2]))
    return 10.0 <= chroma <= 45.0 and 20.0 <= hue <= 75.0 and 20.0 <= lab[0] <= 92.0


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    h, w = mask.shape
    padded = np.zeros((h + 2, w + 2), np.uint8)
    padded[1:-1, 1:-1] = mask
    flood = padded.copy()
    cv2.floodFill(flood, np.zeros((h + 4, w + 4), np.uint8), (0, 0), 255)
    return mask | cv2.bitwise_not(flood)[1:-1, 1:-1]


class SwatchExtractor:
    """Shade colour and finish from a swatch photo (thread-safe: no state besides the options)."""

    def __init__(self, options: SwatchOptions | None = None) -> None:
        self.options = options or SwatchOptions()

    def process(self, rgb: np.ndarray, background: Background = "auto", param: str = "photo") -> Swatch:
        """Measure the swatch in `rgb` (H, W, 3 uint8 sRGB).

        Raises:
            TryOnError: `background` is not auto / neutral / skin, or the photo is too small.
            NoSwatchError: no plain background, or no region that is one clear colour (names `param`).
        """
        # 1. check inputs, prepare the working copy
        if background not in ("auto", "neutral", "skin"):
            raise TryOnError(f"background: expected auto, neutral or skin, got {background!r}", "background")
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise TryOnError(f"{param}: expected an RGB image, got an array of shape {rgb.shape}", param)
        h0, w0 = rgb.shape[:2]
        if min(h0, w0) < 32:
            raise TryOnError(f"{param}: the photo is {w0}x{h0}; a swatch photo needs at least 32 px a side", param)
        scale = min(1.0, self.options.work_size / max(h0, w0))
        work = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
        srgb = work.astype(np.float32) / 255.0
        h, w = srgb.shape[:2]

        # 2. the background ring and its dominant colour
        ring = np.ones((h, w), bool)
        band = max(2, int(round(min(h, w) * self.options.ring_fraction)))
        ring[band:-band, band:-band] = False
        lab = _lab(srgb)
        bg_lab, inliers = self._dominant(lab[ring])
        if inliers < 0.5:
            raise NoSwatchError(
                f"{param}: no swatch found: the border of the photo is not one plain colour ({inliers:.0%} of it is); "
                "photograph the swatch on plain paper or skin, with some background around it",
                param,
            )

        # 3. white balance from a neutral background
        kind = self._background_kind(bg_lab, background)
        balanced = kind == "neutral"
        if balanced:
            linear = _to_linear(srgb)
            ring_lin = np.median(linear[ring & (self._delta(lab, bg_lab) < 10)], axis=0)
            gains = ring_lin[1] / np.maximum(ring_lin, 1e-4)
            srgb = _to_srgb(linear * gains)
            lab = _lab(srgb)
            bg_lab, _ = self._dominant(lab[ring])

        # 4. the swatch region
        delta = self._delta(lab, bg_lab)
        ring_delta = delta[ring]
        spread = float(np.median(ring_delta[ring_delta < 15])) * 1.5 if (ring_delta < 15).any() else 5.0
        threshold = max(10.0, 4.0 * spread)
        candidate = (delta > threshold).astype(np.uint8) * 255
        k = max(3, int(round(min(h, w) / 160)) | 1)
        candidate = cv2.morphologyEx(candidate, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        close_k = 3 * k
        candidate = cv2.morphologyEx(
            candidate, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close_k, close_k))
        )
        candidate = _fill_holes(candidate)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(candidate, connectivity=8)
        if count <= 1:
            raise NoSwatchError(
                f"{param}: no swatch found: nothing in the photo stands out from its background by colour", param
            )
        best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        region = labels == best
        area = float(region.mean())
        if area < self.options.min_area:
            raise NoSwatchError(
                f"{param}: no swatch found: the largest coloured region covers {area:.2%} of the photo "
                f"(at least {self.options.min_area:.1%} needed); move closer to the swatch",
                param,
            )

        # 5. the core's colour without highlights and dark flecks
        dist = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 5)
        core = dist >= 0.35 * float(dist.max())
        if core.sum() < 50:
            core = region
        core_l = lab[..., 0][core]
        med_l = float(np.median(core_l))
        mad_l = float(np.median(np.abs(core_l - med_l))) * 1.4826
        bright = lab[..., 0] > med_l + max(8.0, 3.0 * mad_l)
        dark = lab[..., 0] < med_l - max(12.0, 4.0 * mad_l)
        body = core & ~bright & ~dark
        if body.sum() < 20:
            body = core
        colour = np.median(lab[body], axis=0)

        # 6. is it a swatch: contrast, one colour, a compact shape
        contrast = _delta_e2000(colour, bg_lab)
        body_delta = self._delta(lab[body], colour)
        coherence = float((body_delta < 12.0).mean())
        contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        hull_area = max(float(cv2.contourArea(cv2.convexHull(max(contours, key=cv2.contourArea)))), 1.0)
        solidity = min(1.0, float(region.sum()) / hull_area)
        if contrast < self.options.min_contrast:
            raise NoSwatchError(
                f"{param}: no swatch found: the largest region differs from the background by ΔE2000 {contrast:.1f} "
                f"(at least {self.options.min_contrast:.0f} needed)",
                param,
            )
        chroma, _ = _chroma_hue(float(colour[1]), float(colour[2]))
        if chroma < self.options.min_chroma:
            raise NoSwatchError(
                f"{param}: no swatch found: the largest region is grey, black or white (chroma {chroma:.1f}, at least "
                f"{self.options.min_chroma:.0f} needed): ink, print or a shadow, not a makeup shade",
                param,
            )
        if coherence < self.options.min_coherence or solidity < 0.5:
            raise NoSwatchError(
                f"{param}: no swatch found: the largest region is not one colour ({coherence:.0%} of it is within "
                f"ΔE 12 of its median) or not one compact smear (solidity {solidity:.2f}); crop to the swatch on a "
                "plain background",
                param,
            )

        # 7. the finish
        finish, finish_confidence = self._finish(lab[..., 0], core, med_l, mad_l, ring)
        confidence = (
            min(1.0, contrast / 20.0)
            * min(1.0, coherence / 0.9)
            * min(1.0, solidity / 0.8)
            * min(1.0, inliers / 0.8)
            * min(1.0, area / (4 * self.options.min_area))
        )
        ys, xs = np.nonzero(region)
        inv = 1.0 / scale
        box = (
            int(xs.min() * inv),
            int(ys.min() * inv),
            min(w0, int(np.ceil((xs.max() + 1) * inv))),
            min(h0, int(np.ceil((ys.max() + 1) * inv))),
        )
        lab_out = (float(colour[0]), float(colour[1]), float(colour[2]))
        return Swatch(
            hex=lab_to_hex(lab_out),
            lab=lab_out,
            finish=finish,
            finish_confidence=finish_confidence,
            confidence=float(confidence),
            area_fraction=area,
            box=box,
            background=kind,
            white_balanced=balanced,
            background_hex=lab_to_hex(bg_lab),
        )

    # -- steps ----------------------------------------------------------------------------------------------
    @staticmethod
    def _delta(lab: np.ndarray, ref: np.ndarray) -> np.ndarray:
        return np.sqrt(((lab - ref) ** 2).sum(axis=-1))

    def _dominant(self, pixels: np.ndarray) -> tuple[np.ndarray, float]:
        """The ring's dominant colour (median, refined twice over pixels within ΔE76 12) and its share."""
        centre = np.median(pixels, axis=0)
        near = np.ones(len(pixels), bool)
        for _ in range(2):
            near = self._delta(pixels, centre) < 12.0
            if not near.any():
                break
            centre = np.median(pixels[near], axis=0)
        return centre, float(near.mean())

    @staticmethod
    def _background_kind(bg_lab: np.ndarray, background: Background) -> Literal["neutral", "skin", "other"]:
        if background == "neutral":
            return "neutral"
        if background == "skin":
            return "skin"
        chroma, _ = _chroma_hue(float(bg_lab[1]), float(bg_lab[2]))
        if chroma < 6.0 or (chroma < 30.0 and not _is_skin_like(bg_lab) and bg_lab[0] > 40):
            return "neutral"  # grey, or a cast no skin has (cool, green, magenta): a white card under that light
        return "skin" if _is_skin_like(bg_lab) else "other"

    @staticmethod
    def _finish(
        lightness: np.ndarray, core: np.ndarray, med_l: float, mad_l: float, ring: np.ndarray
    ) -> tuple[SwatchFinish, float]:
        """matte / satin / gloss / shimmer from highlights, sparkles, fine texture and broad sheen of the core."""
        n = float(core.sum())
        highlight = (core & (lightness > med_l + max(15.0, 4.0 * mad_l))).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(highlight, connectivity=8)
        areas = stats[1:, cv2.CC_STAT_AREA] if count > 1 else np.zeros(0, int)
        small = int((areas <= 12).sum())
        blob_area = float(areas[areas > 12].sum())
        sparkle_density = small / n * 1000.0  # tiny bright points per 1000 px of core
        specular = blob_area / n
        fine = lightness - cv2.GaussianBlur(lightness, (0, 0), 1.5)
        noise = max(float(np.std(fine[ring])), 0.3)
        texture = float(np.std(fine[core])) / noise
        smooth = cv2.GaussianBlur(lightness, (0, 0), 6.0)[core]
        sheen = float(np.percentile(smooth, 97) - np.percentile(smooth, 20))

        if sparkle_density >= 2.0 and texture >= 1.5:
            return "shimmer", float(min(1.0, 0.5 + sparkle_density / 20.0))
        if specular >= 0.004:
            return "gloss", float(min(1.0, 0.5 + specular * 25.0))
        if sheen >= 4.0:
            return "satin", float(min(1.0, 0.5 + (sheen - 4.0) / 12.0))
        return "matte", float(min(1.0, 0.5 + (4.0 - sheen) / 6.0))


def _delta_e2000(lab1: np.ndarray, lab2: np.ndarray) -> float:
    from skimage.color import deltaE_ciede2000

    return float(deltaE_ciede2000(np.asarray(lab1, np.float64), np.asarray(lab2, np.float64)))


def extract_swatch(rgb: np.ndarray, background: Background = "auto", param: str = "photo") -> Swatch:
    """`SwatchExtractor().process(rgb, background)`."""
    return SwatchExtractor().process(rgb, background, param)
