"""Image moderation speed on one core: OCR + QR of listing images, and the nudity detector, in images/s.

What it measures, in one process pinned to one CPU core (`os.sched_setaffinity`, onnxruntime intra-op threads 1,
OpenCV 1 thread, OMP_NUM_THREADS=1):

- ours: `moderation.image_text.ImageTextReader.read` — OCR of the image scaled to 960 px on its long side plus
  QR decoding (`data/image_policy.yaml`);
- baseline: RapidOCR with its default settings on the full-resolution image (what calling the library on the
  upload gives; its detector scales the short side to at least 736 px but never down), OCR only;

on realistic listing photos (skimage's coffee cup at 1080x1440 with and without a Chinese text overlay, a
1080x1440 photo with a QR code, a 750x4500 product-detail strip). Both must read the overlay's WeChat id and phone
number (checked). Then `moderation.nudity.NudityDetector.detect` (NudeNet 320n) on a 1080x1440 photo and on the
512x512 astronaut, when nudenet is installed. Medians over repeats are printed, with the ratio.

Run: `.venv/bin/python benchmarks/bench_image_text.py [--repeats 5]`
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402
from skimage import data  # noqa: E402

from generation.image.fonts import wheel_font  # noqa: E402
from moderation.image_text import ImageTextReader  # noqa: E402
from moderation.normalize import normalize  # noqa: E402
from moderation.rules import find_contact_details  # noqa: E402


def overlay(rgb: np.ndarray, lines: list[tuple[str, tuple[int, int], int]]) -> np.ndarray:
    font_file = wheel_font()
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    for text, xy, size in lines:
        font = ImageFont.truetype(font_file.path, size, index=font_file.index)
        draw.text(xy, text, font=font, fill=(255, 255, 255), stroke_width=3, stroke_fill=(0, 0, 0))
    return np.asarray(image)


def listing_images() -> dict[str, np.ndarray]:
    photo = cv2.resize(data.coffee(), (1080, 1440), interpolation=cv2.INTER_CUBIC)
    with_text = overlay(photo, [("加微信 abc12345 领优惠", (60, 80), 56), ("电话 138 1234 5678", (60, 1250), 56)])
    qr = cv2.QRCodeEncoder.create().encode("https://u.wechat.com/EFa1b2c3d4")
    qr = cv2.resize(qr, None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)
    with_qr = cv2.resize(data.chelsea(), (1080, 1440), interpolation=cv2.INTER_CUBIC)
    with_qr[1000 : 1000 + qr.shape[0], 700 : 700 + qr.shape[1]] = qr[..., None]
    strip = np.concatenate([cv2.resize(data.coffee(), (750, 500))] * 9, axis=0)
    strip = overlay(strip, [("微信号 shop8888 咨询", (40, 3000), 40)])
    return {
        "1080x1440 photo, text overlay": with_text,
        "1080x1440 photo, no text": photo,
        "1080x1440 photo, QR code": with_qr,
        "750x4500 detail strip, text": strip,
    }


def median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (first call builds sessions, allocates arenas)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def contacts(text: str) -> list[str]:
    return sorted("".join(e.text.split()) for h in find_contact_details("x", normalize(text)) for e in h.evidence)


def row(name: str, t_ours: float, t_base: float, count: int) -> str:
    rates = f"{t_ours:>8.3f} {count / t_ours:>7.2f} {t_base:>11.3f} {count / t_base:>7.2f}"
    return f"{name:<32} {rates} {t_base / t_ours:>5.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)

    from rapidocr_onnxruntime import RapidOCR

    ours = ImageTextReader(threads=1)
    baseline = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
    print(f"one core (pinned to CPU {sorted(os.sched_getaffinity(0))[0]}), {args.repeats} repeats, medians\n")
    print(
        f"{'image':<32} {'ours s':>8} {'img/s':>7} {'baseline s':>11} {'img/s':>7} {'ratio':>6}  read: ours / baseline"
    )
    total_ours = total_base = 0.0
    images = listing_images()
    for name, rgb in images.items():
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        t_ours = median_time(lambda rgb=rgb: ours.read(rgb), args.repeats)
        t_base = median_time(lambda bgr=bgr: baseline(bgr), args.repeats)
        read = ours.read(rgb)
        result, _ = baseline(bgr)
        base_text = "\n".join(line[1] for line in result or [] if float(line[2]) >= 0.5)
        found = f"{contacts(read.text) + [q.payload for q in read.qr_codes]} / {contacts(base_text)}"
        print(row(name, t_ours, t_base, 1) + f"  {found}")
        total_ours += t_ours
        total_base += t_base
    print(row(f"all {len(images)}", total_ours, total_base, len(images)))

    try:
        from moderation.nudity import NudityDetector

        detector = NudityDetector(threads=1)
    except ImportError as exc:
        print(f"\nnudity detector skipped: {exc}")
        return
    print("\nnudity detector (NudeNet 320n), one core")
    for name, rgb in (
        ("1080x1440 photo", images["1080x1440 photo, no text"]),
        ("512x512 astronaut", data.astronaut()),
    ):
        t = median_time(lambda rgb=rgb: detector.detect(rgb), max(args.repeats, 20))
        print(f"{name:<32} {t * 1000:>8.1f} ms  {1 / t:>7.1f} img/s  {[d.label for d in detector.detect(rgb)]}")


if __name__ == "__main__":
    main()
