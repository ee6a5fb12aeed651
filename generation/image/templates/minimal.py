"""简约白 `minimal`: the product alone on warm white with a quiet title underneath."""

from __future__ import annotations

from PIL import Image, ImageDraw

from generation.image.palette import from_hex
from generation.image.templates.base import Scene, Template

__all__ = ["Minimal"]

_INK = (28, 28, 30)
_GREY = (96, 96, 100)


class Minimal(Template):
    name = "minimal"

    def render(self, scene: Scene) -> Image.Image:
        pal = scene.palette
        # 1. text first: a regular-weight title (bold by seed), a grey subtitle
        bold = bool(scene.rng.random() < 0.4)
        title, subtitle = scene.fit_stack(
            scene.box("text"),
            [
                ("title", scene.spec.title, scene.title_options(bold=bold, max_lines=3)),
                ("subtitle", scene.spec.subtitle, scene.text_options(0.036, share=0.45)),
            ],
            gap=0.015,
        )
        paper = from_hex(scene.data["colours"]["paper"])
        canvas = Image.new("RGB", scene.size, paper)
        # 2. the product, a hairline rule in the accent
        product = scene.place_product(canvas, scene.box("product"), radius=0.01)
        rule = scene.box("rule")
        colour = scene.choice([pal.accent, _INK])
        ImageDraw.Draw(canvas).rectangle((rule.x0, rule.y0, rule.x1, max(rule.y1, rule.y0 + 2)), fill=colour)
        # 3. words
        scene.draw_text(canvas, title, scene.ink_on(paper, _INK))
        scene.draw_text(canvas, subtitle, scene.ink_on(paper, _GREY))
        # 4. stickers, quiet: dark, barely turned
        scene.stickers(
            canvas,
            badge_at=(product[2], product[1] + scene.px(0.04)),
            price_at=(product[0] + scene.px(0.02), product[3] - scene.px(0.08)),
            badge_height=0.07,
            price_diameter=0.19,
            fill=pal.dark,
            tilt=3.0,
        )
        return canvas
