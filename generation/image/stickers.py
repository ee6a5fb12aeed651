"""Stickers: the badge word in a rounded sticker or a scalloped seal, and price tags.

Each sticker is drawn on its own transparent image (shape 2x supersampled for clean edges, text set by the
`Typesetter` so it is fitted and never clipped), optionally turned a few degrees, then pasted with a shadow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PIL import Image, ImageDraw

from common.errors import InputError
from generation.image.draw import soft_shadow
from generation.image.fonts import LANGUAGE
from generation.image.palette import with_contrast
from generation.image.text import Box, Typesetter

__all__ = ["format_price", "badge_sticker", "price_seal", "price_tag", "paste_sticker"]

_WHITE = (255, 255, 255)


def format_price(price: float) -> str:
    """199 -> `199`, 99.9 -> `99.9`, 12800 -> `1.28万`, 3e8 -> `3亿` (the number without the ¥)."""
    for unit, scale in (("亿", 1e8), ("万", 1e4)):
        if price >= scale:
            return f"{price / scale:.2f}".rstrip("0").rstrip(".") + unit
    return f"{price:.2f}".rstrip("0").rstrip(".")


def _shape(size: tuple[int, int], draw_fn) -> Image.Image:
    w, h = size
    big = Image.new("L", (w * 2, h * 2), 0)
    draw_fn(ImageDraw.Draw(big), w * 2, h * 2)
    return big.resize((w, h), Image.Resampling.BOX)


def _rgba(mask: Image.Image, fill: Sequence[int]) -> Image.Image:
    img = Image.new("RGBA", mask.size, tuple(int(c) for c in fill[:3]) + (0,))
    img.putalpha(mask)
    return img


def _scallop(d: ImageDraw.ImageDraw, w: int, h: int, points: int = 18, depth: float = 0.08) -> None:
    cx, cy, r = w / 2, h / 2, min(w, h) / 2
    poly = []
    for i in range(points * 8):
        t = 2 * math.pi * i / (points * 8)
        rr = r * (1 - depth * (0.5 + 0.5 * math.cos(points * t)))
        poly.append((cx + rr * math.cos(t), cy + rr * math.sin(t)))
    d.polygon(poly, fill=255)


def badge_sticker(
    ts: Typesetter,
    word: str,
    height: int,
    fill: Sequence[int],
    min_size: int,
    max_width: int,
    seal: bool = False,
    param: str = "badge",
) -> Image.Image:
    """The badge word in a pill (or a scalloped round seal), RGBA, with a white rim.

    Raises:
        InputError: (naming `param`) the word does not fit the sticker at `min_size`.
    """
    fill = with_contrast(fill, _WHITE)
    ink = _WHITE
    height = max(height, math.ceil(min_size * 2.1))  # the word at the smallest size still fits
    rim = max(2, round(height * 0.06))
    if seal:
        d = max(round(height * 1.6), math.ceil((2.2 * min_size + 6) / 0.66))  # two characters a line at least
        inner = round(d * 0.66)
        pad = (d - inner) // 2
        block = ts.fit(
            word,
            Box(pad, pad, pad + inner, pad + inner),
            max_size=round(d * 0.3),
            min_size=min_size,
            bold=True,
            max_lines=2,
            spacing=1.1,
            param=param,
        )
        img = _rgba(_shape((d, d), lambda dr, w, h: _scallop(dr, w, h)), (255, 255, 255))
        core = _rgba(_shape((d - 2 * rim, d - 2 * rim), lambda dr, w, h: _scallop(dr, w, h)), fill)
        img.alpha_composite(core, (rim, rim))
    else:
        text_h = round(height * 0.5)
        font = ts.fonts.font(max(min_size, text_h), True)
        cleaned, _ = ts.clean(word)
        want = font.getlength(cleaned, language=LANGUAGE) + 2 * ts.fonts.stroke(text_h, True)
        w = int(min(max_width, max(height * 1.6, want + height * 0.9)))
        pad_x = round(height * 0.42)
        block = ts.fit(
            word,
            Box(pad_x, round(height * 0.18), w - pad_x, height - round(height * 0.18)),
            max_size=text_h,
            min_size=min_size,
            bold=True,
            max_lines=1,
            param=param,
        )
        radius = height // 2
        img = _rgba(
            _shape((w, height), lambda dr, ww, hh: dr.rounded_rectangle((0, 0, ww - 1, hh - 1), radius * 2, fill=255)),
            (255, 255, 255),
        )
        core = _rgba(
            _shape(
                (w - 2 * rim, height - 2 * rim),
                lambda dr, ww, hh: dr.rounded_rectangle((0, 0, ww - 1, hh - 1), (radius - rim) * 2, fill=255),
            ),
            fill,
        )
        img.alpha_composite(core, (rim, rim))
    ts.draw(ImageDraw.Draw(img), block, ink + (255,))
    return img


def _price_text(
    ts: Typesetter, draw: ImageDraw.ImageDraw, price: float, box: Box, ink: Sequence[int], min_size: int
) -> tuple[int, int, int, int]:
    """`¥` small and the number large, centred in `box` on one baseline; returns the ink box."""
    number = format_price(price)
    size = box.height
    while True:
        big = ts.fonts.font(size, True)
        small = ts.fonts.font(max(min_size, round(size * 0.5)), True)
        stroke = ts.fonts.stroke(size, True)
        wy = small.getlength("¥", language=LANGUAGE)
        wn = big.getlength(number, language=LANGUAGE)
        total = wy + size * 0.06 + wn + 2 * stroke
        if total <= box.width or size <= min_size:
            break
        size -= max(1, size // 20)
    if total > box.width:
        raise InputError(f"price: {number} does not fit the price sticker", "price")
    x = box.x0 + (box.width - total) / 2 + stroke
    baseline = box.y0 + round((box.height + size * 0.72) / 2)
    fill = tuple(int(c) for c in ink[:3]) + (255,)
    s_stroke = ts.fonts.stroke(small.size, True)
    draw.text(
        (x, baseline),
        "¥",
        font=small,
        fill=fill,
        anchor="ls",
        stroke_width=s_stroke,
        stroke_fill=fill,
        language=LANGUAGE,
    )
    draw.text(
        (x + wy + size * 0.06, baseline),
        number,
        font=big,
        fill=fill,
        anchor="ls",
        stroke_width=stroke,
        stroke_fill=fill,
        language=LANGUAGE,
    )
    l0, t0, r0, b0 = big.getbbox(number, anchor="ls", stroke_width=stroke, language=LANGUAGE)
    return round(x), baseline + t0, round(x + wy + size * 0.06 + r0), baseline + b0


def price_seal(
    ts: Typesetter, price: float, diameter: int, fill: Sequence[int], label: str, min_size: int
) -> Image.Image:
    """A round price sticker: a small label (到手价) over `¥` and the number."""
    fill = with_contrast(fill, _WHITE)
    ink = _WHITE
    d = diameter
    rim = max(2, round(d * 0.035))
    img = _rgba(_shape((d, d), lambda dr, w, h: dr.ellipse((0, 0, w - 1, h - 1), fill=255)), (255, 255, 255))
    core = _rgba(_shape((d - 2 * rim, d - 2 * rim), lambda dr, w, h: dr.ellipse((0, 0, w - 1, h - 1), fill=255)), fill)
    img.alpha_composite(core, (rim, rim))
    draw = ImageDraw.Draw(img)
    label_box = Box(round(d * 0.22), round(d * 0.2), round(d * 0.78), round(d * 0.38))
    block = ts.fit(
        label,
        label_box,
        max_size=label_box.height,
        min_size=min(min_size, label_box.height),
        max_lines=1,
        param="badge",
    )
    ts.draw(draw, block, ink + (255,))
    _price_text(ts, draw, price, Box(round(d * 0.13), round(d * 0.4), round(d * 0.87), round(d * 0.7)), ink, min_size)
    return img


def price_tag(
    ts: Typesetter, price: float, size: tuple[int, int], fill: Sequence[int], label: str, min_size: int
) -> Image.Image:
    """A swing-tag shape (rounded, with a punched hole on the left): the label and `¥` + number."""
    w, h = size
    fill = with_contrast(fill, _WHITE)
    ink = _WHITE
    hole = round(h * 0.13)

    def tag(dr: ImageDraw.ImageDraw, ww: int, hh: int) -> None:
        notch = hh * 0.32
        dr.rounded_rectangle((notch * 0.6, 0, ww - 1, hh - 1), radius=hh * 0.16, fill=255)
        dr.polygon([(0, hh / 2), (notch, 0), (notch, hh - 1)], fill=255)
        cx, cy, r = notch * 0.95, hh / 2, hole * 2 / 2
        dr.ellipse((cx - r, cy - r, cx + r, cy + r), fill=0)

    img = _rgba(_shape((w, h), tag), fill)
    draw = ImageDraw.Draw(img)
    left = round(h * 0.55)
    if w - left >= 2.6 * h:  # a long tag: the label on the left, the price on the right
        label_w = round((w - left) * 0.3)
        label_box = Box(left, round(h * 0.2), left + label_w, round(h * 0.8))
        price_box = Box(left + label_w + round(h * 0.08), round(h * 0.12), w - round(h * 0.2), round(h * 0.88))
        label_max = round(h * 0.26)
    else:  # a short tag: the label above the price
        label_box = Box(left, round(h * 0.1), w - round(h * 0.15), round(h * 0.34))
        price_box = Box(left, round(h * 0.36), w - round(h * 0.15), round(h * 0.9))
        label_max = label_box.height
    block = ts.fit(
        label,
        label_box,
        max_size=label_max,
        min_size=min(min_size, label_max),
        bold=True,
        max_lines=2,
        spacing=1.1,
        param="badge",
    )
    ts.draw(draw, block, ink + (255,))
    _price_text(ts, draw, price, price_box, ink, min_size)
    return img


def paste_sticker(canvas: Image.Image, sticker: Image.Image, centre: tuple[int, int], angle: float = 0.0) -> tuple:
    """Paste a sticker turned by `angle` degrees with its centre at `centre`, with a small drop shadow.

    The sticker is moved inside the canvas if it would stick out; returns its box (the shadow aside).
    """
    if angle:
        sticker = sticker.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    w, h = sticker.size
    x = min(max(0, round(centre[0] - w / 2)), canvas.width - w)
    y = min(max(0, round(centre[1] - h / 2)), canvas.height - h)
    blur = max(2.0, h * 0.05)
    soft_shadow(canvas, sticker.getchannel("A"), (x, y), blur=blur, offset=(0, round(blur * 0.6)), opacity=0.3)
    canvas.paste(sticker, (x, y), sticker)
    return x, y, x + w, y + h
