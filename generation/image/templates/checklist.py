"""三个理由 `checklist`: the title, the photo, and two to four reasons to buy with check marks."""

from __future__ import annotations

from PIL import Image, ImageDraw

from generation.image.draw import paste_card, rounded_mask
from generation.image.palette import from_hex, mix, with_contrast
from generation.image.templates.base import Scene, Template
from generation.image.text import Box

__all__ = ["Checklist"]

_WHITE = (255, 255, 255)


def _check(draw: ImageDraw.ImageDraw, cx: int, cy: int, r: int, fill: tuple, mark: tuple) -> None:
    """A filled circle with a check mark drawn as strokes (no font glyph needed)."""
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    w = max(2, round(r * 0.22))
    pts = [(cx - r * 0.45, cy + r * 0.02), (cx - r * 0.12, cy + r * 0.35), (cx + r * 0.48, cy - r * 0.32)]
    draw.line(pts, fill=mark, width=w, joint="curve")
    for x, y in (pts[0], pts[2]):
        draw.ellipse((x - w / 2, y - w / 2, x + w / 2, y + w / 2), fill=mark)


class Checklist(Template):
    name = "checklist"

    def render(self, scene: Scene) -> Image.Image:
        pal = scene.palette
        points = [(i, p) for i, p in enumerate(scene.spec.points) if p]
        photo = scene.photos[0]
        shape = (photo.cutout if photo.cutout is not None else photo.rgb).shape
        suffix = "_wide" if shape[1] > 1.15 * shape[0] and "photo_wide" in scene.layout else ""
        # 1. text first: title, label, one row per point
        title = scene.fit_title(max_lines=3)
        lb = scene.box("label" + suffix)
        label_box = Box(lb.x0 + scene.px(0.022), lb.y0, lb.x1, lb.y1)  # room for the chip's padding
        label = scene.fit(
            f"{len(points)}{scene.data['words']['checklist_label']}",
            label_box,
            max_size=round(label_box.height * 0.62),
            min_size=scene.text_min,
            bold=True,
            max_lines=1,
            align="left",
            param="points",
        )
        area = scene.box("list" + suffix)
        row_h = min(area.height // len(points), scene.px(0.2))
        icon_r = min(round(row_h * 0.26), scene.px(0.035))
        rows = []
        for k, (i, text) in enumerate(points):
            y0 = area.y0 + k * row_h
            box = Box(area.x0 + icon_r * 2 + scene.px(0.03), y0, area.x1, y0 + row_h - scene.px(0.012))
            rows.append(
                scene.fit(
                    text,
                    box,
                    max_size=scene.px(0.058),
                    min_size=scene.text_min,
                    max_lines=2,
                    align="left",
                    param=f"points.{i}",
                )
            )
        bg = scene.choice([pal.light, from_hex(scene.data["colours"]["paper"])])
        ink = scene.ink_on(bg, pal.dark)
        canvas = Image.new("RGB", scene.size, bg)
        draw = ImageDraw.Draw(canvas)
        # 2. the photo: the cut-out on a tinted card when clean, else the photo as a card
        pb = scene.box("photo" + suffix)
        if photo.cutout is not None:
            tint = mix(pal.accent, bg, 0.8)
            canvas.paste(tint, (pb.x0, pb.y0, pb.x1, pb.y1), rounded_mask((pb.width, pb.height), scene.px(0.035)))
            pad = scene.px(0.03)
            product = scene.place_product(
                canvas, Box(pb.x0 + pad, pb.y0 + pad, pb.x1 - pad, pb.y1 - pad), anchor="center"
            )
        else:
            card = scene.frame_photo(photo, (pb.width, pb.height), at=(pb.x0, pb.y0))
            product = paste_card(canvas, card, (pb.x0, pb.y0), radius=scene.px(0.035), shadow=scene.px(0.012))
        # 3. the label chip, the rows with check marks
        accent = with_contrast(pal.accent, _WHITE)
        lx0, ly0, lx1, ly1 = label.ink
        pad = scene.px(0.022)
        draw.rounded_rectangle(
            (lx0 - pad, ly0 - pad * 0.7, lx1 + pad, ly1 + pad * 0.7), radius=(ly1 - ly0) // 2 + pad, fill=accent
        )
        scene.draw_text(canvas, title, ink)
        draw = ImageDraw.Draw(canvas)
        scene.ts.draw(draw, label, _WHITE)
        for row in rows:
            first = row.lines[0]
            cy = first.baseline - round(row.size * 0.36)
            _check(draw, area.x0 + icon_r, cy, icon_r, accent, _WHITE)
            scene.ts.draw(draw, row, ink)
        # 4. stickers on the photo's corners
        scene.stickers(
            canvas,
            badge_at=(product[2] - scene.px(0.06), product[1] + scene.px(0.05)),
            price_at=(product[2] - scene.px(0.1), product[3] - scene.px(0.08)),
            price_diameter=0.19,
        )
        return canvas
