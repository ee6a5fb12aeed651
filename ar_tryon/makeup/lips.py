"""Lipstick: the lip ring (outer contour minus the inner mouth), teeth excluded, in a matte/gloss/shimmer finish.

Finishes are small strategy classes: each turns the lips' lightness into the finished lightness (a LUT, plus
sparkles for shimmer); the rest of the flow (mask, chroma, blend) is shared.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from ar_tryon.landmarks.types import FaceLandmarks
from ar_tryon.makeup.color import core_of, lightness_lut, masked_mean_l, tint
from ar_tryon.makeup.regions import LIPS_INNER, LIPS_OUTER, Region, feather_inside, fill_mask, roi_around
from ar_tryon.shades import Finish, Product, Shade

__all__ = ["LipRenderer", "MatteFinish", "GlossFinish", "ShimmerFinish", "finish_for"]


class MatteFinish:
    """Flat, velvety: texture slightly flattened, no added highlights."""

    contrast = 0.8

    def lut(self, lab: np.ndarray, mask: np.ndarray, target_l: int) -> np.ndarray:
        return lightness_lut(masked_mean_l(lab, mask), target_l, 1.0, self.contrast)

    def sparkle(self, mask: np.ndarray) -> np.ndarray | None:
        return None


class GlossFinish(MatteFinish):
    """Wet look: full texture, and the lips' own highlights (top ~15% of L) pushed up into specular spots."""

    contrast = 1.0
    gain = 1.6

    def lut(self, lab: np.ndarray, mask: np.ndarray, target_l: int) -> np.ndarray:
        core = lab[..., 0][core_of(mask)]
        if core.size == 0:
            return super().lut(lab, mask, target_l)
        mean_l = float(core.mean())
        spot = float(np.percentile(core, 85))
        # Highlights are measured on the lips' own L, then re-based to the shade's mean.
        return lightness_lut(mean_l, target_l, 1.0, self.contrast, highlight_from=spot, highlight_gain=self.gain)


@functools.cache
def _sparkle_tile(size: int = 128, seed: int = 7) -> np.ndarray:
    """Sparse bright dots, fixed once per process: anchored to the lip box so they move with the lips."""
    noise = np.random.default_rng(seed).random((size, size)).astype(np.float32)
    return np.where(noise > 0.93, (noise - 0.93) / 0.07 * 70, 0).astype(np.uint8)


class ShimmerFinish(MatteFinish):
    """Metallic: texture kept and fine sparkles (a fixed dot pattern stretched over the lip box)."""

    contrast = 1.0

    def sparkle(self, mask: np.ndarray) -> np.ndarray | None:
        h, w = mask.shape
        tile = cv2.resize(_sparkle_tile(), (w, h), interpolation=cv2.INTER_NEAREST)
        return cv2.min(tile, mask)


def finish_for(finish: Finish) -> MatteFinish:
    return {Finish.MATTE: MatteFinish, Finish.GLOSS: GlossFinish, Finish.SHIMMER: ShimmerFinish}[finish]()


class LipRenderer:
    """Lipstick on one face. `process` recolours `image` in place and returns the mask it used."""

    product = Product.LIPS

    def mask(self, image: np.ndarray, face: FaceLandmarks, lab: np.ndarray | None = None) -> Region | None:
        """The lip mask: inside the outer contour, outside the inner mouth, minus teeth, edges feathered inwards."""
        h, w = image.shape[:2]
        outer, inner = face.xy[LIPS_OUTER], face.xy[LIPS_INNER]
        box = roi_around(outer, 2.0, w, h)
        if box is None:
            return None
        hard = fill_mask(box, [outer], [inner])
        if lab is not None:
            # Teeth and tongue tip between imperfect inner contours: brighter and far less coloured than the
            # lips themselves (relative tests, so a bright or dark photo does not change what counts).
            chroma = (cv2.absdiff(lab[..., 1], 128).astype(np.int16) + cv2.absdiff(lab[..., 2], 128)).astype(np.int16)
            inside = hard > 0
            if inside.any():
                lip_l, lip_c = np.median(lab[..., 0][inside]), np.median(chroma[inside])
                teeth = (lab[..., 0] > lip_l + 35) & (chroma < 0.5 * lip_c)
                hard[teeth] = 0
        lip_height = float(np.ptp(outer[:, 1]))
        return Region(box, feather_inside(hard, max(1.0, 0.06 * lip_height)))

    def process(self, image: np.ndarray, face: FaceLandmarks, shade: Shade, intensity: float) -> Region | None:
        """Apply `shade` (a lips shade) at `intensity` in [0, 1]. Returns the mask, or None if off-frame.

        Raises:
            ValueError: a shade of another product, or intensity outside [0, 1].
        """
        _check(shade, self.product, intensity)
        h, w = image.shape[:2]
        box = roi_around(face.xy[LIPS_OUTER], 2.0, w, h)
        if box is None:
            return None
        x0, y0, x1, y1 = box
        lab = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2LAB)
        region = self.mask(image, face, lab)
        if region is None or intensity == 0:
            return region
        finish = finish_for(shade.finish)
        lut = finish.lut(lab, region.mask, shade.lab8[0])
        tint(image, box, region.mask, shade.lab8[1:], lut, intensity, lab=lab, l_add=finish.sparkle(region.mask))
        return region


def _check(shade: Shade, product: Product, intensity: float) -> None:
    if shade.product != product:
        raise ValueError(f"shade {shade.sku} is a {shade.product.value} shade, not {product.value}")
    if not 0.0 <= intensity <= 1.0:
        raise ValueError(f"intensity must be in [0, 1], got {intensity}")
