"""图文分栏 `panel`: the photo on top (one, or two side by side), a colour panel below with the words."""

from __future__ import annotations

from PIL import Image, ImageDraw

from generation.image.palette import mix, with_contrast
from generation.image.templates.base import Scene, Template

__all__ = ["Panel"]

_WHITE = (255, 255, 255)


class Panel(Template):
    name = "panel"

    def render(self, scene: Scene) -> Image.Image:
        pal = scene.palette
        align = scene.choice(["left", "center"])
        scheme = scene.choice(["light", "accent", "dark"])
        # 1. text first
        points = "  ·  ".join(p for p in scene.spec.points if p)
        title, subtitle, points = scene.fit_stack(
            scene.box("text"),
            [
                ("title", scene.spec.title, scene.title_options(align=align, max_lines=3)),
                ("subtitle", scene.spec.subtitle, scene.text_options(0.04, align=align, share=0.4)),
                ("points", points, scene.text_options(0.034, align=align, share=0.36)),
            ],
            gap=0.015,
        )
        # 2. panel colours: pale with dark words, the accent or the dark shade with white words
        if scheme == "light":
            bg, ink = pal.light, scene.ink_on(pal.light, pal.dark)
        elif scheme == "accent":
            bg = with_contrast(pal.accent, _WHITE)
            ink = _WHITE
        else:
            bg, ink = pal.dark, scene.ink_on(pal.dark, _WHITE)
        soft = scene.ink_on(bg, mix(ink, bg, 0.22))
        canvas = Image.new("RGB", scene.size, bg)
        # 3. the photo area, one photo or two side by side
        area = scene.box("photo")
        gap = scene.px(0.012)
        n = len(scene.photos)
        cell_w = (area.width - gap * (n - 1)) // n
        for i, photo in enumerate(scene.photos):
            x = area.x0 + i * (cell_w + gap)
            w = area.width - (n - 1) * (cell_w + gap) if i == n - 1 else cell_w
            canvas.paste(scene.frame_photo(photo, (w, area.height), at=(x, area.y0)), (x, area.y0))
        # 4. a short accent bar, then the words
        draw = ImageDraw.Draw(canvas)
        bar_w, bar_h = scene.px(0.09), scene.px(0.009)
        bar_colour = pal.accent if scheme != "accent" else _WHITE
        bx = title.box.x0 if align == "left" else (scene.width - bar_w) // 2
        by = area.y1 + (title.ink[1] - area.y1) // 2 - bar_h // 2
        draw.rounded_rectangle((bx, by, bx + bar_w, by + bar_h), radius=bar_h // 2, fill=bar_colour)
        scene.draw_text(canvas, title, ink)
        scene.draw_text(canvas, subtitle, soft)
        scene.draw_text(canvas, points, soft)
        # 5. stickers: the badge on the photo, the price on the seam between photo and panel
        scene.stickers(
            canvas,
            badge_at=(scene.px(0.17), area.y0 + scene.px(0.12)),
            price_at=(scene.width - scene.px(0.17), area.y1 - scene.px(0.03)),
        )
        return canvas
