"""Synthetic swatch photos for tests: a painted smear on paper or skin, in a finish, under a white balance.

A swatch is painted in linear light: the shade's colour with a little lightness texture, then the finish —
matte (nothing more), satin (one broad soft sheen), gloss (a few sharp specular streaks, near white) or
shimmer (many tiny bright sparkles). A camera's white balance is a per-channel gain in linear RGB relative to
green (as camera WB multipliers are), applied to the whole photo; the photo is then JPEG-encoded like an upload.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

__all__ = ["PAPER", "SKIN", "WARM", "COOL", "GREENISH", "render_swatch", "jpeg", "hex_rgb"]

PAPER = (236, 236, 233)
SKIN = (222, 176, 146)
#: White-balance gains (R, G, B) on linear RGB; G stays 1 like a camera's multipliers.
WARM = (1.18, 1.0, 0.72)
COOL = (0.82, 1.0, 1.22)
GREENISH = (0.9, 1.0, 0.88)


def hex_rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _linear(srgb: np.ndarray) -> np.ndarray:
    c = srgb / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _srgb(linear: np.ndarray) -> np.ndarray:
    c = np.clip(linear, 0.0, 1.0)
    out = np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def render_swatch(
    colour: str,
    background: tuple[int, int, int] = PAPER,
    finish: str = "matte",
    gains: tuple[float, float, float] = (1.0, 1.0, 1.0),
    size: tuple[int, int] = (480, 640),
    seed: int = 0,
) -> np.ndarray:
    """An RGB photo (H, W, 3 uint8) of one swatch of `colour` (#RRGGBB) on `background`."""
    rng = np.random.default_rng(seed)
    h, w = size
    base = np.empty((h, w, 3), np.float32)
    base[:] = _linear(np.array(background, np.float32))
    # Background: soft vignette and fine grain (paper fibres, skin texture).
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vignette = 1.0 - 0.06 * (((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2) * 4
    base *= vignette[..., None]
    base *= 1.0 + rng.normal(0, 0.012, (h, w, 1)).astype(np.float32)

    # The smear: a thick rotated stroke with rounded ends, edges feathered.
    mask = np.zeros((h, w), np.uint8)
    angle = rng.uniform(-25, 25)
    centre = (w / 2 + rng.uniform(-30, 30), h / 2 + rng.uniform(-20, 20))
    cv2.ellipse(mask, (int(centre[0]), int(centre[1])), (int(w * 0.3), int(h * 0.13)), angle, 0, 360, 255, -1)
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 2.0)

    paint = np.empty((h, w, 3), np.float32)
    paint[:] = _linear(np.array(hex_rgb(colour), np.float32))
    texture = 1.0 + cv2.GaussianBlur(rng.normal(0, 0.05, (h, w)).astype(np.float32), (0, 0), 1.5)
    paint *= texture[..., None]
    if finish == "satin":
        sheen = np.zeros((h, w), np.float32)
        cv2.ellipse(
            sheen, (int(centre[0]), int(centre[1] - h * 0.03)), (int(w * 0.18), int(h * 0.04)), angle, 0, 360, 1, -1
        )
        sheen = cv2.GaussianBlur(sheen, (0, 0), 14.0)
        paint = paint * (1 + 0.45 * sheen[..., None]) + 0.04 * sheen[..., None]
    elif finish == "gloss":
        spec = np.zeros((h, w), np.float32)
        for k in range(3):
            dx = (k - 1) * w * 0.15 + rng.uniform(-8, 8)
            cx, cy = int(centre[0] + dx), int(centre[1] - h * 0.04 + rng.uniform(-6, 6))
            cv2.ellipse(spec, (cx, cy), (int(w * 0.05), int(h * 0.012)), angle, 0, 360, 1, -1)
        spec = cv2.GaussianBlur(spec, (0, 0), 2.0) * (mask > 0)
        paint = paint * (1 - 0.9 * spec[..., None]) + 0.85 * spec[..., None]
    elif finish == "shimmer":
        dots = (rng.random((h, w)) > 0.985).astype(np.float32)
        dots = cv2.GaussianBlur(dots, (0, 0), 0.7) * 4.0
        paint = paint * (1 + 1.5 * np.clip(dots, 0, 1)[..., None]) + 0.25 * np.clip(dots, 0, 1)[..., None]
    elif finish != "matte":
        raise ValueError(f"finish: {finish!r}")
    linear = base * (1 - soft[..., None]) + paint * soft[..., None]
    linear *= np.array(gains, np.float32)
    return _srgb(linear)


def jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
