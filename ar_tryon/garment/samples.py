"""Garment templates drawn in code (flat lays on transparency), for tests, benchmarks and demos.

Each is an HxWx4 uint8 RGBA image laid out like a product photo: front view, sleeves out to the sides,
trouser legs apart. Stripes and a chest patch make warps and shading visible in renders.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["long_sleeve", "tshirt", "trousers", "dress"]


def _paint(poly: np.ndarray, size: tuple[int, int], color: tuple[int, int, int], stripes: int = 0) -> np.ndarray:
    h, w = size
    rgba = np.zeros((h, w, 4), np.uint8)
    cv2.fillPoly(rgba, [poly.astype(np.int32)], (*color, 255), cv2.LINE_AA)
    if stripes:
        dark = tuple(int(c * 0.55) for c in color)
        band = np.zeros((h, w), np.uint8)
        for y in range(0, h, stripes * 2):
            band[y : y + stripes] = 255
        on = (band > 0) & (rgba[..., 3] > 0)
        rgba[on, :3] = dark
    return rgba


def tshirt(color: tuple[int, int, int] = (30, 110, 200), stripes: int = 0) -> np.ndarray:
    """Short-sleeved top, 400x440."""
    poly = np.array([[120, 10], [160, 30], [240, 30], [280, 10], [390, 90], [340, 150], [300, 120], [300, 430],
                     [100, 430], [100, 120], [60, 150], [10, 90]])  # fmt: skip
    return _paint(poly, (440, 400), color, stripes)


def long_sleeve(color: tuple[int, int, int] = (200, 60, 60), stripes: int = 12) -> np.ndarray:
    """Long-sleeved top (sleeves out and down at ~35 degrees), 600x520, striped, with a white chest patch."""
    poly = np.array([[225, 10], [265, 35], [335, 35], [375, 10], [430, 30], [590, 300], [545, 330], [420, 140],
                     [420, 500], [180, 500], [180, 140], [55, 330], [10, 300], [170, 30]])  # fmt: skip
    rgba = _paint(poly, (520, 600), color, stripes)
    cv2.rectangle(rgba, (310, 110), (380, 160), (245, 245, 245, 255), -1)
    return rgba


def trousers(color: tuple[int, int, int] = (40, 60, 110), stripes: int = 0) -> np.ndarray:
    """Full-length trousers, 300x640: waistband on top, legs apart below a crotch at ~30% of the height."""
    poly = np.array([[40, 10], [260, 10], [285, 630], [170, 630], [152, 200], [148, 200], [130, 630], [15, 630]])
    rgba = _paint(poly, (640, 300), color, stripes)
    cv2.rectangle(rgba, (40, 10), (260, 34), (*(int(c * 0.7) for c in color), 255), -1)  # waistband
    return rgba


def dress(color: tuple[int, int, int] = (150, 40, 120), stripes: int = 10) -> np.ndarray:
    """Short-sleeved dress, 460x760: fitted bodice, waist at ~38% of the height, flared skirt to ~the knees."""
    poly = np.array([[150, 10], [190, 35], [270, 35], [310, 10], [440, 90], [400, 150], [345, 120], [330, 290],
                     [440, 750], [20, 750], [130, 290], [115, 120], [60, 150], [20, 90]])  # fmt: skip
    return _paint(poly, (760, 460), color, stripes)
