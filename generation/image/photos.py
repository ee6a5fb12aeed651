"""Photo arrays the composer accepts, checked with errors naming the field.

Bytes are decoded by `common.images.decode_image` (bomb-checked before decoding, corrupt or truncated files
refused); this checks what reaches the composer as arrays: uint8, grey / RGB / RGBA, at most `MAX_PIXELS`
(40 MP), at least `MIN_SIDE` px a side (a smaller photo cannot fill a cover), an aspect ratio of at most
`MAX_ASPECT`.
"""

from __future__ import annotations

import numpy as np

from common.errors import InputError
from common.images import MAX_PIXELS

__all__ = ["check_photo", "MAX_PIXELS", "MIN_SIDE", "MAX_ASPECT"]

MIN_SIDE = 64
MAX_ASPECT = 8.0


def check_photo(photo: np.ndarray, param: str = "photo") -> np.ndarray:
    """A photo array as H x W x 3 (RGB) or x 4 (RGBA) uint8; grey H x W becomes RGB.

    Raises:
        InputError: (naming `param`) not a uint8 image array, or outside the size limits.
    """
    if not isinstance(photo, np.ndarray):
        raise InputError(f"{param}: expected an image array, got {type(photo).__name__}", param)
    if photo.dtype != np.uint8:
        raise InputError(f"{param}: expected uint8 pixels, got {photo.dtype}", param)
    if photo.ndim == 2:
        photo = np.repeat(photo[..., None], 3, axis=2)
    if photo.ndim != 3 or photo.shape[2] not in (3, 4):
        raise InputError(f"{param}: expected H x W x 3 (RGB) or H x W x 4 (RGBA), got shape {photo.shape}", param)
    height, width = photo.shape[:2]
    if width * height > MAX_PIXELS:
        raise InputError(f"{param}: {width}x{height} is more than {MAX_PIXELS // 1_000_000} MP", param, status=413)
    if min(width, height) < MIN_SIDE:
        raise InputError(f"{param}: {width}x{height} is too small, at least {MIN_SIDE} px a side is needed", param)
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise InputError(f"{param}: {width}x{height} is too narrow (aspect ratio above {MAX_ASPECT:g}:1)", param)
    return photo
