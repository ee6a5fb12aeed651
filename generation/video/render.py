"""Frames of a slideshow, drawn straight in the encoder's pixel format (I420: yuv420p, BT.601 limited range).

Working in I420 instead of RGB halves the bytes every step touches (1.5 instead of 3 per pixel) and skips the
RGB -> YUV conversion of every frame: each photo is converted once, at the working scale its largest zoom needs,
and then every frame is one `cv2.warpAffine` per plane (sub-pixel exact, so slow pans do not shimmer), a
crossfade is one `cv2.addWeighted` over the whole buffer, and a caption is blended only over its own box.

A frame buffer is one (H * 3 / 2, W) uint8 array: Y rows, then U, then V, each chroma plane H/2 x W/2 stored
right after the one before — exactly what `av.VideoFrame.from_ndarray(..., format="yuv420p")` takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from generation.video.timeline import FIT_ZOOM, ZOOM, Motion

__all__ = ["I420", "to_i420", "Source", "CaptionLayer", "blank"]

_BACKDROP_DIM = 0.55  # a fitted photo's blurred backdrop is darkened to this share of its brightness


class I420:
    """Views of the three planes of an I420 buffer (no copies)."""

    def __init__(self, buffer: np.ndarray) -> None:
        self.buffer = buffer
        h = buffer.shape[0] * 2 // 3
        w = buffer.shape[1]
        flat = buffer.reshape(-1)  # a view: the buffer is contiguous
        n, q = h * w, h * w // 4
        self.y = flat[:n].reshape(h, w)
        self.u = flat[n : n + q].reshape(h // 2, w // 2)
        self.v = flat[n + q :].reshape(h // 2, w // 2)

    @property
    def planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.y, self.u, self.v


def blank(width: int, height: int) -> np.ndarray:
    return np.empty((height * 3 // 2, width), np.uint8)


def to_i420(rgb: np.ndarray) -> np.ndarray:
    """An even-sized RGB uint8 image as an I420 buffer (cropped by one pixel where a side is odd)."""
    h, w = rgb.shape[:2]
    rgb = np.ascontiguousarray(rgb[: h - h % 2, : w - w % 2, :3])
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)


def _cover_resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale to cover `size` and centre-crop."""
    w, h = size
    ih, iw = rgb.shape[:2]
    s = max(w / iw, h / ih)
    rw, rh = max(w, round(iw * s)), max(h, round(ih * s))
    scaled = cv2.resize(rgb, (rw, rh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    x, y = (rw - w) // 2, (rh - h) // 2
    return scaled[y : y + h, x : x + w]


@dataclass
class Source:
    """One photo ready to move: its I420 planes at the working scale, and (fitted photos) a static backdrop."""

    planes: I420
    scale: float  # working pixels per photo pixel
    size: tuple[int, int]  # the photo's (width, height)
    frame: tuple[int, int]
    backdrop: np.ndarray | None = None

    @classmethod
    def prepare(cls, rgb: np.ndarray, frame: tuple[int, int], motion: Motion) -> Source:
        """Convert once, at the smallest scale that still gives the largest zoom 1:1 pixels (never larger than
        the photo itself: a small photo is enlarged by the per-frame warp)."""
        h, w = rgb.shape[:2]
        fw, fh = frame
        if motion.mode == "fill":
            base = max(fw / w, fh / h) * ZOOM
        else:
            base = min(fw / w, fh / h) * FIT_ZOOM
        scale = min(1.0, base)
        work = rgb[..., :3]
        if scale < 1.0:
            size = (max(2, round(w * scale)), max(2, round(h * scale)))
            work = cv2.resize(np.ascontiguousarray(work), size, interpolation=cv2.INTER_AREA)
        planes = I420(to_i420(work))
        scale = work.shape[1] / w  # the scale actually applied (sizes are rounded)
        backdrop = None
        if motion.mode == "fit":
            small = _cover_resize(np.ascontiguousarray(rgb[..., :3]), (max(2, fw // 8), max(2, fh // 8)))
            small = cv2.GaussianBlur(small, (0, 0), max(2.0, fw / 8 / 40))
            dim = (small.astype(np.float32) * _BACKDROP_DIM).astype(np.uint8)
            backdrop = to_i420(cv2.resize(dim, (fw, fh), interpolation=cv2.INTER_LINEAR))
        return cls(planes, scale, (w, h), frame, backdrop)

    def matrix(self, centre_x: float, centre_y: float, zoom: float, mode: str) -> np.ndarray:
        """The affine map from working pixels to frame pixels for a window centred on a photo point."""
        w, h = self.size
        fw, fh = self.frame
        base = max(fw / w, fh / h) if mode == "fill" else min(fw / w, fh / h)
        s = base * zoom / self.scale
        cx, cy = centre_x * self.scale, centre_y * self.scale
        return np.array([[s, 0.0, fw / 2 - s * cx], [0.0, s, fh / 2 - s * cy]], np.float64)

    def draw(self, out: I420, motion: Motion, progress: float) -> None:
        """Draw the photo at `progress` (0..1) of its motion into `out`."""
        cx, cy, zoom = motion.at(progress)
        m = self.matrix(cx, cy, zoom, motion.mode)
        half = m.copy()
        half[:, 2] /= 2
        if self.backdrop is not None:
            np.copyto(out.buffer, self.backdrop)
            border = cv2.BORDER_TRANSPARENT
        else:
            border = cv2.BORDER_REPLICATE  # a fill window never leaves the photo; replicate guards rounding
        fw, fh = self.frame
        x0, y0, x1, y1 = 0, 0, fw, fh
        if self.backdrop is not None:  # warp only where the photo lands: the rest is the backdrop already
            sh, sw = self.planes.y.shape
            x0 = max(0, int(m[0, 2]) // 2 * 2)
            y0 = max(0, int(m[1, 2]) // 2 * 2)
            x1 = min(fw, (int(m[0, 0] * sw + m[0, 2]) + 2) // 2 * 2)
            y1 = min(fh, (int(m[1, 1] * sh + m[1, 2]) + 2) // 2 * 2)
            if x1 <= x0 or y1 <= y0:
                return
            m[:, 2] -= (x0, y0)
            half = m.copy()
            half[:, 2] /= 2
        region = out.y[y0:y1, x0:x1]
        cv2.warpAffine(self.planes.y, m, (x1 - x0, y1 - y0), dst=region, flags=cv2.INTER_LINEAR, borderMode=border)
        for src, dst in ((self.planes.u, out.u), (self.planes.v, out.v)):
            region = dst[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2]
            size = ((x1 - x0) // 2, (y1 - y0) // 2)
            cv2.warpAffine(src, half, size, dst=region, flags=cv2.INTER_LINEAR, borderMode=border)


class CaptionLayer:
    """A caption (RGBA, drawn once) as I420 planes plus alpha at full and half resolution, blended over a box."""

    def __init__(self, rgba: np.ndarray, x: int, y: int) -> None:
        x, y = x - x % 2, y - y % 2
        h, w = rgba.shape[:2]
        h, w = h - h % 2, w - w % 2
        rgba = rgba[:h, :w]
        self.x, self.y, self.w, self.h = x, y, w, h
        planes = I420(to_i420(np.ascontiguousarray(rgba[..., :3])))
        self.y_plane, self.u_plane, self.v_plane = (p.copy() for p in planes.planes)
        alpha = rgba[..., 3].astype(np.float32) / 255.0
        self.alpha = alpha
        self.alpha_half = cv2.resize(alpha, (w // 2, h // 2), interpolation=cv2.INTER_AREA)

    def blend(self, out: I420, opacity: float) -> None:
        """Blend the caption over `out` at `opacity` (0..1), touching only its box."""
        if opacity <= 0:
            return
        x, y = self.x, self.y
        for fg, alpha, plane, (px, py) in (
            (self.y_plane, self.alpha, out.y, (x, y)),
            (self.u_plane, self.alpha_half, out.u, (x // 2, y // 2)),
            (self.v_plane, self.alpha_half, out.v, (x // 2, y // 2)),
        ):
            h, w = fg.shape
            region = plane[py : py + h, px : px + w]
            a = alpha * np.float32(opacity) if opacity < 1 else alpha
            mixed = cv2.blendLinear(fg, region, a, 1.0 - a)
            np.copyto(region, mixed)
