"""Makeup pipelines: `PhotoMakeup` for still images and `VideoMakeup` for a stream (tracked + smoothed).

Each `process()` reads as steps: check inputs, find landmarks, render on a copy, return before/after.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ar_tryon.errors import NoFaceError, TryOnError
from ar_tryon.landmarks.face import FaceLandmarker, FaceLandmarkerOptions
from ar_tryon.landmarks.types import FaceLandmarks
from ar_tryon.makeup.look import Look, apply_look
from ar_tryon.makeup.regions import Region

__all__ = ["MakeupResult", "PhotoMakeup", "VideoMakeup", "check_rgb"]


@dataclass
class MakeupResult:
    """`before` is the input, `image` the made-up copy; `faces` largest first; `regions` masks per product."""

    before: np.ndarray
    image: np.ndarray
    faces: list[FaceLandmarks]
    regions: dict[str, list[Region]] = field(default_factory=dict)

    def side_by_side(self) -> np.ndarray:
        """Before | after, for previews."""
        return np.hstack([self.before, self.image])


def check_rgb(rgb: np.ndarray, param: str = "image") -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise TryOnError(f"{param}: expected an HxWx3 uint8 RGB array, got {getattr(rgb, 'shape', type(rgb))}", param)


class PhotoMakeup:
    """Makeup on a photo. Owns a `FaceLandmarker` unless one is given; not thread-safe."""

    def __init__(self, landmarker: FaceLandmarker | None = None) -> None:
        self.landmarker = landmarker or FaceLandmarker(FaceLandmarkerOptions(max_num_faces=8, smoothing=None))

    def process(self, rgb: np.ndarray, look: Look, all_faces: bool = False) -> MakeupResult:
        """Apply `look` to the largest face (or every face with `all_faces`).

        Raises:
            NoFaceError: no face in the photo (param `image`).
        """
        check_rgb(rgb)
        faces = self.landmarker.process_image(rgb, max_faces=None if all_faces else 1)
        if not faces:
            raise NoFaceError(
                "image: no face found; use a well-lit, front-facing photo where the face is at least ~40 px wide",
                "image",
            )
        image = rgb.copy()
        regions = apply_look(image, faces, look)
        return MakeupResult(before=rgb, image=image, faces=faces, regions=regions)

    def close(self) -> None:
        self.landmarker.close()

    def __enter__(self) -> PhotoMakeup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoMakeup:
    """Makeup on a stream: faces tracked between frames and smoothed; a frame with no face is returned as is."""

    def __init__(self, options: FaceLandmarkerOptions | None = None) -> None:
        self.landmarker = FaceLandmarker(options or FaceLandmarkerOptions())

    def process(
        self, rgb: np.ndarray, look: Look, timestamp_s: float | None = None, in_place: bool = False
    ) -> MakeupResult:
        """Render one frame. With `in_place` the frame itself is painted (no copy; `before` is then the same array)."""
        check_rgb(rgb, "frame")
        faces = self.landmarker.process_frame(rgb, timestamp_s)
        image = rgb if in_place else rgb.copy()
        regions = apply_look(image, faces, look) if faces else {}
        return MakeupResult(before=rgb, image=image, faces=faces, regions=regions)

    def close(self) -> None:
        self.landmarker.close()

    def __enter__(self) -> VideoMakeup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
