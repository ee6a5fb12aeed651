"""Raster helpers the templates share: fitting photos into boxes, rounded cards, soft shadows, gradients.

Work happens on PIL images at the cover's size; blurs run on downscaled copies (a blur's result does not
need full resolution) and resizes use OpenCV's area / linear filters, so a cover stays well under 100 ms.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "cover_crop",
    "contain_size",
    "resize_rgba",
    "rounded_mask",
    "paste_card",
    "paste_cutout",
    "soft_shadow",
    "blurred_backdrop",
    "aligned_backdrop",
    "vertical_gradient",
]


def _resize(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    shrink = w < arr.shape[1] or h < arr.shape[0]
    return cv2.resize(arr, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def cover_crop(rgb: np.ndarray, size: tuple[int, int], focus: tuple[float, float] = (0.5, 0.5)) -> Image.Image:
    """The photo scaled to cover `size` (w, h) and cropped around `focus` (fractions of the photo)."""
    w, h = size
    ph, pw = rgb.shape[:2]
    scale = max(w / pw, h / ph)
    cw, ch = min(pw, round(w / scale)), min(ph, round(h / scale))
    cx = int(np.clip(focus[0] * pw - cw / 2, 0, pw - cw))
    cy = int(np.clip(focus[1] * ph - ch / 2, 0, ph - ch))
    return Image.fromarray(_resize(np.ascontiguousarray(rgb[cy : cy + ch, cx : cx + cw, :3]), (w, h)))


def contain_size(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """`size` scaled to fit inside `box` (both (w, h)), aspect kept."""
    scale = min(box[0] / size[0], box[1] / size[1])
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def resize_rgba(rgba: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """An RGBA array resized (premultiplied, so edges take no background colour) as a PIL RGBA image."""
    alpha = np.ascontiguousarray(rgba[..., 3])
    a3 = cv2.merge([alpha, alpha, alpha])
    pre = cv2.multiply(np.ascontiguousarray(rgba[..., :3]), a3, scale=1 / 255)
    pre = _resize(np.dstack([pre, alpha]), size)
    a = np.ascontiguousarray(pre[..., 3])
    rgb = cv2.divide(np.ascontiguousarray(pre[..., :3]), cv2.merge([a, a, a]), scale=255)
    return Image.fromarray(np.dstack([rgb, a]), "RGBA")


def rounded_mask(size: tuple[int, int], radius: int) -> Image.Image:
    """An L mask of a rounded rectangle with anti-aliased corners."""
    w, h = size
    r = max(0, min(int(radius), w // 2, h // 2))
    mask = np.full((h, w), 255, np.uint8)
    if r:
        yy, xx = np.mgrid[0:r, 0:r].astype(np.float32)
        dist = np.hypot(r - xx - 0.5, r - yy - 0.5)
        corner = (np.clip(r - dist + 0.5, 0, 1) * 255).astype(np.uint8)
        mask[:r, :r] = corner
        mask[:r, w - r :] = corner[:, ::-1]
        mask[h - r :, :r] = corner[::-1, :]
        mask[h - r :, w - r :] = corner[::-1, ::-1]
    return Image.fromarray(mask, "L")


def soft_shadow(
    canvas: Image.Image,
    mask: Image.Image,
    xy: tuple[int, int],
    blur: float,
    offset: tuple[int, int] = (0, 0),
    opacity: float = 0.35,
    colour: Sequence[int] = (0, 0, 0),
) -> None:
    """Darken `canvas` under a blurred copy of `mask` placed at `xy` + `offset` (blur in px at full size)."""
    pad = int(blur * 3) + 2
    w, h = mask.size
    f = 0.25 if blur >= 8 else 1.0
    small = np.zeros((round((h + 2 * pad) * f) + 1, round((w + 2 * pad) * f) + 1), np.float32)
    m = np.asarray(mask.resize((max(1, round(w * f)), max(1, round(h * f))), Image.Resampling.BILINEAR), np.float32)
    p = round(pad * f)
    small[p : p + m.shape[0], p : p + m.shape[1]] = m * opacity
    small = cv2.GaussianBlur(small, (0, 0), max(blur * f, 0.5))
    full = cv2.resize(small, (w + 2 * pad, h + 2 * pad), interpolation=cv2.INTER_LINEAR)
    shade = Image.fromarray(np.clip(full, 0, 255).astype(np.uint8), "L")
    solid = Image.new("RGB", shade.size, tuple(int(c) for c in colour[:3]))
    canvas.paste(solid, (xy[0] + offset[0] - pad, xy[1] + offset[1] - pad), shade)


def paste_card(
    canvas: Image.Image,
    photo: Image.Image,
    xy: tuple[int, int],
    radius: int,
    shadow: float = 0.0,
    border: int = 0,
    border_colour: Sequence[int] = (255, 255, 255),
) -> tuple[int, int, int, int]:
    """Paste a photo as a rounded card (optional white border and soft shadow); returns its box."""
    w, h = photo.size
    x, y = xy
    if border:
        w2, h2 = w + 2 * border, h + 2 * border
        outer = rounded_mask((w2, h2), radius + border)
        if shadow:
            soft_shadow(canvas, outer, (x - border, y - border), blur=shadow, offset=(0, round(shadow * 0.4)))
        canvas.paste(
            tuple(int(c) for c in border_colour[:3]), (x - border, y - border, x - border + w2, y - border + h2), outer
        )
    elif shadow:
        soft_shadow(canvas, rounded_mask((w, h), radius), (x, y), blur=shadow, offset=(0, round(shadow * 0.4)))
    canvas.paste(photo.convert("RGB"), (x, y), rounded_mask((w, h), radius))
    return x, y, x + w, y + h


def paste_cutout(canvas: Image.Image, product: Image.Image, xy: tuple[int, int], shadow: float = 0.0) -> None:
    """Paste an RGBA product with a contact shadow (a flattened blurred silhouette under it) and a soft drop shadow."""
    x, y = xy
    w, h = product.size
    alpha = product.getchannel("A")
    if shadow:
        soft_shadow(canvas, alpha, (x, y), blur=shadow, offset=(round(shadow * 0.25), round(shadow * 0.5)), opacity=0.3)
        contact = Image.new("L", (w, max(2, h // 12)), 0)
        ImageDraw.Draw(contact).ellipse((w * 0.08, 0, w * 0.92, contact.size[1] - 1), fill=255)
        soft_shadow(canvas, contact, (x, y + h - contact.size[1] // 2), blur=shadow * 0.5, opacity=0.35)
    canvas.paste(product, (x, y), alpha)


def blurred_backdrop(
    rgb: np.ndarray, size: tuple[int, int], focus: tuple[float, float], blur: float, scale: float = 1.0
) -> np.ndarray:
    """The photo covering `size`, blurred by `blur` px (at full size), as an RGB array.

    The blur runs at 1/8 size; with `scale` < 1 the result stays small (callers that keep working on it, then
    upscale once, save full-size passes).
    """
    w, h = size
    f = 0.125
    small = np.asarray(cover_crop(rgb, (max(1, round(w * f)), max(1, round(h * f))), focus))
    small = cv2.GaussianBlur(small, (0, 0), max(blur * f, 0.5), borderType=cv2.BORDER_REFLECT)
    if scale <= f:
        return small
    return cv2.resize(small, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)


def aligned_backdrop(
    rgb: np.ndarray, size: tuple[int, int], scale: float, offset: tuple[float, float], blur: float, f: float = 0.125
) -> np.ndarray:
    """The photo scaled by `scale` and moved by `offset` (canvas px) under a canvas of `size`, blurred by `blur`
    px, at `f` of the canvas size; beyond the photo its edge pixels continue (smooth once blurred)."""
    w, h = size
    sw, sh = max(1, round(w * f)), max(1, round(h * f))
    k = scale * f  # photo px -> small canvas px
    pre = min(1.0, max(k * 2, 2 / min(rgb.shape[:2])))  # shrink with area averaging first, then warp
    src = rgb if pre >= 1.0 else cv2.resize(rgb, None, fx=pre, fy=pre, interpolation=cv2.INTER_AREA)
    m = np.float32([[k / pre, 0, offset[0] * f], [0, k / pre, offset[1] * f]])
    small = cv2.warpAffine(src, m, (sw, sh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.GaussianBlur(small, (0, 0), max(blur * f, 0.5), borderType=cv2.BORDER_REFLECT)


def vertical_gradient(size: tuple[int, int], stops: Sequence[tuple[float, float]]) -> Image.Image:
    """An L image whose value goes through (position 0..1, value 0..255) stops from top to bottom."""
    w, h = size
    pos = np.array([s[0] for s in stops], np.float32)
    val = np.array([s[1] for s in stops], np.float32)
    col = np.interp(np.linspace(0, 1, h, dtype=np.float32), pos, val).astype(np.uint8)
    return Image.fromarray(np.repeat(col[:, None], w, axis=1), "L")
