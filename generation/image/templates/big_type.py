"""大字报 `big_type`: a huge title on a solid colour with a marker highlight, the product below."""

from __future__ import annotations

from PIL import Image, ImageDraw

from generation.image.palette import from_hex, mix, with_contrast
from generation.image.templates.base import Scene, Template

__all__ = ["BigType"]

_WHITE = (255, 255, 255)


class BigType(Template):
    name = "big_type"

    def render(self, scene: Scene) -> Image.Image:
        pal = scene.palette
        highlight = from_hex(scene.data["colours"]["highlight"])
        scheme = scene.choice(["accent", "light"])
        # 1. text first: the title as large as its box allows, left-aligned
        title, subtitle = scene.fit_stack(
            scene.box("text"),
            [
                ("title", scene.spec.title, scene.title_options(align="left")),
                ("subtitle", scene.spec.subtitle, scene.text_options(0.045, align="left", share=0.45)),
            ],
            gap=0.05,  # room for the marker under the title
        )
        if scheme == "accent":
            bg = with_contrast(pal.accent, _WHITE)
            ink = _WHITE
        else:
            bg = pal.light
            ink = scene.ink_on(highlight, pal.dark)  # readable on the highlight and (darker) on the pale ground
            ink = scene.ink_on(bg, ink)
        canvas = Image.new("RGB", scene.size, bg)
        draw = ImageDraw.Draw(canvas)
        # 2. the marker: under the last line (pale ground) or a thick bar under the title (colour ground)
        last = title.lines[-1]
        if scheme == "light":
            x0, y0, x1, y1 = last.ink
            mid = last.baseline - round(title.size * 0.32)
            draw.rectangle(
                (x0 - scene.px(0.01), mid, x1 + scene.px(0.01), last.baseline + round(title.size * 0.1)), fill=highlight
            )
        else:
            y = title.ink[3] + scene.px(0.015)
            draw.rectangle((title.box.x0, y, title.box.x0 + scene.px(0.2), y + scene.px(0.012)), fill=highlight)
        # 3. the product in the lower part
        product = scene.place_product(canvas, scene.box("product"), border=0.012 if scheme == "accent" else 0.0)
        # 4. words
        scene.draw_text(canvas, title, ink)
        scene.draw_text(canvas, subtitle, scene.ink_on(bg, mix(ink, bg, 0.2)))
        scene.stickers(
            canvas,
            badge_at=(product[0] + scene.px(0.04), product[1] + scene.px(0.06)),
            price_at=(product[0] + scene.px(0.02), product[3] - scene.px(0.12)),
        )
        return canvas
