"""What every cover template gets (`Scene`) and is (`Template`), plus the pieces they share.

A template reads its boxes for the preset from `data/templates.yaml`, fits all of its text first (so a title
that cannot fit fails before any pixel is drawn), then paints. All variation comes from `scene.rng` (seeded by
the composer), so the same inputs and seed give the same pixels.
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import cv2
import numpy as np
from PIL import Image, ImageDraw

from common.errors import InputError
from generation.image.draw import (
    blurred_backdrop,
    contain_size,
    cover_crop,
    paste_card,
    paste_cutout,
    resize_rgba,
    soft_shadow,
)
from generation.image.palette import Palette, from_hex, readable_text
from generation.image.schema import CoverSpec
from generation.image.stickers import badge_sticker, paste_sticker, price_seal
from generation.image.text import Block, Box, Typesetter

__all__ = ["ProductPhoto", "Scene", "Template", "free_spot", "turned_size"]

_MAX_UPSCALE = 2.0  # a small photo's cut-out is not blown up more than this (it would look soft)
_STICKER_SCALES = (1.0, 0.85, 0.7)  # a sticker shrinks this far to find room off the product and the words
_PRODUCT_SCALES = (1.0, 0.9, 0.8, 0.7)  # a cut-out shrinks this far to leave room for the stickers
_MAX_TILT = 12.0
_MIDDLE = (0.22, 0.78)  # the part of a photo without a known product box that stickers keep off


Rect = tuple[int, int, int, int]


def free_spot(
    centre: tuple[int, int], size: tuple[int, int], taken: list[Rect], canvas: tuple[int, int], gap: int = 0
) -> tuple[int, int] | None:
    """The centre nearest to `centre` where a sticker of `size` lies on the canvas and at least `gap` px clear of
    every box in `taken` (text, other stickers, the product), searched on a grid over the whole canvas; None
    when there is no such place."""
    w, h = size
    cw, ch = canvas
    if w > cw or h > ch:
        return None
    step = max(4, min(cw, ch) // 48)
    xs = np.unique(np.append(np.arange(0, cw - w + 1, step), cw - w))
    ys = np.unique(np.append(np.arange(0, ch - h + 1, step), ch - h))
    x0, y0 = np.meshgrid(xs, ys)
    free = np.ones(x0.shape, bool)
    for t in taken:
        free &= (x0 + w + gap <= t[0]) | (t[2] + gap <= x0) | (y0 + h + gap <= t[1]) | (t[3] + gap <= y0)
    if not free.any():
        return None
    cx, cy = x0 + w // 2, y0 + h // 2
    dist = (cx - centre[0]) ** 2 + (cy - centre[1]) ** 2
    dist = np.where(free, dist, np.iinfo(np.int64).max)
    i = np.unravel_index(int(np.argmin(dist)), dist.shape)
    return int(cx[i]), int(cy[i])


def turned_size(size: tuple[int, int], angle: float) -> tuple[int, int]:
    """The size of a `size` image turned by `angle` degrees (expanded)."""
    a = math.radians(angle)
    w, h = size
    return math.ceil(abs(w * math.cos(a)) + abs(h * math.sin(a))), math.ceil(
        abs(w * math.sin(a)) + abs(h * math.cos(a))
    )


@functools.lru_cache(maxsize=256)
def _badge_size(ts: Typesetter, word: str, height: int, min_size: int, max_width: int, seal: bool) -> tuple[int, int]:
    """The size of a badge sticker (its words fitted), cached: covers of one spec ask again and again."""
    return badge_sticker(ts, word, height, (0, 0, 0), min_size=min_size, max_width=max_width, seal=seal).size


@dataclass(frozen=True)
class ProductPhoto:
    """A merchant photo prepared once (the composer caches it): working copy, cut-out, where the product is.

    Attributes:
        rgb: the photo at working size (H x W x 3 uint8).
        cutout: the product cut out and cropped to it (RGBA), or None when the photo has no clean cut-out.
        focus: the product's centre as fractions of the photo (crops keep it in view).
        colours: dominant colours of the product (or of the photo) with their shares.
        box: the product's box (x0, y0, x1, y1) in working-copy pixels, or None without a clean cut-out.
    """

    rgb: np.ndarray
    cutout: np.ndarray | None
    focus: tuple[float, float]
    colours: tuple[tuple[tuple[int, int, int], float], ...]
    box: tuple[int, int, int, int] | None = None


@dataclass
class Scene:
    """Everything a template needs to paint one cover."""

    spec: CoverSpec
    preset: str
    size: tuple[int, int]
    photos: list[ProductPhoto]
    palette: Palette
    rng: np.random.Generator
    ts: Typesetter
    layout: dict[str, list[float]]
    conf: dict[str, Any]
    data: dict[str, Any]
    #: every text fitted on the canvas so far, as (param, block): where the words went
    blocks: list[tuple[str, Block]] = field(default_factory=list)
    #: boxes that stickers must not cover besides the text and the product (a price tag, stickers already placed)
    taken: list[tuple[int, int, int, int]] = field(default_factory=list)
    #: where the product is on the canvas (its cut-out's box, or its box inside a framed photo): stickers keep off
    products: list[tuple[int, int, int, int]] = field(default_factory=list)
    #: what was placed where, as (kind, box): `badge`, `price`, `tag`
    placed: list[tuple[str, tuple[int, int, int, int]]] = field(default_factory=list)
    _needs: dict[tuple[str, ...], list[tuple[int, int]]] = field(default_factory=dict, repr=False)

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]

    def box(self, key: str) -> Box:
        """A layout box of this template and preset, in pixels."""
        x0, y0, x1, y1 = self.layout[key]
        w, h = self.size
        return Box(round(x0 * w), round(y0 * h), round(x1 * w), round(y1 * h))

    def px(self, fraction: float) -> int:
        """A length given as a fraction of the canvas width."""
        return max(1, round(fraction * self.width))

    @property
    def title_min(self) -> int:
        return -(-self.data["type"]["title_min_px_at_360"] * self.width // 360)

    @property
    def text_min(self) -> int:
        return -(-self.data["type"]["text_min_px_at_360"] * self.width // 360)

    def colour(self, key: str) -> tuple[int, int, int]:
        return from_hex(self.data["colours"][key])

    def choice(self, options: list[Any]) -> Any:
        """One of `options`, by the seeded RNG."""
        return options[int(self.rng.integers(len(options)))]

    # text ------------------------------------------------------------------------------------------------
    def fit(self, text: str, box: Box, *, param: str, **options: Any) -> Block:
        """`Typesetter.fit` on the canvas, recorded in `blocks` (options as there)."""
        block = self.ts.fit(text, box, param=param, **options)
        self.blocks.append((param, block))
        return block

    def fit_stack(
        self,
        region: Box,
        items: list[tuple[str, str, dict[str, Any]]],
        valign: Literal["top", "center", "bottom"] = "top",
        gap: float = 0.012,
    ) -> list[Block | None]:
        """Texts stacked in a region, the first (the title) taking the height the others leave.

        Args:
            region: where the stack goes.
            items: (param, text, options) from the top down; options as `Typesetter.fit` plus `share`: the most
                of the region's height an item after the first may take (default 0.35). Empty texts give None.
            valign: where the stack sits in the region.
            gap: space between items, a fraction of the canvas width.

        Returns:
            One block (or None) per item, placed and recorded in `blocks`.
        """
        space = self.px(gap)
        blocks: list[Block | None] = [None] * len(items)
        reserved = 0
        for i, (param, text, opts) in enumerate(items[1:], start=1):
            if not text:
                continue
            opts = dict(opts)
            share = opts.pop("share", 0.35)
            box = Box(region.x0, region.y0, region.x1, region.y0 + round(region.height * share))
            blocks[i] = self.ts.fit(text, box, param=param, valign="top", **opts)
            reserved += blocks[i].extent + space
        param, text, opts = items[0]
        box = Box(region.x0, region.y0, region.x1, region.y1 - reserved)
        blocks[0] = self.ts.fit(text, box, param=param, valign="top", **opts)
        total = sum(b.extent for b in blocks if b is not None) + space * (sum(b is not None for b in blocks) - 1)
        y = {"top": region.y0, "center": region.y0 + (region.height - total) // 2, "bottom": region.y1 - total}[valign]
        for i, block in enumerate(blocks):
            if block is None:
                continue
            blocks[i] = block.moved(y, Box(region.x0, y, region.x1, y + block.extent))
            self.blocks.append((items[i][0], blocks[i]))
            y += block.extent + space
        return blocks

    def title_options(self, **kw: Any) -> dict[str, Any]:
        """`fit` options of the title: bold, from the template's largest size down to the legible size."""
        return {
            "max_size": self.px(self.conf.get("title_max", 0.1)),
            "min_size": self.title_min,
            "bold": True,
            "max_lines": 4,
            **kw,
        }

    def text_options(self, max_size: float = 0.042, **kw: Any) -> dict[str, Any]:
        """`fit` options of secondary text (subtitle, points): regular weight, down to the legible size."""
        return {"max_size": self.px(max_size), "min_size": self.text_min, "max_lines": 4, **kw}

    def fit_title(
        self,
        key: str = "title",
        align: Literal["left", "center", "right"] = "center",
        valign: Literal["top", "center", "bottom"] = "center",
        max_size: float | None = None,
        max_lines: int = 4,
    ) -> Block:
        """The title fitted into its box (bold, largest size that fits, at least the legible size)."""
        return self.fit(
            self.spec.title,
            self.box(key),
            max_size=self.px(max_size or self.conf.get("title_max", 0.1)),
            min_size=self.title_min,
            bold=True,
            max_lines=max_lines,
            align=align,
            valign=valign,
            param="title",
        )

    def draw_text(
        self, canvas: Image.Image, block: Block | None, fill: tuple[int, int, int], shadow: float = 0.0
    ) -> None:
        """Draw a fitted block, with a soft dark shadow under it when `shadow` (blur, fraction of the width)."""
        if block is None:
            return
        if shadow:
            mask = Image.new("L", canvas.size, 0)
            self.ts.draw(ImageDraw.Draw(mask), block, (255,))
            x0, y0, x1, y1 = block.ink
            pad = self.px(shadow) * 3
            crop = (max(0, x0 - pad), max(0, y0 - pad), min(canvas.width, x1 + pad), min(canvas.height, y1 + pad))
            soft_shadow(
                canvas, mask.crop(crop), crop[:2], blur=self.px(shadow), offset=(0, self.px(shadow * 0.3)), opacity=0.55
            )
        self.ts.draw(ImageDraw.Draw(canvas), block, fill)

    # photos --------------------------------------------------------------------------------------------
    def place_product(
        self,
        canvas: Image.Image,
        box: Box,
        photo: ProductPhoto | None = None,
        shadow: bool = True,
        radius: float = 0.035,
        border: float = 0.0,
        anchor: Literal["bottom", "center"] = "bottom",
        stickers: tuple[str, ...] = ("badge", "price"),
    ) -> tuple[int, int, int, int]:
        """The product in `box`: its cut-out (standing on the box's bottom) when clean, else a photo card.

        The cut-out is made smaller (down to 70 %) when that is what it takes to leave room for `stickers`
        (those of them the spec has) off the product and the words; its box is kept clear of stickers.

        Returns:
            The box (x0, y0, x1, y1) the product or card occupies.
        """
        photo = photo or self.photos[0]
        if photo.cutout is not None:
            x, y, w, h = self.cutout_rect(box, photo, anchor, stickers)
            paste_cutout(canvas, resize_rgba(photo.cutout, (w, h)), (x, y), shadow=self.px(0.025) if shadow else 0)
            self.products.append((x, y, x + w, y + h))
            return x, y, x + w, y + h
        ph, pw = photo.rgb.shape[:2]
        # a card between the photo's aspect and the box's (it fills a narrow box better), 4:3 at most either way
        aspect = min(max(math.sqrt(pw / ph * box.width / box.height), 0.75), 4 / 3)
        w, h = contain_size((round(1000 * aspect), 1000), (box.width, box.height))
        x = box.x0 + (box.width - w) // 2
        y = box.y0 + (box.height - h) // 2
        card = self.frame_photo(photo, (w, h), at=(x, y))
        return paste_card(
            canvas, card, (x, y), radius=self.px(radius), shadow=self.px(0.02) if shadow else 0, border=self.px(border)
        )

    def cutout_rect(
        self,
        box: Box,
        photo: ProductPhoto,
        anchor: Literal["bottom", "center"] = "bottom",
        stickers: tuple[str, ...] = ("badge", "price"),
    ) -> tuple[int, int, int, int]:
        """Where `place_product` puts a photo's cut-out in `box`: (x, y, width, height)."""
        assert photo.cutout is not None
        cw, ch = photo.cutout.shape[1], photo.cutout.shape[0]
        fw, fh = contain_size((cw, ch), (min(box.width, cw * _MAX_UPSCALE), min(box.height, ch * _MAX_UPSCALE)))
        needs = self._sticker_sizes(stickers)
        for k in _PRODUCT_SCALES:
            w, h = max(1, round(fw * k)), max(1, round(fh * k))
            x = box.x0 + (box.width - w) // 2
            y = box.y1 - h if anchor == "bottom" else box.y0 + (box.height - h) // 2
            if self._room_for((x, y, x + w, y + h), needs):
                return x, y, w, h
        return (
            box.x0 + (box.width - fw) // 2,
            (box.y1 - fh if anchor == "bottom" else box.y0 + (box.height - fh) // 2),
            fw,
            fh,
        )

    def _sticker_sizes(self, kinds: tuple[str, ...]) -> list[tuple[int, int]]:
        """The boxes the spec's stickers among `kinds` take at their smallest, turned as far as they may be."""
        key = tuple(sorted(kinds))
        if key in self._needs:
            return self._needs[key]
        sizes = []
        small = _STICKER_SCALES[-1]
        if "badge" in kinds and self.spec.badge:
            shapes = (False, True) if len(self.spec.badge) <= 3 else (False,)
            made = [
                _badge_size(self.ts, self.spec.badge, self.px(0.085 * small), self.text_min, self.px(0.5), seal)
                for seal in shapes
            ]
            sizes.append((max(m[0] for m in made), max(m[1] for m in made)))
        if "price" in kinds and self.spec.price is not None:
            d = self.px(0.22 * small)
            sizes.append((d, d))
        self._needs[key] = [turned_size(size, _MAX_TILT) for size in sizes]
        return self._needs[key]

    def _room_for(self, product: Rect, needs: list[tuple[int, int]]) -> bool:
        """Whether stickers of the sizes `needs` all find a place off the words, the products and `product`."""
        taken = [block.ink for _, block in self.blocks] + self.taken + self.products + [product]
        gap = self.px(0.012)
        for w, h in needs:
            spot = free_spot((0, 0), (w, h), taken, self.size, gap)
            if spot is None:
                return False
            taken.append((spot[0] - w // 2, spot[1] - h // 2, spot[0] - w // 2 + w, spot[1] - h // 2 + h))
        return True

    def frame_photo(self, photo: ProductPhoto, size: tuple[int, int], at: tuple[int, int] | None = None) -> Image.Image:
        """The photo filling a frame of `size`: cropped around the product when the product stays whole, else
        zoomed out until it does, the uncovered margin filled with the photo blurred.

        Args:
            at: where the frame will be pasted on the canvas; the product's box there is then kept clear of
                stickers (the middle of the frame when the photo has no clean cut-out to say where it is).
        """
        w, h = size
        ph, pw = photo.rgb.shape[:2]
        if photo.box is None:
            # where the product is, is not known: it is most likely in the middle, which stickers keep off
            self._keep_clear(at, (w * _MIDDLE[0], h * _MIDDLE[0], w * _MIDDLE[1], h * _MIDDLE[1]), size)
            return cover_crop(photo.rgb, size, photo.focus)
        x0, y0, x1, y1 = photo.box
        margin = 0.06 * max(x1 - x0, y1 - y0)
        scale = max(w / pw, h / ph)
        cw, ch = w / scale, h / scale
        cx = float(np.clip(photo.focus[0] * pw - cw / 2, 0, pw - cw))
        cy = float(np.clip(photo.focus[1] * ph - ch / 2, 0, ph - ch))
        if (
            x0 - margin >= cx - 1
            and y0 - margin >= cy - 1
            and x1 + margin <= cx + cw + 1
            and y1 + margin <= cy + ch + 1
        ):
            # as `cover_crop` crops: whole pixels, the crop scaled to the frame
            icw, ich = min(pw, round(w / scale)), min(ph, round(h / scale))
            icx = int(np.clip(photo.focus[0] * pw - icw / 2, 0, pw - icw))
            icy = int(np.clip(photo.focus[1] * ph - ich / 2, 0, ph - ich))
            sx, sy = w / icw, h / ich
            self._keep_clear(at, ((x0 - icx) * sx, (y0 - icy) * sy, (x1 - icx) * sx, (y1 - icy) * sy), size)
            return cover_crop(photo.rgb, size, photo.focus)
        s = min(w * 0.86 / (x1 - x0), h * 0.86 / (y1 - y0))
        sw, sh = max(1, round(pw * s)), max(1, round(ph * s))
        ox = (w - sw) / 2 if sw <= w else float(np.clip(w / 2 - (x0 + x1) / 2 * s, w - sw, 0))
        oy = (h - sh) / 2 if sh <= h else float(np.clip(h / 2 - (y0 + y1) / 2 * s, h - sh, 0))
        frame = Image.fromarray(blurred_backdrop(photo.rgb, size, photo.focus, blur=self.px(0.03)))
        frame.paste(
            Image.fromarray(cv2.resize(photo.rgb, (sw, sh), interpolation=cv2.INTER_AREA)), (round(ox), round(oy))
        )
        ox, oy = round(ox), round(oy)
        self._keep_clear(at, (x0 * s + ox, y0 * s + oy, x1 * s + ox, y1 * s + oy), size)
        return frame

    def _keep_clear(
        self, at: tuple[int, int] | None, box: tuple[float, float, float, float], size: tuple[int, int]
    ) -> None:
        """Record a product's box inside a frame of `size` pasted at `at` (clipped to the frame)."""
        if at is None:
            return
        w, h = size
        x0, y0, x1, y1 = box
        x0, x1 = max(0.0, x0), min(float(w), x1)
        y0, y1 = max(0.0, y0), min(float(h), y1)
        if x1 > x0 and y1 > y0:
            self.products.append(
                (at[0] + math.floor(x0), at[1] + math.floor(y0), at[0] + math.ceil(x1), at[1] + math.ceil(y1))
            )

    # stickers ------------------------------------------------------------------------------------------
    def stickers(
        self,
        canvas: Image.Image,
        badge_at: tuple[int, int] | None,
        price_at: tuple[int, int] | None,
        badge_height: float = 0.085,
        price_diameter: float = 0.22,
        fill: tuple[int, int, int] | None = None,
        tilt: float = _MAX_TILT,
    ) -> None:
        """The badge sticker and the price seal (each when the spec has it and a place is given).

        Args:
            fill: the stickers' colour; default one of the data's sticker fills or the accent, by seed.
            tilt: stickers turn by up to this many degrees either way, by seed.
        """
        fills = [from_hex(c) for c in self.data["colours"]["sticker_fills"]]
        taken = [block.ink for _, block in self.blocks] + self.taken  # stickers never cover words
        if self.spec.badge and badge_at is not None:
            seal = len(self.spec.badge) <= 3 and bool(self.rng.random() < 0.5)
            colour = fill or self.choice([self.palette.accent, *fills[:2]])
            angle = float(self.rng.uniform(-tilt, tilt))

            def badge(scale: float) -> Image.Image:
                return badge_sticker(
                    self.ts,
                    self.spec.badge,
                    self.px(badge_height * scale),
                    colour,
                    min_size=self.text_min,
                    max_width=self.px(0.5),
                    seal=seal,
                )

            self._stick(canvas, "badge", badge, badge_at, angle, taken)
        if self.spec.price is not None and price_at is not None:
            colour = fill or self.choice(fills[:2])
            angle = float(self.rng.uniform(-tilt, tilt))

            def price(scale: float) -> Image.Image:
                return price_seal(
                    self.ts,
                    self.spec.price,
                    self.px(price_diameter * scale),
                    colour,
                    self.data["words"]["price_label"],
                    min_size=self.text_min,
                )

            self._stick(canvas, "price", price, price_at, angle, taken)
        self.taken = taken[len(self.blocks) :]

    def _stick(
        self,
        canvas: Image.Image,
        kind: str,
        make: Callable[[float], Image.Image],
        at: tuple[int, int],
        angle: float,
        taken: list[Rect],
    ) -> None:
        """Paste the sticker `make(scale)` nearest to `at` where it covers no text, sticker or product: at full
        size, else a little smaller; left out when even the smallest finds no room (it never covers the
        product). Its box is added to `taken` and `placed`."""
        for scale in _STICKER_SCALES:
            sticker = make(scale)
            spot = free_spot(at, turned_size(sticker.size, angle), taken + self.products, canvas.size, self.px(0.012))
            if spot is not None:
                box = paste_sticker(canvas, sticker, spot, angle=angle)
                taken.append(box)
                self.placed.append((kind, box))
                return

    def ink_on(self, bg: tuple[int, int, int], preferred: tuple[int, int, int] | None = None) -> tuple[int, int, int]:
        """A text colour readable on `bg` (WCAG 4.5:1): `preferred` when it is, else near-black or white."""
        return readable_text(bg, [preferred] if preferred else [])


class Template(ABC):
    """A cover layout. Subclasses set `name` and implement `render`.

    Args:
        conf: the template's entry of `data/templates.yaml`.
    """

    name: ClassVar[str]

    def __init__(self, conf: dict[str, Any]) -> None:
        self.conf = conf
        self.display_name: str = conf["display_name"]
        self.description: str = conf["description"]
        self.photos: tuple[int, int] = tuple(conf["photos"])  # type: ignore[assignment]
        self.needs: tuple[str, ...] = tuple(conf.get("needs", ()))

    def missing(self, spec: CoverSpec, n_photos: int) -> InputError | None:
        """Why this template cannot make a cover of `spec` with `n_photos` photos (an error to raise), or None."""
        lo, hi = self.photos
        if not lo <= n_photos <= hi:
            want = f"{lo}" if lo == hi else f"{lo}-{hi}"
            return InputError(f"photos: the {self.name} template shows {want} photo(s), got {n_photos}", "photos")
        if "price" in self.needs and spec.price is None:
            return InputError(f"price: the {self.name} template needs a price", "price")
        if "points" in self.needs and len([p for p in spec.points if p]) < 2:
            return InputError(f"points: the {self.name} template needs 2-4 selling points", "points")
        return None

    @abstractmethod
    def render(self, scene: Scene) -> Image.Image:
        """Paint the cover (RGB, the scene's size). Fit every text before painting."""
