"""Typed landmark results, in pixel coordinates of the image that was passed in."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FaceLandmarks", "PoseLandmarks", "PoseIndex"]


@dataclass(frozen=True)
class FaceLandmarks:
    """One face.

    Attributes:
        points: (478, 3) float32: x, y in pixels; z relative depth in pixels (negative = towards the camera).
        score: detection confidence in [0, 1] (1.0 when the face was tracked rather than detected).
    """

    points: np.ndarray
    score: float = 1.0

    @property
    def xy(self) -> np.ndarray:
        return self.points[:, :2]

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the landmarks."""
        x0, y0 = self.points[:, :2].min(axis=0)
        x1, y1 = self.points[:, :2].max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def width(self) -> float:
        x0, _, x1, _ = self.box
        return x1 - x0

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return (x1 - x0) * (y1 - y0)

    def to_list(self, decimals: int = 1) -> list[list[float]]:
        return np.round(self.points, decimals).tolist()


class PoseIndex:
    """Indices of the 33 BlazePose landmarks that garments use (left/right are the person's own)."""

    NOSE = 0
    LEFT_EAR, RIGHT_EAR = 7, 8
    LEFT_SHOULDER, RIGHT_SHOULDER = 11, 12
    LEFT_ELBOW, RIGHT_ELBOW = 13, 14
    LEFT_WRIST, RIGHT_WRIST = 15, 16
    LEFT_HIP, RIGHT_HIP = 23, 24
    LEFT_KNEE, RIGHT_KNEE = 25, 26
    LEFT_ANKLE, RIGHT_ANKLE = 27, 28


@dataclass(frozen=True)
class PoseLandmarks:
    """One body.

    Attributes:
        points: (33, 3) float32: x, y in pixels, z relative depth in pixels.
        visibility: (33,) float32 in [0, 1]: how likely each landmark is visible (not occluded or outside).
    """

    points: np.ndarray
    visibility: np.ndarray

    def xy(self, index: int) -> np.ndarray:
        return self.points[index, :2]

    def visible(self, index: int, threshold: float = 0.5) -> bool:
        return bool(self.visibility[index] >= threshold)

    def to_list(self, decimals: int = 1) -> list[list[float]]:
        return np.round(np.column_stack([self.points, self.visibility]), decimals + 2).tolist()
