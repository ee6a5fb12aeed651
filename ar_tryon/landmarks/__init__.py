"""Landmark wrappers in the mediapipe style: options dataclass, factory, `process_image` / `process_frame`."""

from ar_tryon.landmarks.face import FaceLandmarker, FaceLandmarkerOptions
from ar_tryon.landmarks.pose import PoseLandmarker, PoseLandmarkerOptions
from ar_tryon.landmarks.segmentation import SegmenterOptions, SelfieSegmenter
from ar_tryon.landmarks.types import FaceLandmarks, PoseIndex, PoseLandmarks

__all__ = [
    "FaceLandmarker",
    "FaceLandmarkerOptions",
    "FaceLandmarks",
    "PoseIndex",
    "PoseLandmarker",
    "PoseLandmarkerOptions",
    "PoseLandmarks",
    "SegmenterOptions",
    "SelfieSegmenter",
]
