"""Synthetic product shots with a known cut-out, for tests, benchmarks and demos (no photos to download).

A merchant's product photo is a product (a bottle, a box, a jar) on either a studio-white sweep with a soft
contact shadow, or on a busy scene (a textured surface with scattered props). The drawing keeps the exact
product mask, so a cut-out can be scored by geometry (IoU) instead of by eye. Everything is seeded.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import yaml
from PIL import Image, ImageDraw

__all__ = ["ProductShot", "product_shot", "iou", "LabelledPhoto", "labelled_photos"]

Kind = Literal["bottle", "box", "jar"]
Background = Literal["white", "busy"]
_TABLE_HUE = 14.0  # OpenCV hue (0-180) of the busy scene's wooden table
_SS = 2  # supersampling of the drawn shapes (anti-aliased edges like a real photo)


@dataclass(frozen=True)
class ProductShot:
    """A drawn product photo and the ground truth of its cut-out."""

    rgb: np.ndarray  #: H x W x 3 uint8
    mask: np.ndarray  #: H x W bool, True on the product


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (alpha arrays are thresholded at 128)."""
    a = a >= 128 if a.dtype == np.uint8 else a.astype(bool)
    b = b >= 128 if b.dtype == np.uint8 else b.astype(bool)
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _shape_mask(size: tuple[int, int], kind: Kind, rng: np.random.Generator) -> tuple[Image.Image, tuple]:
    """The product silhouette drawn at `_SS` times the size (L image) and its box in output pixels."""
    w, h = size
    W, H = w * _SS, h * _SS
    img = Image.new("L", (W, H), 0)
    d = ImageDraw.Draw(img)
    cx = W * rng.uniform(0.44, 0.56)
    if kind == "bottle":
        bw, bh = W * rng.uniform(0.26, 0.34), H * rng.uniform(0.42, 0.5)
        top = H * 0.5 - bh * 0.35
        d.rounded_rectangle((cx - bw / 2, top, cx + bw / 2, top + bh), radius=bw * 0.18, fill=255)
        d.ellipse((cx - bw / 2, top - bw * 0.3, cx + bw / 2, top + bw * 0.3), fill=255)
        nw = bw * 0.34
        d.rectangle((cx - nw / 2, top - bw * 0.55, cx + nw / 2, top), fill=255)
        cw = bw * 0.46
        d.rounded_rectangle((cx - cw / 2, top - bw * 0.95, cx + cw / 2, top - bw * 0.5), radius=cw * 0.12, fill=255)
        box = (cx - bw / 2, top - bw * 0.95, cx + bw / 2, top + bh)
    elif kind == "box":
        bw, bh, depth = W * rng.uniform(0.34, 0.42), H * rng.uniform(0.36, 0.44), W * 0.08
        x0, y0 = cx - bw / 2 - depth / 2, H * 0.5 - bh / 2 + depth / 2
        d.rectangle((x0, y0, x0 + bw, y0 + bh), fill=255)
        d.polygon([(x0, y0), (x0 + depth, y0 - depth), (x0 + bw + depth, y0 - depth), (x0 + bw, y0)], fill=255)
        d.polygon(
            [(x0 + bw, y0), (x0 + bw + depth, y0 - depth), (x0 + bw + depth, y0 + bh - depth), (x0 + bw, y0 + bh)],
            fill=255,
        )
        box = (x0, y0 - depth, x0 + bw + depth, y0 + bh)
    else:  # jar
        bw, bh = W * rng.uniform(0.4, 0.48), H * rng.uniform(0.26, 0.32)
        top = H * 0.52 - bh / 2
        d.rounded_rectangle((cx - bw / 2, top, cx + bw / 2, top + bh), radius=bw * 0.12, fill=255)
        d.rounded_rectangle((cx - bw * 0.53, top - bh * 0.32, cx + bw * 0.53, top + 2), radius=bw * 0.05, fill=255)
        box = (cx - bw * 0.53, top - bh * 0.32, cx + bw * 0.53, top + bh)
    return img, tuple(v / _SS for v in box)


def _product_colours(
    kind: Kind, size: tuple[int, int], box: tuple, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """The product's look: a saturated body with cylinder shading, a pale label, a dark cap."""
    w, h = size
    hue = (rng.uniform(25, 155) + _TABLE_HUE) % 180  # staged to stand out from the table top
    body = cv2.cvtColor(np.uint8([[[hue, rng.uniform(150, 230), rng.uniform(150, 210)]]]), cv2.COLOR_HSV2RGB)[0, 0]
    x0, y0, x1, y1 = box
    xs = np.clip((np.arange(w) - x0) / max(x1 - x0, 1), 0, 1)
    shade = 0.72 + 0.45 * np.sin(np.pi * (0.15 + 0.7 * xs))  # light from the left, like a softbox
    img = np.clip(body[None, None, :] * shade[None, :, None], 0, 255) * np.ones((h, 1, 1))
    label = Image.new("L", size, 0)
    ld = ImageDraw.Draw(label)
    lx0, lx1 = x0 + (x1 - x0) * 0.12, x1 - (x1 - x0) * 0.12
    ly0, ly1 = y0 + (y1 - y0) * 0.45, y0 + (y1 - y0) * 0.78
    ld.rectangle((lx0, ly0, lx1, ly1), fill=255)
    lab = np.asarray(label) > 0
    img[lab] = img[lab] * 0.25 + np.array([240, 236, 226]) * 0.75
    for i in range(3):  # lines of "text" on the label
        ty = ly0 + (ly1 - ly0) * (0.22 + 0.22 * i)
        tx1 = lx0 + (lx1 - lx0) * (0.85 - 0.2 * i)
        img[int(ty) : int(ty + max(2, (ly1 - ly0) * 0.07)), int(lx0 + (lx1 - lx0) * 0.12) : int(tx1)] = (40, 40, 48)
    if kind == "bottle":  # a dark cap
        cap = slice(int(y0), int(y0 + (y1 - y0) * 0.1))
        img[cap] = img[cap] * 0.3 + np.array([30, 30, 36]) * 0.7
    elif kind == "jar":  # a brushed metal lid
        cap = slice(int(y0), int(y0 + (y1 - y0) * 0.2))
        img[cap] = img[cap] * 0.15 + np.array([205, 205, 212]) * 0.85 * shade[None, :, None] / shade.max()
    return img, hue


def _white_background(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    w, h = size
    sweep = np.linspace(250, 238, h)[:, None, None] * np.ones((1, w, 3))
    return sweep + rng.normal(0, 1.2, (h, w, 3))


def _busy_background(size: tuple[int, int], hue_avoid: float, rng: np.random.Generator) -> np.ndarray:
    """A wooden table top with scattered props (leaves, pebbles, a cloth): texture and clutter everywhere."""
    w, h = size
    noise = rng.normal(0, 1, (h // 8 + 1, w // 8 + 1)).astype(np.float32)
    grain = cv2.resize(cv2.GaussianBlur(noise, (0, 0), 1.5), (w, h), interpolation=cv2.INTER_CUBIC)
    stripes = np.sin(np.linspace(0, 40, w)[None, :] + grain * 2.5)
    base = np.array([150, 112, 78], dtype=np.float64)
    img = base[None, None, :] * (0.82 + 0.12 * stripes[..., None] + 0.05 * grain[..., None])
    img += rng.normal(0, 6, (h, w, 3))
    props = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(props)
    for _ in range(int(rng.integers(28, 40))):
        hue = (hue_avoid + rng.uniform(40, 140)) % 180  # props in other colours than the product
        colour = cv2.cvtColor(np.uint8([[[hue, rng.uniform(60, 200), rng.uniform(70, 230)]]]), cv2.COLOR_HSV2RGB)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rx, ry = rng.uniform(0.02, 0.09) * w, rng.uniform(0.015, 0.06) * h
        if rng.random() < 0.5:
            d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=tuple(int(c) for c in colour[0, 0]))
        else:
            d.line((cx - rx, cy - ry, cx + rx, cy + ry), fill=tuple(int(c) for c in colour[0, 0]), width=int(w * 0.01))
    return np.asarray(props).astype(np.float64)


def product_shot(
    kind: Kind = "bottle",
    background: Background = "white",
    size: tuple[int, int] = (900, 1200),
    seed: int = 0,
) -> ProductShot:
    """Draw a product photo and its exact mask.

    Args:
        kind: `bottle`, `box` or `jar`.
        background: `white` (studio sweep with a soft contact shadow) or `busy` (wood, props, clutter).
        size: (width, height) in pixels.
        seed: same seed, same photo.

    Returns:
        The photo (RGB uint8) and the product mask (bool).
    """
    rng = np.random.default_rng(seed)
    w, h = size
    shape, box = _shape_mask(size, kind, rng)
    alpha = np.asarray(shape.resize(size, Image.Resampling.BOX), dtype=np.float64)[..., None] / 255.0
    product, hue = _product_colours(kind, size, box, rng)
    if background == "white":
        bg = _white_background(size, rng)
        shadow = np.zeros((h, w), np.float32)
        x0, _, x1, y1 = box
        cv2.ellipse(shadow, (int((x0 + x1) / 2), int(y1)), (int((x1 - x0) * 0.6), int(h * 0.02)), 0, 0, 360, 1.0, -1)
        shadow = cv2.GaussianBlur(shadow, (0, 0), w * 0.015)
        bg *= 1 - 0.28 * shadow[..., None]
    else:
        bg = _busy_background(size, hue, rng)
    rgb = np.clip(product * alpha + bg * (1 - alpha), 0, 255).astype(np.uint8)
    return ProductShot(rgb=rgb, mask=alpha[..., 0] >= 0.5)


@dataclass(frozen=True)
class LabelledPhoto:
    """A real photo with a product outline traced by hand (see `tests/generation/data/real_photos.yaml`)."""

    name: str
    kind: Literal["product", "fills"]  #: an object on a background, or a subject that fills the frame
    rgb: np.ndarray  #: H x W x 3 uint8
    mask: np.ndarray | None  #: H x W bool, True on the product (None: nothing to separate)
    ignore: np.ndarray  #: H x W bool, pixels that count for neither side
    what: str = ""
    min_iou: float = 0.8  #: what an accepted cut-out must reach


def _draw_shapes(shapes: list[dict], size: tuple[int, int]) -> np.ndarray:
    img = Image.new("L", size, 0)
    d = ImageDraw.Draw(img)
    for shape in shapes:
        if "polygon" in shape:
            d.polygon([tuple(p) for p in shape["polygon"]], fill=255)
        elif "ellipse" in shape:
            cx, cy, rx, ry = shape["ellipse"]
            d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
        elif "box" in shape:
            x0, y0, x1, y1 = shape["box"]
            d.rectangle((x0, y0, x1 - 1, y1 - 1), fill=255)
        else:
            raise ValueError(f"unknown shape {sorted(shape)} (polygon, ellipse or box)")
    return np.asarray(img) > 0


def _source_path(source: dict) -> Path | None:
    if "file" in source:
        path = Path(source["file"])
    else:
        spec = importlib.util.find_spec(source["package"])
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / source["path"]
    return path if path.is_file() else None


def labelled_photos(path: str | Path) -> tuple[list[LabelledPhoto], list[str]]:
    """The real photos a YAML file lists (format in its header), with their traced masks.

    Returns:
        The photos found on this machine, and the names of those whose package or file is missing.
    """
    entries = yaml.safe_load(Path(path).read_text(encoding="utf-8"))["photos"]
    found, missing = [], []
    for entry in entries:
        file = _source_path(entry["source"])
        if file is None:
            missing.append(entry["name"])
            continue
        rgb = np.asarray(Image.open(file).convert("RGB"))
        size = (rgb.shape[1], rgb.shape[0])
        mask = _draw_shapes(entry["product"], size) if entry.get("product") else None
        found.append(
            LabelledPhoto(
                name=entry["name"],
                kind=entry["kind"],
                rgb=rgb,
                mask=mask,
                ignore=_draw_shapes(entry.get("ignore", []), size),
                what=entry.get("what", ""),
                min_iou=float(entry.get("min_iou", 0.8)),
            )
        )
    return found, missing
