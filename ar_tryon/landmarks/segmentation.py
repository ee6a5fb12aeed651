"""Person segmentation (mediapipe SelfieSegmentation): which pixels are the person, as a soft mask."""

from __future__ import annotations

from dataclasses import dataclass

import mediapipe as mp
import numpy as np

__all__ = ["SegmenterOptions", "SelfieSegmenter"]


@dataclass(frozen=True)
class SegmenterOptions:
    """Options.

    Attributes:
        model_selection: 0 (general, 256x256 input, better for people further away) or 1 (landscape, faster).
    """

    model_selection: int = 0

    def __post_init__(self) -> None:
        if self.model_selection not in (0, 1):
            raise ValueError(f"SegmenterOptions.model_selection must be 0 or 1, got {self.model_selection}")


class SelfieSegmenter:
    """`process_image` / `process_frame` -> HxW float32 mask in [0, 1] (1 = person). Not thread-safe."""

    def __init__(self, options: SegmenterOptions | None = None) -> None:
        self.options = options or SegmenterOptions()
        self._graph = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=self.options.model_selection)

    @classmethod
    def create_from_options(cls, options: SegmenterOptions | None = None) -> SelfieSegmenter:
        return cls(options)

    def process_image(self, rgb: np.ndarray) -> np.ndarray:
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"rgb must be an HxWx3 uint8 array, got {getattr(rgb, 'shape', type(rgb))}")
        return np.asarray(self._graph.process(rgb).segmentation_mask, dtype=np.float32)

    # The graph has no tracking state, so a frame is processed like a photo.
    process_frame = process_image

    def close(self) -> None:
        self._graph.close()

    def __enter__(self) -> SelfieSegmenter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
