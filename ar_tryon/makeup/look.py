"""A look (shades with intensities) applied to faces: brows, eyeshadow, eyeliner, blush, then lips on top."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ar_tryon.landmarks.types import FaceLandmarks
from ar_tryon.makeup.face_effects import BlushRenderer, BrowRenderer, EyelinerRenderer, EyeshadowRenderer
from ar_tryon.makeup.lips import LipRenderer
from ar_tryon.makeup.regions import Region
from ar_tryon.shades import Product, Shade

__all__ = ["LookItem", "Look", "apply_look", "RENDER_ORDER"]

#: Bottom to top: later products are painted over earlier ones.
RENDER_ORDER = (Product.BROWS, Product.EYESHADOW, Product.EYELINER, Product.BLUSH, Product.LIPS)
_RENDERERS = {
    Product.BROWS: BrowRenderer(),
    Product.EYESHADOW: EyeshadowRenderer(),
    Product.EYELINER: EyelinerRenderer(),
    Product.BLUSH: BlushRenderer(),
    Product.LIPS: LipRenderer(),
}


@dataclass(frozen=True)
class LookItem:
    """One product: a shade and its intensity in [0, 1]."""

    shade: Shade
    intensity: float = 0.8

    def __post_init__(self) -> None:
        if not 0.0 <= self.intensity <= 1.0:
            raise ValueError(f"intensity for {self.shade.sku} must be in [0, 1], got {self.intensity}")


@dataclass(frozen=True)
class Look:
    """At most one shade per product (a second lipstick would hide the first)."""

    items: tuple[LookItem, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        seen: dict[Product, str] = {}
        for item in self.items:
            if item.shade.product in seen:
                raise ValueError(
                    f"shade: {seen[item.shade.product]} and {item.shade.sku} are both {item.shade.product.value};"
                    " choose one per product"
                )
            seen[item.shade.product] = item.shade.sku

    @classmethod
    def of(cls, shades: list[Shade], intensity: float = 0.8) -> Look:
        return cls(tuple(LookItem(s, intensity) for s in shades))

    def ordered(self) -> list[LookItem]:
        return sorted(self.items, key=lambda i: RENDER_ORDER.index(i.shade.product))


def apply_look(image: np.ndarray, faces: list[FaceLandmarks], look: Look) -> dict[str, list[Region]]:
    """Paint `look` on every face in `faces`, in place. Returns the masks used, per product."""
    regions: dict[str, list[Region]] = {}
    for face in faces:
        for item in look.ordered():
            out = _RENDERERS[item.shade.product].process(image, face, item.shade, item.intensity)
            found = [out] if isinstance(out, Region) else (out or [])
            regions.setdefault(item.shade.product.value, []).extend(found)
    return regions
