"""Body landmarks (mediapipe Pose, 33 BlazePose points with visibility) for garment placement."""

from __future__ import annotations

from dataclasses import dataclass

import mediapipe as mp
import numpy as np

from ar_tryon.landmarks.types import PoseLandmarks

__all__ = ["PoseLandmarkerOptions", "PoseLandmarker"]


@dataclass(frozen=True)
class PoseLandmarkerOptions:
    """Options (ranges are checked).

    Attributes:
        model_complexity: 0, 1 or 2. Higher is more accurate and slower (2 is ~3x the cost of 1).
        min_detection_confidence: [0, 1]. Person-detector score needed.
        min_tracking_confidence: [0, 1]. Landmark presence needed to keep tracking in video mode.
        smooth_landmarks: video mode only; mediapipe's own temporal filter.
    """

    model_complexity: int = 1
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    smooth_landmarks: bool = True

    def __post_init__(self) -> None:
        if self.model_complexity not in (0, 1, 2):
            raise ValueError(f"PoseLandmarkerOptions.model_complexity must be 0, 1 or 2, got {self.model_complexity}")
        for name in ("min_detection_confidence", "min_tracking_confidence"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"PoseLandmarkerOptions.{name} must be in [0, 1], got {getattr(self, name)}")


class PoseLandmarker:
    """One person's pose in photos (`process_image`) or a video stream (`process_frame`). Not thread-safe."""

    def __init__(self, options: PoseLandmarkerOptions | None = None) -> None:
        self.options = options or PoseLandmarkerOptions()
        self._graphs: dict[bool, mp.solutions.pose.Pose] = {}

    @classmethod
    def create_from_options(cls, options: PoseLandmarkerOptions | None = None) -> PoseLandmarker:
        return cls(options)

    def _graph(self, video: bool) -> mp.solutions.pose.Pose:
        if video not in self._graphs:
            o = self.options
            self._graphs[video] = mp.solutions.pose.Pose(
                static_image_mode=not video,
                model_complexity=o.model_complexity,
                smooth_landmarks=o.smooth_landmarks,
                min_detection_confidence=o.min_detection_confidence,
                min_tracking_confidence=o.min_tracking_confidence,
            )
        return self._graphs[video]

    def _run(self, rgb: np.ndarray, video: bool) -> PoseLandmarks | None:
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"rgb must be an HxWx3 uint8 array, got {getattr(rgb, 'shape', type(rgb))}")
        result = self._graph(video).process(rgb)
        if result.pose_landmarks is None:
            return None
        h, w = rgb.shape[:2]
        raw = np.array([(p.x, p.y, p.z, p.visibility) for p in result.pose_landmarks.landmark], dtype=np.float32)
        points = np.column_stack([raw[:, 0] * w, raw[:, 1] * h, raw[:, 2] * w]).astype(np.float32)
        return PoseLandmarks(points=points, visibility=raw[:, 3])

    def process_image(self, rgb: np.ndarray) -> PoseLandmarks | None:
        """The pose in a photo, or None when no person is found."""
        return self._run(rgb, video=False)

    def process_frame(self, rgb: np.ndarray) -> PoseLandmarks | None:
        """The pose in the next frame of a stream (tracked and smoothed by mediapipe)."""
        return self._run(rgb, video=True)

    def close(self) -> None:
        for graph in self._graphs.values():
            graph.close()
        self._graphs.clear()

    def __enter__(self) -> PoseLandmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
