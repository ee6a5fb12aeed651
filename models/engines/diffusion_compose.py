"""Pixel work around an inpainting run: what to keep, where to paint, and the exact composite afterwards.

Background replacement and outpainting must not touch the product: the diffusion model repaints around a
kept region, then the ORIGINAL pixels are put back exactly (max abs diff 0 inside the kept region, whatever
the VAE did to them). The soft edge lies only outside the kept region: over `feather` pixels the kept
region's own edge colours (extended outward to the nearest kept pixel, so no dark halo) fade into the
generated scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

__all__ = ["Canvas", "product_canvas", "placed_canvas", "masked_canvas", "composite"]

#: Alpha at or above which a cut-out pixel belongs to the product (kept exactly).
PRODUCT_ALPHA = 128
#: Colour under the area to repaint in the init image (neutral: nothing for the model to extend).
_FILL = (127, 127, 127)


@dataclass
class Canvas:
    """What to keep and what to paint, at the output's size.

    Attributes:
        rgb: HxWx3 uint8 pixels of the output canvas (the kept pixels are the originals).
        keep: HxW bool, True where the original pixels must come back exactly.
        soft: HxW float32 in [0, 1): partial coverage outside `keep` (a cut-out's anti-aliased edge), 0 elsewhere.
        box: (x, y, width, height) of the placed original in the canvas.
    """

    rgb: np.ndarray
    keep: np.ndarray
    soft: np.ndarray
    box: tuple[int, int, int, int]

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]

    def init_image(self, size: tuple[int, int]) -> Image.Image:
        """The inpainting input at the generation size: kept pixels, neutral grey where the model paints."""
        pixels = np.where(self.keep[..., None], self.rgb, np.array(_FILL, np.uint8))
        return _resize(Image.fromarray(pixels), size)

    def repaint_mask(self, size: tuple[int, int]) -> Image.Image:
        """White where the model paints (everything not kept), at the generation size."""
        mask = Image.fromarray(np.where(self.keep, 0, 255).astype(np.uint8))
        return mask if mask.size == size else mask.resize(size, Image.Resampling.NEAREST)


def product_canvas(product_rgba: Image.Image) -> Canvas:
    """A product cut-out on its canvas: alpha >= 128 is the product (kept), partial alpha below is its edge."""
    rgba = np.asarray(product_rgba.convert("RGBA"))
    alpha = rgba[..., 3]
    keep = alpha >= PRODUCT_ALPHA
    soft = np.where(keep, 0.0, alpha / 255.0).astype(np.float32)
    ys, xs = np.nonzero(keep)
    box = (0, 0, 0, 0) if not len(xs) else (int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
    return Canvas(rgb=np.ascontiguousarray(rgba[..., :3]), keep=keep, soft=soft, box=box)


def placed_canvas(image: Image.Image, width: int, height: int) -> Canvas:
    """`image` scaled to fit inside width x height (aspect kept) and centred; the rest is to be painted."""
    src_w, src_h = image.size
    scale = min(width / src_w, height / src_h)
    new_w, new_h = max(1, min(width, round(src_w * scale))), max(1, min(height, round(src_h * scale)))
    placed = image.convert("RGB")
    if (new_w, new_h) != placed.size:
        placed = placed.resize((new_w, new_h), Image.Resampling.LANCZOS)
    x, y = (width - new_w) // 2, (height - new_h) // 2
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[:] = _FILL
    rgb[y : y + new_h, x : x + new_w] = np.asarray(placed)
    keep = np.zeros((height, width), bool)
    keep[y : y + new_h, x : x + new_w] = True
    return Canvas(rgb=rgb, keep=keep, soft=np.zeros((height, width), np.float32), box=(x, y, new_w, new_h))


def masked_canvas(image: Image.Image, mask_image: Image.Image) -> Canvas:
    """An image and an inpainting mask (white = repaint): everything the mask leaves black is kept."""
    keep = np.asarray(mask_image.convert("L")) < 128
    return Canvas(
        rgb=np.asarray(image.convert("RGB")).copy(),
        keep=keep,
        soft=np.zeros(keep.shape, np.float32),
        box=(0, 0, keep.shape[1], keep.shape[0]),
    )


def composite(generated: Image.Image, canvas: Canvas, feather: int) -> Image.Image:
    """The generated scene at the canvas size with the kept pixels put back exactly.

    Outside the kept region, within `feather` pixels of it, the kept region's edge colours fade linearly into
    the scene (alpha (feather + 0.5 - d) / feather at distance d, 0 beyond); a cut-out's own partial alpha is
    honoured too.
    """
    scene = np.asarray(_resize(generated.convert("RGB"), canvas.size), dtype=np.float32)
    keep = canvas.keep
    alpha = canvas.soft.copy()
    colour = canvas.rgb.astype(np.float32)
    if feather > 0 and keep.any() and not keep.all():
        from scipy.ndimage import distance_transform_edt

        distance, (iy, ix) = distance_transform_edt(~keep, return_indices=True)
        ramp = np.clip((feather + 0.5 - distance) / feather, 0.0, 1.0).astype(np.float32)
        extended = canvas.rgb[iy, ix].astype(np.float32)  # nearest kept pixel's colour: no halo
        colour = np.where((canvas.soft > 0)[..., None], colour, extended)
        alpha = np.maximum(alpha, ramp)
    blended = alpha[..., None] * colour + (1.0 - alpha[..., None]) * scene
    out = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    out[keep] = canvas.rgb[keep]  # the original pixels, exactly
    return Image.fromarray(out)


def _resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return image if image.size == size else image.resize(size, Image.Resampling.LANCZOS)
