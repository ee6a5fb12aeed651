"""Cover composer speed: covers/s at 1242x1660 (3:4) on one core, end to end including JPEG encoding.

What it measures: `Composer()(photos, spec, seed)` followed by JPEG quality 90 encoding (what feeds serve),
over every template in turn with varying seeds and words, on synthesized 1500x2000 product photos (bottle,
box, jar on studio white and on a busy table). Cut-outs are cached per photo (the composer's LRU, warmed
before timing: a merchant makes many covers of the same photos); the first cut-out of each photo is timed
separately.

Baseline (same run, same photos and words): the `hero_blur` cover made the obvious way with PIL at full
resolution and no cache — the cut-out recomputed for every cover, the photo resized with LANCZOS from full
size, a full-resolution Gaussian blur, full-canvas alpha layers for the shadow and the product, and the title
fitted by loading the font at every size from the largest down with greedy wrapping. Our `hero_blur` is timed
on the same inputs for the ratio.

The process is pinned to one CPU core (`os.sched_setaffinity`), OpenCV and BLAS to one thread; torch is not
imported. Medians are printed.

Run: `.venv/bin/python benchmarks/bench_images.py [--covers 140] [--naive 8]`
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import io  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter, ImageFont  # noqa: E402

from generation.image.composer import Composer  # noqa: E402
from generation.image.cutout import alpha_box, cut_out  # noqa: E402
from generation.image.fonts import LANGUAGE, Fonts  # noqa: E402
from generation.image.schema import PRESET_SIZES, CoverSpec  # noqa: E402
from generation.image.testing import product_shot  # noqa: E402

TITLES = [
    "夏天必备的防晒霜，清爽不油腻",
    "被这款面霜种草了｜干皮救星",
    "学生党也能入手的平价护肤套装",
    "3.5ml小样也能用一个月",
    "通勤包里的补妆神器",
    "一瓶搞定早晚护肤，懒人必备",
]
POINTS = [
    ["轻薄不黏腻", "防水防汗", "敏感肌可用"],
    ["质地清爽好吸收", "大容量超耐用"],
    ["温和不刺激", "香味淡雅", "按压设计", "旅行装"],
]


def photos() -> list[np.ndarray]:
    kinds = [("bottle", "white"), ("box", "white"), ("jar", "busy"), ("bottle", "busy"), ("jar", "white")]
    return [product_shot(k, b, size=(1500, 2000), seed=i).rgb for i, (k, b) in enumerate(kinds)]


def spec_for(i: int, template: str) -> CoverSpec:
    return CoverSpec(
        title=TITLES[i % len(TITLES)],
        subtitle="温和保湿 一抹化水" if i % 2 else "",
        points=POINTS[i % len(POINTS)],
        price=[89.9, 129, 299, 59][i % 4],
        badge=["新品", "限时", "必入", ""][i % 4],
        template=template,
        preset="3:4",
    )


def encode_jpeg(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=90)
    return buf.getvalue()


class NaiveHeroBlur:
    """The hero_blur cover with PIL at full resolution and no caches (see the module docstring)."""

    def __init__(self, font_path: str) -> None:
        self.font_path = font_path

    def _fit_title(self, title: str, width: int, height: int, max_size: int, min_size: int):
        for size in range(max_size, min_size - 1, -2):  # load the font at every size, wrap greedily
            font = ImageFont.truetype(self.font_path, size, layout_engine=ImageFont.Layout.RAQM)
            lines, line = [], ""
            for ch in title:
                if font.getlength(line + ch, language=LANGUAGE) <= width:
                    line += ch
                else:
                    lines.append(line)
                    line = ch
            lines.append(line)
            if len(lines) * size * 1.22 <= height:
                return font, lines, size
        raise ValueError("title does not fit")

    def __call__(self, photo: np.ndarray, spec: CoverSpec) -> bytes:
        w, h = PRESET_SIZES[spec.preset]
        rgba = cut_out(photo)  # no cache
        src = Image.fromarray(photo)
        scale = max(w / src.width, h / src.height)
        big = src.resize((round(src.width * scale), round(src.height * scale)), Image.Resampling.LANCZOS)
        left, top = (big.width - w) // 2, (big.height - h) // 2
        canvas = big.crop((left, top, left + w, top + h)).filter(ImageFilter.GaussianBlur(w * 0.05))
        canvas = Image.blend(canvas, Image.new("RGB", (w, h), (20, 24, 40)), 0.45).convert("RGBA")
        x0, y0, x1, y1 = alpha_box(rgba[..., 3])
        product = Image.fromarray(rgba[y0:y1, x0:x1], "RGBA")
        bw, bh = round(w * 0.8), round(h * 0.58)
        s = min(bw / product.width, bh / product.height)
        product = product.resize((round(product.width * s), round(product.height * s)), Image.Resampling.LANCZOS)
        px, py = (w - product.width) // 2, round(h * 0.95) - product.height
        shadow_layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        shadow = Image.new("RGBA", product.size, (0, 0, 0, 110))
        shadow_layer.paste(shadow, (px + 15, py + 30), product.getchannel("A"))
        canvas = Image.alpha_composite(canvas, shadow_layer.filter(ImageFilter.GaussianBlur(30)))
        layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        layer.paste(product, (px, py))
        canvas = Image.alpha_composite(canvas, layer)
        font, lines, size = self._fit_title(spec.title, round(w * 0.86), round(h * 0.22), round(w * 0.13), 56)
        draw = ImageDraw.Draw(canvas)
        for k, line in enumerate(lines):
            lw = font.getlength(line, language=LANGUAGE)
            draw.text(
                ((w - lw) / 2, h * 0.05 + k * size * 1.22),
                line,
                font=font,
                fill=(255, 255, 255),
                stroke_width=round(size * 0.022),
                stroke_fill=(255, 255, 255),
                language=LANGUAGE,
            )
        buf = io.BytesIO()
        canvas.convert("RGB").save(buf, "JPEG", quality=90)
        return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--covers", type=int, default=140, help="covers timed for the composer")
    parser.add_argument("--naive", type=int, default=8, help="covers timed for the naive baseline")
    args = parser.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)
    assert "torch" not in sys.modules

    shots = photos()
    composer = Composer()
    templates = [t.name for t in composer.templates()]
    print(f"one core, cv2 threads={cv2.getNumThreads()}, photos 1500x2000, cover 3:4 {PRESET_SIZES['3:4']}, JPEG q90")

    # first cut-out of each photo (what a new photo costs once)
    firsts = []
    for p in shots:
        t0 = time.perf_counter()
        composer(
            [p], CoverSpec(title="预热", template="minimal", preset="3:4"), seed=0
        )  # prepares (cut-out + palette) and caches the photo
        firsts.append(time.perf_counter() - t0)
    print(f"first cover of a new photo (cut-out + palette + cover): median {statistics.median(firsts) * 1000:.0f} ms")

    # warm-up: every template once (fonts, jieba, caches)
    for i, t in enumerate(templates):
        ph = shots[:2] if t == "collage" else shots[:1]
        encode_jpeg(composer(ph, spec_for(i, t), seed=i).image)

    per_template: dict[str, list[float]] = {t: [] for t in templates}
    t_all = time.perf_counter()
    for i in range(args.covers):
        t = templates[i % len(templates)]
        ph = [shots[(i + k) % len(shots)] for k in range(2 + i % 3)] if t == "collage" else [shots[i % len(shots)]]
        t0 = time.perf_counter()
        cover = composer(ph, spec_for(i, t), seed=1000 + i)
        data = encode_jpeg(cover.image)
        per_template[t].append(time.perf_counter() - t0)
        assert data[:2] == b"\xff\xd8"
    elapsed = time.perf_counter() - t_all
    rate = args.covers / elapsed
    print(f"\ncomposer, cut-outs cached: {args.covers} covers in {elapsed:.2f} s = {rate:.1f} covers/s (target >= 10)")
    for t, times in per_template.items():
        print(f"  {t:<10} median {statistics.median(times) * 1000:6.1f} ms  ({len(times)} covers)")

    # the baseline on hero_blur, same photos and words, and ours on the same inputs
    naive = NaiveHeroBlur(Fonts().regular.path)
    naive_times, ours_times = [], []
    for i in range(args.naive):
        p, spec = shots[i % len(shots)], spec_for(i, "hero_blur")
        t0 = time.perf_counter()
        naive(p, spec)
        naive_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        encode_jpeg(composer([p], spec, seed=i).image)
        ours_times.append(time.perf_counter() - t0)
    n_med, o_med = statistics.median(naive_times), statistics.median(ours_times)
    print(f"\nhero_blur, naive PIL full-resolution, no cache: median {n_med * 1000:.0f} ms = {1 / n_med:.1f} covers/s")
    print(f"hero_blur, composer (cached cut-out):          median {o_med * 1000:.0f} ms = {1 / o_med:.1f} covers/s")
    print(f"ratio naive / composer: {n_med / o_med:.1f}x")


if __name__ == "__main__":
    main()
