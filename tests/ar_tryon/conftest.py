"""Real photos for try-on tests: skimage's astronaut and transformed variants, plus shared landmarkers.

mediapipe graphs take tens of ms to build; the ones shared here are session-scoped to keep the suite fast.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data


def astronaut() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut())


def place(rgb: np.ndarray, width: int, height: int, scale: float = 1.0) -> tuple[np.ndarray, tuple[int, int]]:
    """`rgb` scaled and pasted in the middle of a grey frame; returns the frame and the paste offset."""
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale != 1 else rgb
    frame = np.full((height, width, 3), 90, np.uint8)
    y, x = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
    frame[y : y + small.shape[0], x : x + small.shape[1]] = small
    return frame, (x, y)


def rotate(rgb: np.ndarray, degrees: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def brightness(rgb: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * factor, 0, 255).astype(np.uint8)


#: name -> builder of a photo variant; each must still show one face the pipeline finds.
VARIANTS = {
    "original": lambda img: img,
    "half_scale": lambda img: cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
    "double_scale": lambda img: cv2.resize(img, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC),
    "rotated_15": lambda img: rotate(img, 15),
    "darker": lambda img: brightness(img, 0.6),
    "brighter": lambda img: brightness(img, 1.3),
    "mirrored": lambda img: np.ascontiguousarray(img[:, ::-1]),
    "small_in_720p": lambda img: place(img, 1280, 720)[0],
    "small_in_1080p": lambda img: place(img, 1920, 1080, 0.8)[0],
}


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    return astronaut()


@pytest.fixture(scope="session")
def photo_makeup():
    from ar_tryon.pipeline import PhotoMakeup

    with PhotoMakeup() as pipeline:
        yield pipeline


@pytest.fixture(scope="session")
def catalog():
    from ar_tryon.shades import default_catalog

    return default_catalog()
