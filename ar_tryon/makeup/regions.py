"""Where makeup goes: face-mesh landmark indices per region and feathered masks built inside a small ROI.

Every mask lives in a `Region`: an integer box in frame pixels plus a uint8 mask of the box's size. Work is
confined to that box, so the cost follows the face, not the frame (a 1080p frame with a small face costs the
same as a 360p one).

Index lists are ordered contours of mediapipe's 478-point canonical face mesh ("left"/"right" are the
person's own: the person's right eye is on the image's left in a non-mirrored photo).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "Region",
    "roi_around",
    "fill_mask",
    "feather_inside",
    "LIPS_OUTER",
    "LIPS_INNER",
    "RIGHT_EYE",
    "LEFT_EYE",
    "RIGHT_EYE_UPPER",
    "LEFT_EYE_UPPER",
    "RIGHT_BROW",
    "LEFT_BROW",
    "RIGHT_BROW_LOWER",
    "LEFT_BROW_LOWER",
    "RIGHT_CHEEK",
    "LEFT_CHEEK",
    "FACE_RIGHT_EDGE",
    "FACE_LEFT_EDGE",
]

LIPS_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185]
LIPS_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191]
# Eye contours: upper lid from outer to inner corner, then the lower lid back.
RIGHT_EYE_UPPER = [33, 246, 161, 160, 159, 158, 157, 173, 133]
RIGHT_EYE_LOWER = [155, 154, 153, 145, 144, 163, 7]
LEFT_EYE_UPPER = [263, 466, 388, 387, 386, 385, 384, 398, 362]
LEFT_EYE_LOWER = [382, 381, 380, 374, 373, 390, 249]
RIGHT_EYE = RIGHT_EYE_UPPER + RIGHT_EYE_LOWER
LEFT_EYE = LEFT_EYE_UPPER + LEFT_EYE_LOWER
# Brows: lower edge from outer to inner end, then the upper edge back. Lower edges match the lids' order.
RIGHT_BROW_LOWER = [46, 53, 52, 65, 55]
LEFT_BROW_LOWER = [276, 283, 282, 295, 285]
RIGHT_BROW = RIGHT_BROW_LOWER + [107, 66, 105, 63, 70]
LEFT_BROW = LEFT_BROW_LOWER + [336, 296, 334, 293, 300]
# Apples of the cheeks and the face's widest points (for sizes that follow the face).
RIGHT_CHEEK = [50, 101, 118, 117, 123, 187, 205]
LEFT_CHEEK = [280, 330, 347, 346, 352, 411, 425]
FACE_RIGHT_EDGE = 234
FACE_LEFT_EDGE = 454


@dataclass(frozen=True)
class Region:
    """A mask in a box: `mask` (uint8, 0..255) covers frame pixels `[y0:y1, x0:x1]` of `box`."""

    box: tuple[int, int, int, int]
    mask: np.ndarray

    def full_frame(self, height: int, width: int) -> np.ndarray:
        """The mask pasted into a zero frame (for tests and previews, not the render path)."""
        out = np.zeros((height, width), dtype=np.uint8)
        x0, y0, x1, y1 = self.box
        out[y0:y1, x0:x1] = self.mask
        return out


def roi_around(points: np.ndarray, margin: float, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Integer box around `points` (N, 2) grown by `margin` px, clipped to the frame; None if empty."""
    x0, y0 = np.floor(points.min(axis=0) - margin).astype(int)
    x1, y1 = np.ceil(points.max(axis=0) + margin).astype(int) + 1
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return int(x0), int(y0), int(x1), int(y1)


def fill_mask(box: tuple[int, int, int, int], polygons: list[np.ndarray], holes: list[np.ndarray] = ()) -> np.ndarray:
    """Hard 0/255 mask of `polygons` minus `holes` (frame-pixel point arrays) inside `box`.

    Drawing uses 4-bit sub-pixel precision so masks do not snap to whole pixels (less jitter in video).
    """
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    shift = 4
    origin = np.array([x0, y0], dtype=np.float32)

    def fixed(poly: np.ndarray) -> np.ndarray:
        return np.round((poly[:, :2] - origin) * (1 << shift)).astype(np.int32).reshape(-1, 1, 2)

    cv2.fillPoly(mask, [fixed(p) for p in polygons], 255, lineType=cv2.LINE_8, shift=shift)
    if holes:
        cv2.fillPoly(mask, [fixed(p) for p in holes], 0, lineType=cv2.LINE_8, shift=shift)
    return mask


def feather_inside(hard: np.ndarray, radius: float) -> np.ndarray:
    """Soften a hard mask's edge inwards only: the result is 0 wherever `hard` is 0.

    A plain blur would spill colour past the contour (onto skin around the lips); eroding first and then
    blurring, clipped by the hard mask, fades the colour out inside the contour instead.
    """
    r = max(1, int(round(radius)))
    eroded = cv2.erode(hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (r, r))) if r > 1 else hard
    k = 2 * r + 1
    soft = cv2.GaussianBlur(eroded, (k, k), r / 2.0)
    return cv2.min(soft, hard)
