"""价格标签 `price_tag`: the product in a spotlight with a big swing tag showing the price."""

from __future__ import annotations

from PIL import Image, ImageDraw

from generation.image.palette import from_hex, mix, with_contrast
from generation.image.stickers import paste_sticker, price_tag
from generation.image.templates.base import Scene, Template, free_spot, turned_size

__all__ = ["PriceTag"]

_WHITE = (255, 255, 255)


class PriceTag(Template):
    name = "price_tag"

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
        tag_box = scene.box("tag")
        fills = [from_hex(c) for c in scene.data["colours"]["sticker_fills"]]
        tag_fill = with_contrast(scene.choice([fills[0], pal.accent, fills[2]]), _WHITE)
        tag = price_tag(
            scene.ts,
            scene.spec.price,
            (tag_box.width, tag_box.height),
            tag_fill,
            scene.data["words"]["price_label"],
            min_size=scene.text_min,
        )
        # 2. the tag's place is kept before the product is sized (the badge needs room besides it)
        angle = float(scene.rng.uniform(-4, 4))
        centre = ((tag_box.x0 + tag_box.x1) // 2, (tag_box.y0 + tag_box.y1) // 2)
        tw, th = turned_size(tag.size, angle)
        reserved = (centre[0] - tw // 2, centre[1] - th // 2, centre[0] - tw // 2 + tw, centre[1] - th // 2 + th)
        scene.taken.append(reserved)
        # 3. a pale ground with a spotlight behind the product
        bg = pal.light
        canvas = Image.new("RGB", scene.size, bg)
        box = scene.box("product")
        spot = mix(pal.accent, bg, 0.72)
        r = round(max(box.width, box.height) * 0.47)
        cx, cy = (box.x0 + box.x1) // 2, (box.y0 + box.y1) // 2
        ImageDraw.Draw(canvas).ellipse((cx - r, cy - r, cx + r, cy + r), fill=spot)
        product = scene.place_product(canvas, box, border=0.012, stickers=("badge",))
        # 4. words and the tag (moved off the product if turning it made it reach over)
        ink = scene.ink_on(bg, pal.dark)
        scene.draw_text(canvas, title, ink)
        scene.draw_text(canvas, subtitle, scene.ink_on(bg, mix(ink, bg, 0.25)))
        scene.taken.remove(reserved)
        words = [block.ink for _, block in scene.blocks]
        centre = free_spot(centre, (tw, th), words + scene.products, scene.size, scene.px(0.006)) or centre
        placed = paste_sticker(canvas, tag, centre, angle=angle)
        scene.taken.append(placed)
        scene.placed.append(("tag", placed))
        # 5. the badge on the product's shoulder (no second price)
        scene.stickers(canvas, badge_at=(product[0] + scene.px(0.03), product[1] + scene.px(0.05)), price_at=None)
        return canvas
