"""Garment try-on speed on a 1080p photo, one core: `GarmentTryOn` (worn) vs `FlatGarmentTryOn` (the old paste).

What it measures: wall time of one `process()` call (pose landmarks + selfie segmentation + placing and
compositing the garment) on real full-body photos scaled to fill a 1920x1080 frame (opencv-doc's
basketball1.png and messi5.jpg from tests/ar_tryon/data), for an upper, a lower and a dress garment
(ar_tryon.garment.samples). Both renderers share one pose landmarker and one segmenter, so the difference is
the rendering. The landmarks alone (pose + segmentation on the frame) are timed too.

The process is pinned to one CPU core (`os.sched_setaffinity`) and OpenCV to one thread. Medians over the
repeats are printed, with the ratio worn / flat.

Run: `.venv/bin/python benchmarks/bench_garment.py [--repeats 15]`
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from ar_tryon.garment import FlatGarmentTryOn, GarmentTryOn
from ar_tryon.garment.samples import dress, long_sleeve, trousers, tshirt

DATA = Path(__file__).resolve().parent.parent / "tests" / "ar_tryon" / "data"


def frame_1080p(name: str) -> np.ndarray:
    rgb = np.ascontiguousarray(cv2.imread(str(DATA / name), cv2.IMREAD_COLOR)[..., ::-1])
    scale = min(1920 / rgb.shape[1], 1080 / rgb.shape[0])
    big = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    frame = np.full((1080, 1920, 3), 90, np.uint8)
    y, x = (1080 - big.shape[0]) // 2, (1920 - big.shape[1]) // 2
    frame[y : y + big.shape[0], x : x + big.shape[1]] = big
    return frame


def median_ms(fn, repeats: int) -> float:
    fn()  # warm up (graph set-up, first-call allocations)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)
    worn = GarmentTryOn()
    flat = FlatGarmentTryOn(worn.pose, worn.segmenter)
    garments = {"upper (t-shirt)": (tshirt(), "upper"), "upper (long sleeves)": (long_sleeve(), "upper"),
                "lower (trousers)": (trousers(), "lower"), "dress": (dress(), "dress")}  # fmt: skip
    print(f"1920x1080, one core, median of {args.repeats}")
    print("| photo | garment | worn ms | flat ms | worn / flat |\n|---|---|---|---|---|")
    for photo in ("basketball1.png", "messi5.jpg"):
        rgb = frame_1080p(photo)

        def landmarks(rgb: np.ndarray = rgb) -> None:
            worn._person(rgb, worn.pose.process_image(rgb))

        marks = median_ms(landmarks, args.repeats)
        for label, (garment, category) in garments.items():
            ours = median_ms(lambda r=rgb, g=garment, c=category: worn.process(r, g, c), args.repeats)
            base = median_ms(lambda r=rgb, g=garment, c=category: flat.process(r, g, c), args.repeats)
            print(f"| {photo} | {label} | {ours:.1f} | {base:.1f} | {ours / base:.2f} |")
        print(f"| {photo} | landmarks only (pose + segmentation) | {marks:.1f} | | |")
    worn.close()


if __name__ == "__main__":
    main()
