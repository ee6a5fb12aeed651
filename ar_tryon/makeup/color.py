"""Colour in a perceptual space, on uint8, inside a box only.

Why Lab: a shade is mostly chroma (a, b) at some lightness. Replacing a/b with the shade's and moving the
*mean* lightness of the region to the shade's while keeping each pixel's deviation from that mean keeps the
lips' texture, creases and the scene's lighting (highlights stay highlights). Blending the result by a
feathered mask x intensity gives soft edges. All of it is 8-bit: OpenCV's uint8 Lab conversions, a 256-entry
lookup table for the lightness curve, and integer blending — no full-frame float image is ever made.

Strong shades at lightness far from the region's mean leave the sRGB gamut (a dark pixel cannot carry the
chroma of a bright red), and the Lab -> RGB conversion clips them: the rendered mean drifts from the shade by
2-5 CIEDE2000 on real lips. Since every pixel gets the same a/b, what a pixel renders to depends on its
lightness alone: `tint` converts the 256 possible lightnesses once (a 1x256 image), predicts the core's
rendered mean from its lightness histogram, and shifts L, a and b by the drift before rendering the box —
no second pass over the box.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

__all__ = ["core_of", "lightness_lut", "tint", "masked_mean_l"]


def lightness_lut(
    mean_l: float,
    target_l: float,
    strength: float,
    contrast: float = 1.0,
    highlight_from: float | None = None,
    highlight_gain: float = 0.0,
) -> np.ndarray:
    """256-entry uint8 LUT over OpenCV L (0..255).

    Args:
        mean_l: the region's current mean L.
        target_l: the shade's L.
        strength: [0, 1] how far the mean moves to the shade (1 = all the way; 0 keeps the skin's lightness).
        contrast: scale of each pixel's deviation from the mean (<1 flattens texture: a matte look).
        highlight_from: L above which highlights are boosted (gloss); None for none.
        highlight_gain: how much the part above `highlight_from` is amplified.
    """
    v = np.arange(256, dtype=np.float32)
    new_mean = mean_l + strength * (target_l - mean_l)
    out = new_mean + (v - mean_l) * contrast
    if highlight_from is not None and highlight_gain > 0:
        out += np.maximum(v - highlight_from, 0.0) * highlight_gain
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def core_of(mask: np.ndarray, min_pixels: int = 16) -> np.ndarray:
    """The most covered part of a feathered mask: within 8 of its peak (>= 250 where it reaches 255).

    The shade is matched on this core: the feathered rim blends into the skin by design. Thin regions (small
    or tilted lips) may never reach 255: their core is their most covered pixels, at least `min_pixels` of
    them (fewer only when the mask has fewer non-zero pixels).
    """
    peak = int(mask.max()) if mask.size else 0
    core = mask >= max(1, min(250, peak - 8))
    if np.count_nonzero(core) < min_pixels:
        values = mask[mask > 0]
        if values.size:
            k = min(min_pixels, values.size)
            core = mask >= np.partition(values, values.size - k)[values.size - k]
    return core


def masked_mean_l(lab: np.ndarray, mask: np.ndarray) -> float:
    """Mean L of the region's core (`core_of`)."""
    core = core_of(mask)
    return float(lab[..., 0][core].mean()) if core.any() else 128.0


def tint(
    image: np.ndarray,
    box: tuple[int, int, int, int],
    mask: np.ndarray,
    ab: tuple[int, int],
    lut: np.ndarray,
    intensity: float,
    lab: np.ndarray | None = None,
    l_add: np.ndarray | None = None,
) -> None:
    """Recolour `image[box]` in place: L through `lut` (+ `l_add`), a/b set to `ab`, blended by mask x intensity.

    Pixels where `mask` is 0 (and every pixel outside `box`) are left bit-for-bit unchanged.

    Args:
        image: HxWx3 uint8 RGB frame (modified in place).
        box: (x0, y0, x1, y1) region in frame pixels.
        mask: uint8 mask of the box's size.
        ab: target a, b in OpenCV 8-bit Lab.
        lut: uint8 LUT for L (see `lightness_lut`).
        intensity: [0, 1] global strength.
        lab: the box already converted to Lab, if the caller has it.
        l_add: optional uint8 lightness added after the LUT (shimmer sparkles).
    """
    x0, y0, x1, y1 = box
    patch = image[y0:y1, x0:x1]
    if lab is None:
        lab = cv2.cvtColor(patch, cv2.COLOR_RGB2LAB)
    light = cv2.LUT(lab[..., 0], lut)
    if l_add is not None:
        light = cv2.add(light, l_add)
    core = core_of(mask)
    if core.any():
        dl, ab = _gamut_correction(np.bincount(light[core], minlength=256), ab)
        if dl:
            light = cv2.add(light, dl) if dl > 0 else cv2.subtract(light, -dl)
    shaded = _shade(light, ab)
    weight = (mask.astype(np.int32) * int(round(np.clip(intensity, 0.0, 1.0) * 256))) // 255
    src = patch.astype(np.int32)
    delta = shaded.astype(np.int32) - src
    patch[...] = (src + ((delta * weight[..., None] + 128) >> 8)).astype(np.uint8)


def _gamut_correction(hist: np.ndarray, ab: tuple[int, int], rounds: int = 2) -> tuple[int, tuple[int, int]]:
    """(L shift, corrected a/b) so the rendered mean of pixels with lightness histogram `hist` is the intended
    mean lightness with chroma `ab`, after the Lab -> RGB -> Lab round trip clips what sRGB cannot show."""
    levels = np.arange(256, dtype=np.float64)
    n = float(hist.sum())
    want = np.array([hist @ levels / n, ab[0], ab[1]])
    dl, a, b = 0, ab[0], ab[1]
    for _ in range(rounds):
        drift = want - hist @ _rendered_lab(dl, a, b) / n
        if np.all(np.abs(drift) < 0.5):
            break
        dl += int(round(drift[0]))
        a = int(np.clip(a + round(drift[1]), 0, 255))
        b = int(np.clip(b + round(drift[2]), 0, 255))
    return dl, (a, b)


@functools.lru_cache(maxsize=512)
def _rendered_lab(dl: int, a: int, b: int) -> np.ndarray:
    """(256, 3) float64: the Lab (OpenCV 8-bit) that lightness v + `dl` with chroma (a, b) renders to, per v.

    Cached: a video stream asks for the same shade and nearly the same shift on every frame.
    """
    ramp = np.clip(np.arange(256) + dl, 0, 255).astype(np.uint8)[None, :]
    table = cv2.cvtColor(_shade(ramp, (a, b)), cv2.COLOR_RGB2LAB)[0].astype(np.float64)
    table.setflags(write=False)
    return table


def _shade(light: np.ndarray, ab: tuple[int, int]) -> np.ndarray:
    """RGB of lightness `light` (uint8 OpenCV L) with one chroma `ab` (OpenCV 8-bit a, b)."""
    a = np.full_like(light, ab[0])
    b = np.full_like(light, ab[1])
    return cv2.cvtColor(cv2.merge([light, a, b]), cv2.COLOR_LAB2RGB)
