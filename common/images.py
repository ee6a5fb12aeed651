"""Image bytes in and out for every capability: decode with a pixel limit checked before decoding, encode
PNG/JPEG.

Two limits, both read from image headers before any pixel is decoded, both a 413 naming the image: each image
at most `MAX_PIXELS`, and every image of one request together at most that request's `PixelBudget` (the
serving layer starts one per image request with `start_pixel_budget`; `check_pixels` tests a whole request's
images up front, and `decode_image` charges what it decodes).

Inputs may be PNG, JPEG, WebP (or anything Pillow reads), grayscale, RGB or RGBA, 8 or 16 bit. Capabilities
work on RGB uint8; an alpha channel is kept aside and re-attached to the output so transparent cut-outs stay
transparent. Errors are `InputError`s naming the field (413 for a decompression bomb).
"""

from __future__ import annotations

import base64
import binascii
import io
import threading
import warnings
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from common.errors import InputError

__all__ = [
    "DecodedImage",
    "decode_image",
    "image_size",
    "check_pixels",
    "PixelBudget",
    "start_pixel_budget",
    "decode_base64",
    "encode_image",
    "ImageError",
    "ImageTooLargeError",
    "MAX_PIXELS",
    "MAX_REQUEST_PIXELS",
    "MAX_IMAGE_BYTES",
    "MIN_SIDE",
]


class ImageError(InputError):
    """The bytes are empty, corrupt or not an image format we read (PNG, JPEG, WebP, BMP, TIFF)."""


class ImageTooLargeError(ImageError):
    """The image has more pixels than the configured limit (a decompression bomb must not be decoded)."""

    status = 413
    type = "payload_too_large"


#: Default pixel limit (40 MP): larger uploads are refused before their pixels are decoded.
MAX_PIXELS = 40_000_000
#: Default pixel budget of one request: its images summed (`NOTESTUDIO_MAX_REQUEST_PIXELS`).
MAX_REQUEST_PIXELS = 80_000_000
#: Largest encoded image accepted inside a JSON body (base64).
MAX_IMAGE_BYTES = 10 * 1024 * 1024
#: Smaller images hold nothing a capability can use (a face, a product).
MIN_SIDE = 16


@dataclass(frozen=True)
class DecodedImage:
    """`rgb` is HxWx3 uint8 (C-contiguous); `alpha` is HxW uint8 or None."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None

    def with_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """The output image: `rgb` plus the original alpha, if there was one."""
        if self.alpha is None:
            return rgb
        return np.dstack([rgb, self.alpha])


class PixelBudget:
    """The pixels one request may still decode, shared by the threads that work for it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def check(self, pixels: int, param: str) -> None:
        """Raise `ImageTooLargeError` naming `param` if `pixels` more would exceed the budget."""
        if self.used + pixels > self.limit:
            raise ImageTooLargeError(
                f"{param}: the request's images add up to {(self.used + pixels) / 1e6:.1f} MP, above the "
                f"{self.limit / 1e6:g} MP per-request limit (NOTESTUDIO_MAX_REQUEST_PIXELS)",
                param,
            )

    def charge(self, pixels: int, param: str) -> None:
        """Spend `pixels` (an image about to be decoded), or raise as `check` does."""
        with self._lock:
            self.check(pixels, param)
            self.used += pixels


#: The current request's budget. Worker threads started with `anyio.to_thread` / Starlette's threadpool
#: copy the context, so they charge the same object.
_BUDGET: ContextVar[PixelBudget | None] = ContextVar("notestudio_pixel_budget", default=None)


def start_pixel_budget(limit: int) -> PixelBudget:
    """Give the current request (its context and the threads it starts from now on) a fresh budget."""
    budget = PixelBudget(limit)
    _BUDGET.set(budget)
    return budget


def _too_large(param: str, width: int, height: int, max_pixels: int) -> ImageTooLargeError:
    return ImageTooLargeError(
        f"{param}: {width}x{height} is {width * height / 1e6:.1f} MP, above the {max_pixels / 1e6:g} MP limit", param
    )


def _bomb(param: str, max_pixels: int) -> ImageTooLargeError:
    # PIL refuses to even open images above 2 x Image.MAX_IMAGE_PIXELS: the same limit, the same answer.
    return ImageTooLargeError(f"{param}: the image is far above the {max_pixels / 1e6:g} MP limit", param)


def image_size(data: bytes, param: str = "image", max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(width, height) from the header alone: no pixel is decoded.

    Raises:
        ImageError: empty or not an image format we read.
        ImageTooLargeError: more than `max_pixels` pixels.
    """
    if not data:
        raise ImageError(f"{param}: the file is empty", param)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        raise _bomb(param, max_pixels) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        reason = "unknown or unsupported format" if isinstance(exc, UnidentifiedImageError) else str(exc)
        raise ImageError(f"{param}: not a readable image (PNG, JPEG or WebP expected): {reason}", param) from None
    if width * height > max_pixels:
        raise _too_large(param, width, height, max_pixels)
    return width, height


def check_pixels(images: Iterable[tuple[str, bytes]], max_pixels: int = MAX_PIXELS, spend: bool = False) -> int:
    """Read the header of every `(param, data)` of a request before any is decoded: each image at most
    `max_pixels`, and together within the current request's budget (if one was started). Spends nothing unless
    `spend` (callers that decode with something other than `decode_image`, which charges each image as it
    decodes it). Returns the pixels counted.

    Raises:
        ImageError: an image is empty or unreadable.
        ImageTooLargeError: an image above `max_pixels`, or the image at which the sum crosses the budget.
    """
    budget = _BUDGET.get()
    total, last = 0, ""
    for param, data in images:
        width, height = image_size(data, param, max_pixels)
        total, last = total + width * height, param
        if budget is not None:
            budget.check(total, param)
    if spend and budget is not None and total:
        budget.charge(total, last)
    return total


def decode_image(data: bytes, param: str = "image", max_pixels: int = MAX_PIXELS) -> DecodedImage:
    """Decode image bytes into RGB uint8 (+ alpha).

    Args:
        data: the file's bytes.
        param: the argument name to put in errors (the HTTP form field or CLI option).
        max_pixels: refuse images with more pixels than this; checked from the header, before decoding.

    Raises:
        ImageError: empty, corrupt, unsupported or too small.
        ImageTooLargeError: more than `max_pixels` pixels, or more than the current request's budget has left
            (charged from the header, before decoding).
    """
    if not data:
        raise ImageError(f"{param}: the file is empty", param)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise _too_large(param, width, height, max_pixels)
            budget = _BUDGET.get()
            if budget is not None:
                budget.charge(width * height, param)
            image.load()
            image = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError:
        raise _bomb(param, max_pixels) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, ImageTooLargeError):
            raise
        # PIL's message for an unknown format names an internal buffer object: say what matters instead.
        reason = "unknown or unsupported format" if isinstance(exc, UnidentifiedImageError) else str(exc)
        raise ImageError(f"{param}: not a readable image (PNG, JPEG or WebP expected): {reason}", param) from None
    if min(image.size) < MIN_SIDE:
        raise ImageError(f"{param}: {image.size[0]}x{image.size[1]} is too small (min side {MIN_SIDE} px)", param)
    alpha = None
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA"))
        rgb, alpha = np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    elif image.mode.startswith("I;16") or image.mode == "I":
        wide = np.asarray(image, dtype=np.float32)
        gray = np.clip(wide / max(float(wide.max()), 1.0) * 255.0, 0, 255).astype(np.uint8)
        rgb = np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))
    else:
        rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
    return DecodedImage(rgb=rgb, alpha=alpha)


def encode_image(image: np.ndarray, fmt: str = "png", quality: int = 90) -> bytes:
    """Encode RGB or RGBA uint8 as PNG (lossless, keeps alpha) or JPEG (fast, for webcam frames)."""
    if fmt not in ("png", "jpeg"):
        raise ValueError(f"fmt: expected 'png' or 'jpeg', got {fmt!r}")
    if image.ndim == 3 and image.shape[2] == 4:
        if fmt == "jpeg":
            image = image[..., :3]
        else:
            ok, buf = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA))
            return buf.tobytes()
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if fmt == "png":
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    else:
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("could not encode the image")
    return buf.tobytes()


def decode_base64(value: str, param: str, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """base64 or a `data:` URI -> the file's bytes (not yet decoded as an image); URLs are refused.

    Raises:
        ImageError: not base64, or a URL (this service fetches nothing); ImageTooLargeError above `max_bytes`.
    """
    if not isinstance(value, str):
        raise ImageError(f"{param}: expected a base64 string", param)
    if value.startswith(("http://", "https://")):
        raise ImageError(f"{param}: image URLs are not fetched by this service; send the image as base64", param)
    payload = value.split(",", 1)[1] if value.startswith("data:") else value
    if len(payload) > max_bytes * 4 // 3 + 4:
        raise ImageTooLargeError(f"{param}: image is larger than {max_bytes} bytes", param)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError(f"{param}: image is not valid base64", param) from None
