"""拼图 `collage`: two to four photos in a grid under a title, for sets, colourways and before/after."""

from __future__ import annotations

import math

from PIL import Image

from generation.image.draw import paste_card
from generation.image.palette import from_hex, mix
from generation.image.templates.base import Scene, Template
from generation.image.text import Box

__all__ = ["Collage", "grid_cells"]


def grid_cells(area: Box, n: int, gap: int, photo_aspect: float) -> list[Box]:
    """Cells for `n` photos in `area`: 2 side by side or stacked (whichever suits the photos' aspect),
    3 as one large and two small, 4 as 2 x 2."""
    x0, y0, x1, y1 = area.x0, area.y0, area.x1, area.y1
    if n == 2:
        side = Box(x0, y0, x0 + (area.width - gap) // 2, y1), Box(x0 + (area.width + gap) // 2, y0, x1, y1)
        stack = Box(x0, y0, x1, y0 + (area.height - gap) // 2), Box(x0, y0 + (area.height + gap) // 2, x1, y1)

        def misfit(cells: tuple[Box, ...]) -> float:
            return abs(math.log(cells[0].width / cells[0].height / photo_aspect))

        return list(side if misfit(side) <= misfit(stack) else stack)
    if n == 3:
        if area.width >= area.height * 0.9:  # large on the left, two stacked on the right
            xm = x0 + round(area.width * 0.58)
            ym = y0 + (area.height - gap) // 2
            return [
                Box(x0, y0, xm - gap // 2, y1),
                Box(xm + gap // 2, y0, x1, ym),
                Box(xm + gap // 2, ym + gap, x1, y1),
            ]
        ym = y0 + round(area.height * 0.56)
        xm = x0 + (area.width - gap) // 2
        return [Box(x0, y0, x1, ym - gap // 2), Box(x0, ym + gap // 2, xm, y1), Box(xm + gap, ym + gap // 2, x1, y1)]
    xm, ym = x0 + (area.width - gap) // 2, y0 + (area.height - gap) // 2
    return [Box(x0, y0, xm, ym), Box(xm + gap, y0, x1, ym), Box(x0, ym + gap, xm, y1), Box(xm + gap, ym + gap, x1, y1)]


class Collage(Template):
    name = "collage"

    def render(self, scene: Scene) -> Image.Image:
        pal = scene.palette
        # 1. text first
        title, subtitle = scene.fit_stack(
            scene.box("text"),
            [
                ("title", scene.spec.title, scene.title_options(max_lines=3)),
                ("subtitle", scene.spec.subtitle, scene.text_options(0.04, share=0.5)),
            ],
            valign="center",
        )
        bg = scene.choice([pal.light, from_hex(scene.data["colours"]["paper"])])
        ink = scene.ink_on(bg, pal.dark)
        canvas = Image.new("RGB", scene.size, bg)
        # 2. the grid of photos as rounded cards
        photos = scene.photos
        aspect = sum(p.rgb.shape[1] / p.rgb.shape[0] for p in photos) / len(photos)
        cells = grid_cells(scene.box("grid"), len(photos), scene.px(self.conf.get("gap", 0.018)), aspect)
        order = list(range(len(photos)))
        for cell, i in zip(cells, order, strict=True):
            card = scene.frame_photo(photos[i], (cell.width, cell.height), at=(cell.x0, cell.y0))
            paste_card(canvas, card, (cell.x0, cell.y0), radius=scene.px(0.025), shadow=scene.px(0.01))
        # 3. words
        scene.draw_text(canvas, title, ink)
        scene.draw_text(canvas, subtitle, scene.ink_on(bg, mix(ink, bg, 0.25)))
        # 4. stickers on the first cell's corner and the last cell's corner
        first, last = cells[0], cells[-1]
        scene.stickers(
            canvas,
            badge_at=(first.x0 + scene.px(0.1), first.y0 + scene.px(0.06)),
            price_at=(last.x1 - scene.px(0.12), last.y1 - scene.px(0.12)),
            price_diameter=0.2,
        )
        return canvas
