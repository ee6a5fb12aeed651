"""`FlatGarmentTryOn`: the first renderer, kept as the benchmarks' baseline. The whole garment is pasted flat
with one map (sleeves only turned about the shoulders), with no shading; `GarmentTryOn` replaced it."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ar_tryon.errors import NoBodyError
from ar_tryon.garment.fit import GarmentAnchors, GarmentCategory, Placement, fit_for
from ar_tryon.garment.occlusion import occluder_mask
from ar_tryon.landmarks.pose import PoseLandmarker, PoseLandmarkerOptions
from ar_tryon.landmarks.segmentation import SelfieSegmenter
from ar_tryon.landmarks.types import PoseLandmarks

__all__ = ["FlatGarmentResult", "FlatGarmentTryOn"]


@dataclass
class FlatGarmentResult:
    """`coverage` is the garment's final alpha (uint8 HxW) after occluders; `occluders` what stayed in front."""

    before: np.ndarray
    image: np.ndarray
    pose: PoseLandmarks
    coverage: np.ndarray
    occluders: np.ndarray
    placement: Placement

    def side_by_side(self) -> np.ndarray:
        return np.hstack([self.before, self.image])


def _warp(rgba: np.ndarray, matrix: np.ndarray, size: tuple[int, int], keep: np.ndarray | None = None) -> np.ndarray:
    """Warp RGBA into a frame of `size` (w, h); `keep` limits alpha to a garment-space mask (sleeve pieces)."""
    if keep is not None:
        rgba = rgba.copy()
        rgba[..., 3] = cv2.min(rgba[..., 3], keep)
    flags = cv2.INTER_LINEAR
    if matrix.shape == (3, 3) and not np.allclose(matrix[2], [0, 0, 1]):
        return cv2.warpPerspective(rgba, matrix, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.warpAffine(rgba, matrix[:2], size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


class FlatGarmentTryOn:
    """The flat baseline. Owns its pose and segmentation graphs; not thread-safe."""

    #: The bundled mediapipe models this runs (file names in the mediapipe wheel).
    MODELS = ("pose_detection", "pose_landmark_full", "selfie_segmentation")

    def __init__(self, pose: PoseLandmarker | None = None, segmenter: SelfieSegmenter | None = None) -> None:
        self.pose = pose or PoseLandmarker(PoseLandmarkerOptions(model_complexity=1))
        self.segmenter = segmenter or SelfieSegmenter()

    def process(self, rgb: np.ndarray, garment: np.ndarray, category: GarmentCategory | str) -> FlatGarmentResult:
        """Dress the person in `rgb` with `garment` (HxWx4 RGBA, see `garment_rgba`).

        Raises:
            NoBodyError: no person, or the landmarks this category needs are not visible (param `image`).
            ValueError: a bad garment array or category.
        """
        # 1. check inputs
        category = GarmentCategory(category)
        if garment.ndim != 3 or garment.shape[2] != 4 or garment.dtype != np.uint8:
            raise ValueError(f"garment must be HxWx4 uint8 RGBA, got {garment.shape}")
        # 2. landmarks
        pose = self.pose.process_image(rgb)
        if pose is None:
            raise NoBodyError("image: no person found; use a photo showing the upper body, facing the camera", "image")
        person = self.segmenter.process_image(rgb)
        # 3. place
        anchors = GarmentAnchors.measure(garment[..., 3])
        placement = fit_for(category).place(pose, anchors)
        # 4. warp: body part, then sleeve pieces rotated to follow the arms
        h, w = rgb.shape[:2]
        layer = self._layers(garment, anchors, placement, (w, h))
        # 5. composite, occluders in front
        occluders = occluder_mask(rgb, person, pose)
        alpha = cv2.multiply(layer[..., 3], cv2.bitwise_not(occluders), scale=1 / 255)
        out = rgb.astype(np.uint16) * (255 - alpha[..., None]) + layer[..., :3].astype(np.uint16) * alpha[..., None]
        image = ((out + 127) // 255).astype(np.uint8)
        return FlatGarmentResult(rgb, image, pose, alpha, occluders, placement)

    @staticmethod
    def _layers(garment: np.ndarray, a: GarmentAnchors, placement: Placement, size: tuple[int, int]) -> np.ndarray:
        gh, gw = garment.shape[:2]
        if all(m is None for m in placement.sleeves):
            return _warp(garment, placement.matrix, size)
        body = np.zeros((gh, gw), np.uint8)
        body[:, int(a.left) : int(np.ceil(a.right))] = 255
        left = np.zeros_like(body)
        left[:, : int(a.left)] = 255
        right = np.zeros_like(body)
        right[:, int(np.ceil(a.right)) :] = 255
        pieces = [
            (placement.matrix if m is None else m, keep)
            for m, keep in zip(placement.sleeves, (left, right), strict=True)
        ]
        pieces.append((placement.matrix, body))  # body last: its seams lie over the sleeves
        layer = np.zeros((size[1], size[0], 4), np.uint8)
        for matrix, keep in pieces:
            piece = _warp(garment, matrix, size, keep)
            a_new = piece[..., 3:4].astype(np.uint16)
            layer[..., :3] = ((layer[..., :3] * (255 - a_new) + piece[..., :3] * a_new + 127) // 255).astype(np.uint8)
            layer[..., 3] = np.maximum(layer[..., 3], piece[..., 3])
        return layer

    def close(self) -> None:
        self.pose.close()
        self.segmenter.close()

    def __enter__(self) -> FlatGarmentTryOn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
