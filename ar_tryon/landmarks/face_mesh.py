"""A thin wrapper over one mediapipe FaceMesh graph that reads a crop and answers in frame pixels.

The legacy FaceMesh graph letterboxes its input to a square and uses the short-range detector, so a small
face in a 1280x720 frame is never found. Running it on a crop of about twice the face box (found by the
full-range detector, or by the previous frame's landmarks) fixes that and is also faster: the graph's work
no longer depends on the frame size.
"""

from __future__ import annotations

import cv2
import mediapipe as mp
import numpy as np

__all__ = ["CropMesh", "square_crop_box"]


def square_crop_box(cx: float, cy: float, side: float, width: int, height: int) -> tuple[int, int, int, int]:
    """A square box centred on (cx, cy), clipped to the frame: (x0, y0, x1, y1) integer pixels."""
    half = side / 2.0
    x0, y0 = max(0, int(round(cx - half))), max(0, int(round(cy - half)))
    x1, y1 = min(width, int(round(cx + half))), min(height, int(round(cy + half)))
    return x0, y0, x1, y1


class CropMesh:
    """One FaceMesh graph (one face). In video mode it keeps mediapipe's own tracking state between calls."""

    def __init__(
        self,
        video: bool,
        refine_landmarks: bool,
        min_detection_confidence: float,
        min_tracking_confidence: float,
        max_crop_side: int,
    ) -> None:
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=not video,
            max_num_faces=1,
            refine_landmarks=refine_landmarks,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )
        self.max_crop_side = max_crop_side

    def close(self) -> None:
        self._mesh.close()

    def run(self, rgb: np.ndarray, crop: tuple[int, int, int, int]) -> np.ndarray | None:
        """Landmarks (N, 3) in frame pixels of the face in `rgb[crop]`, or None when the graph finds none."""
        h, w = rgb.shape[:2]
        x0, y0, x1, y1 = max(0, crop[0]), max(0, crop[1]), min(w, crop[2]), min(h, crop[3])
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        patch = rgb[y0:y1, x0:x1]
        side = max(x1 - x0, y1 - y0)
        if side > self.max_crop_side:  # the graph reads 192x192 anyway: shrink big crops before copying
            f = self.max_crop_side / side
            patch = cv2.resize(
                patch, (max(1, round((x1 - x0) * f)), max(1, round((y1 - y0) * f))), interpolation=cv2.INTER_AREA
            )
        else:
            patch = np.ascontiguousarray(patch)
        result = self._mesh.process(patch)
        if not result.multi_face_landmarks:
            return None
        lm = result.multi_face_landmarks[0].landmark
        norm = np.array([(p.x, p.y, p.z) for p in lm], dtype=np.float32)
        w, h = float(x1 - x0), float(y1 - y0)
        out = np.empty_like(norm)
        out[:, 0] = x0 + norm[:, 0] * w
        out[:, 1] = y0 + norm[:, 1] * h
        out[:, 2] = norm[:, 2] * w
        return out
