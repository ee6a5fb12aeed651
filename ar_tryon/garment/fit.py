"""Where a garment goes on a body: anchor points on the garment image and on the pose, one class per category.

Each fit maps the garment's shoulder (or waist) line onto the body's, scaled so the garment's width matches
the body's width with some ease, and oriented along the body's axis (shoulders -> hips). With the hips
visible an upper garment is warped with a perspective transform (4 points: shoulders and hips), so a leaning
torso is followed; otherwise an affine transform keeps the garment's own proportions. Sleeves are rotated
about the shoulders to follow the upper arms when the elbows are visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from ar_tryon.errors import NoBodyError
from ar_tryon.landmarks.types import PoseIndex as P
from ar_tryon.landmarks.types import PoseLandmarks

__all__ = ["GarmentCategory", "GarmentAnchors", "Placement", "UpperFit", "LowerFit", "DressFit", "fit_for"]


class GarmentCategory(StrEnum):
    UPPER = "upper"
    LOWER = "lower"
    DRESS = "dress"


@dataclass(frozen=True)
class GarmentAnchors:
    """Measured on the garment's alpha: the body part's columns (no sleeves) and its top/bottom rows."""

    left: float  # image-left edge of the body part
    right: float
    top: float
    bottom: float
    sleeve_rows: tuple[float, float] | None  # rows spanned by the sleeves, if any

    @classmethod
    def measure(cls, alpha: np.ndarray) -> GarmentAnchors:
        rows = np.flatnonzero((alpha > 127).any(axis=1))
        cols = np.flatnonzero((alpha > 127).any(axis=0))
        top, bottom = float(rows[0]), float(rows[-1] + 1)
        x0, x1 = float(cols[0]), float(cols[-1] + 1)
        # The body part's width is the alpha's width near the hem (below any sleeves).
        hem = alpha[int(top + 0.8 * (bottom - top))] > 127
        hem_cols = np.flatnonzero(hem)
        left, right = (float(hem_cols[0]), float(hem_cols[-1] + 1)) if hem_cols.size else (x0, x1)
        sleeves = None
        if (left - x0) > 0.08 * (x1 - x0) or (x1 - right) > 0.08 * (x1 - x0):
            outside = (alpha[:, : int(left)] > 127).any(axis=1) | (alpha[:, int(right) :] > 127).any(axis=1)
            srows = np.flatnonzero(outside)
            sleeves = (float(srows[0]), float(srows[-1] + 1)) if srows.size else None
        return cls(left, right, top, bottom, sleeves)


@dataclass(frozen=True)
class Placement:
    """`matrix` maps garment pixels to frame pixels (3x3; affine when the last row is 0 0 1).

    `sleeves` are extra 2x3 affine maps for the garment's (image-left, image-right) sleeve pieces, or None.
    """

    matrix: np.ndarray
    scale: float
    sleeves: tuple[np.ndarray | None, np.ndarray | None] = (None, None)


def _need(pose: PoseLandmarks, indices: tuple[int, ...], what: str, threshold: float = 0.5) -> None:
    if not all(pose.visible(i, threshold) for i in indices):
        raise NoBodyError(f"image: the {what} are not visible; use a photo showing them", "image")


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 rotation+scale+translation taking the 2 `src` points onto the 2 `dst` points."""
    vs, vd = src[1] - src[0], dst[1] - dst[0]
    s = np.linalg.norm(vd) / max(np.linalg.norm(vs), 1e-6)
    ang = np.arctan2(vd[1], vd[0]) - np.arctan2(vs[1], vs[0])
    c, si = s * np.cos(ang), s * np.sin(ang)
    rot = np.array([[c, -si], [si, c]])
    t = dst[0] - rot @ src[0]
    return np.column_stack([rot, t]).astype(np.float64)


def _to3(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0.0, 0.0, 1.0]])


def _image_order(pose: PoseLandmarks, right: int, left: int) -> tuple[int, int]:
    """(image-left, image-right) of a left/right landmark pair, so mirrored selfies are not flipped.

    The body's "down" (the pair's direction turned +90 degrees) must point away from the nose.
    """
    a, b = pose.xy(right), pose.xy(left)
    d = b - a
    down = np.array([-d[1], d[0]])
    ref = pose.xy(P.NOSE) if pose.visible(P.NOSE) else (a + b) / 2 - np.array([0.0, 1.0])
    return (right, left) if float(down @ ((a + b) / 2 - ref)) >= 0 else (left, right)


class UpperFit:
    """Tops: garment shoulder line onto the body's shoulders x `ease`, hem at the hips."""

    ease = 1.3  # shoulder joints sit inside the body outline; clothes are wider still

    def place(self, pose: PoseLandmarks, a: GarmentAnchors) -> Placement:
        _need(pose, (P.RIGHT_SHOULDER, P.LEFT_SHOULDER), "shoulders")
        first, second = _image_order(pose, P.RIGHT_SHOULDER, P.LEFT_SHOULDER)
        a0, a1 = pose.xy(first).astype(np.float64), pose.xy(second).astype(np.float64)
        mid, half = (a0 + a1) / 2, (a1 - a0) / 2 * self.ease
        top_y = a.top + 0.04 * (a.bottom - a.top)  # the shoulder seam sits a little below the collar top
        src = np.array([[a.left, top_y], [a.right, top_y]])
        dst = np.array([mid - half, mid + half])
        affine = _similarity(src, dst)
        scale = float(np.hypot(*affine[:, 0]))
        matrix = _to3(affine)
        if pose.visible(P.LEFT_HIP) and pose.visible(P.RIGHT_HIP):
            matrix = self._perspective(pose, a, dst, matrix)
        return Placement(matrix, scale, self._sleeves(pose, a, affine, scale))

    def _perspective(self, pose: PoseLandmarks, a: GarmentAnchors, top: np.ndarray, fallback: np.ndarray):
        import cv2

        first, second = _image_order(pose, P.RIGHT_HIP, P.LEFT_HIP)
        hr, hl = pose.xy(first).astype(np.float64), pose.xy(second).astype(np.float64)
        hmid, hhalf = (hr + hl) / 2, (hl - hr) / 2 * self.ease * 1.15
        top_y = a.top + 0.04 * (a.bottom - a.top)
        src = np.float32([[a.left, top_y], [a.right, top_y], [a.right, a.bottom], [a.left, a.bottom]])
        dst = np.float32([top[0], top[1], hmid + hhalf, hmid - hhalf])
        smid, width = (top[0] + top[1]) / 2, float(np.linalg.norm(top[1] - top[0])) / self.ease
        # Hips guessed by the pose model can be implausible (above the shoulders, or a squashed torso when
        # the photo ends at the chest): a torso is at least ~1x the shoulder-joint distance long.
        if np.cross(top[1] - top[0], (hmid - hhalf) - top[0]) <= 0 or np.linalg.norm(hmid - smid) < 1.0 * width:
            return fallback
        return cv2.getPerspectiveTransform(src, dst).astype(np.float64)

    def _sleeves(self, pose: PoseLandmarks, a: GarmentAnchors, affine: np.ndarray, scale: float):
        if a.sleeve_rows is None:
            return (None, None)
        out: list[np.ndarray | None] = []
        elbow_of = {P.RIGHT_SHOULDER: P.RIGHT_ELBOW, P.LEFT_SHOULDER: P.LEFT_ELBOW}
        first, second = _image_order(pose, P.RIGHT_SHOULDER, P.LEFT_SHOULDER)
        pairs = ((a.left, first, elbow_of[first], -1.0), (a.right, second, elbow_of[second], 1.0))
        for x, shoulder, elbow, side in pairs:
            if not pose.visible(elbow):
                out.append(None)
                continue
            pivot_g = np.array([x, a.sleeve_rows[0] + 0.02 * (a.bottom - a.top)])
            pivot_f = affine @ np.append(pivot_g, 1.0)
            # Garment sleeve direction: out and down at ~45 degrees in a flat lay; arm direction from the pose.
            sleeve_dir_g = np.array([side, 1.0]) / np.sqrt(2)
            arm = pose.xy(elbow) - pose.xy(shoulder)
            if np.linalg.norm(arm) < 1:
                out.append(None)
                continue
            arm_f = arm / np.linalg.norm(arm)
            sleeve_dir_f = affine[:, :2] @ sleeve_dir_g
            ang = np.arctan2(arm_f[1], arm_f[0]) - np.arctan2(sleeve_dir_f[1], sleeve_dir_f[0])
            rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
            lin = rot @ affine[:, :2]
            out.append(np.column_stack([lin, pivot_f - lin @ pivot_g]))
        return tuple(out)  # type: ignore[return-value]


class DressFit(UpperFit):
    """Dresses: like tops (shoulders, sleeves), but the garment's own length is kept (no hem-to-hips warp)."""

    def _perspective(self, pose, a, top, fallback):
        return fallback


class LowerFit:
    """Trousers and skirts: the garment's waist onto the hips x `ease`, length in the garment's proportions."""

    ease = 1.6  # hip joints are well inside the hip outline

    def place(self, pose: PoseLandmarks, a: GarmentAnchors) -> Placement:
        _need(pose, (P.RIGHT_HIP, P.LEFT_HIP), "hips")
        first, second = _image_order(pose, P.RIGHT_HIP, P.LEFT_HIP)
        a0, a1 = pose.xy(first).astype(np.float64), pose.xy(second).astype(np.float64)
        mid, half = (a0 + a1) / 2, (a1 - a0) / 2 * self.ease
        # The waistband sits a little above the hip joints.
        lift = np.array([half[1], -half[0]]) * 0.35
        if lift[1] > 0:
            lift = -lift
        src = np.array([[a.left, a.top], [a.right, a.top]])
        affine = _similarity(src, np.array([mid - half + lift, mid + half + lift]))
        return Placement(_to3(affine), float(np.hypot(*affine[:, 0])))


def fit_for(category: GarmentCategory) -> UpperFit | LowerFit:
    return {GarmentCategory.UPPER: UpperFit, GarmentCategory.LOWER: LowerFit, GarmentCategory.DRESS: DressFit}[
        category
    ]()
