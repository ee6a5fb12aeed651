"""The shade catalog: data in `data/shades.yaml`, typed here, looked up by SKU.

A shade knows its target colour in sRGB and in OpenCV's 8-bit Lab (what the renderers blend in), so the
conversion is done once at load time, not per frame.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np
import yaml

from ar_tryon.errors import UnknownShadeError

__all__ = [
    "Product",
    "Finish",
    "Shade",
    "ShadeCatalog",
    "default_catalog",
    "KIND_PRODUCT",
    "PRODUCT_KIND",
    "RENDER_FINISH",
    "merchant_shade",
]

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_PATH = Path(__file__).parent / "data" / "shades.yaml"


class Product(StrEnum):
    LIPS = "lips"
    BLUSH = "blush"
    EYESHADOW = "eyeshadow"
    EYELINER = "eyeliner"
    BROWS = "brows"


class Finish(StrEnum):
    MATTE = "matte"
    GLOSS = "gloss"
    SHIMMER = "shimmer"


#: A merchant's kind of product (what the HTTP API calls it) -> the renderer's product, and back.
KIND_PRODUCT = {"lipstick": Product.LIPS, "blush": Product.BLUSH, "eyeshadow": Product.EYESHADOW}
PRODUCT_KIND = {
    Product.LIPS: "lipstick",
    Product.BLUSH: "blush",
    Product.EYESHADOW: "eyeshadow",
    Product.EYELINER: "eyeliner",
    Product.BROWS: "brows",
}
#: A declared finish -> the renderer's finish. The renderers have no satin (a soft sheen): it renders as matte,
#: and the shade keeps saying "satin".
RENDER_FINISH = {"matte": Finish.MATTE, "satin": Finish.MATTE, "gloss": Finish.GLOSS, "shimmer": Finish.SHIMMER}


@dataclass(frozen=True)
class Shade:
    """One product shade. `lab8` is OpenCV 8-bit Lab (L 0..255, a/b offset by 128) of `hex`.

    `source` is `builtin` (the packaged catalog) or `merchant` (a merchant's own, `sku` is its id);
    `declared_finish` is the finish as the merchant named it when the renderers lack it (satin), else "".
    """

    sku: str
    name: str
    hex: str
    product: Product
    finish: Finish = Finish.MATTE
    source: str = "builtin"
    declared_finish: str = ""
    rgb: tuple[int, int, int] = field(init=False)
    lab8: tuple[int, int, int] = field(init=False)

    def __post_init__(self) -> None:
        if not _HEX.match(self.hex):
            raise ValueError(f"shade {self.sku}: hex must look like #RRGGBB, got {self.hex!r}")
        rgb = tuple(int(self.hex[i : i + 2], 16) for i in (1, 3, 5))
        lab = cv2.cvtColor(np.array([[rgb]], dtype=np.uint8), cv2.COLOR_RGB2LAB)[0, 0]
        object.__setattr__(self, "rgb", rgb)
        object.__setattr__(self, "lab8", tuple(int(v) for v in lab))

    def to_dict(self) -> dict[str, str]:
        return {
            "sku": self.sku,
            "name": self.name,
            "hex": self.hex,
            "product": self.product.value,
            "finish": self.declared_finish or self.finish.value,
        }


class ShadeCatalog:
    """SKU -> Shade, in file order."""

    def __init__(self, shades: list[Shade], source: str = "") -> None:
        self.source = source
        self._by_sku: dict[str, Shade] = {}
        for shade in shades:
            if shade.sku in self._by_sku:
                raise ValueError(f"shade catalog {source}: duplicate sku {shade.sku!r}")
            self._by_sku[shade.sku] = shade

    @classmethod
    def from_yaml(cls, path: Path | str = DEFAULT_PATH) -> ShadeCatalog:
        """Load a catalog file (see the header of `data/shades.yaml` for the fields)."""
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        shades = []
        for index, entry in enumerate(raw.get("shades") or []):
            try:
                shades.append(
                    Shade(
                        sku=str(entry["sku"]),
                        name=str(entry["name"]),
                        hex=str(entry["hex"]),
                        product=Product(entry["product"]),
                        finish=Finish(entry.get("finish", "matte")),
                    )
                )
            except (KeyError, ValueError, TypeError) as exc:
                raise ValueError(f"shade catalog {path}: entry #{index + 1} is invalid: {exc}") from None
        return cls(shades, source=str(path))

    def __iter__(self):
        return iter(self._by_sku.values())

    def __len__(self) -> int:
        return len(self._by_sku)

    def __contains__(self, sku: object) -> bool:
        return sku in self._by_sku

    def get(self, sku: str, param: str = "shade") -> Shade:
        """The shade for `sku`.

        Raises:
            UnknownShadeError: naming the SKU and a few valid ones.
        """
        try:
            return self._by_sku[sku]
        except KeyError:
            known = ", ".join(list(self._by_sku)[:6])
            raise UnknownShadeError(
                f"{param}: unknown shade SKU {sku!r}; known SKUs include {known} (see `notestudio tryon shades`)",
                param,
            ) from None

    def by_product(self, product: Product) -> list[Shade]:
        return [s for s in self if s.product == product]


def merchant_shade(shade_id: str, name: str, hex_colour: str, kind: str, finish: str) -> Shade:
    """The `Shade` the renderers take for a merchant's stored shade (kind: lipstick/blush/eyeshadow; finish:
    matte/satin/gloss/shimmer)."""
    render = RENDER_FINISH[finish]
    declared = finish if finish != render.value else ""
    return Shade(shade_id, name, hex_colour.upper(), KIND_PRODUCT[kind], render, "merchant", declared)


@functools.cache
def default_catalog() -> ShadeCatalog:
    """The packaged catalog, parsed once per process."""
    return ShadeCatalog.from_yaml(DEFAULT_PATH)
