"""Cut-out quality on real photos (hand-traced outlines) and on the drawn product shots.

What it reports, per real photo of `tests/generation/data/real_photos.yaml`: IoU of the cut-out with the traced
product (pixels marked `ignore` left out), whether `is_clean` accepts it, the plausibility figures of
`generation.image.cutout.assess`, and the time of one cut-out. Then IoU over the drawn shots (3 kinds on studio
white and on a busy table). A cut-out counts as *right* when it is accepted and IoU >= 0.8, or when it is
declared not clean (the composer then frames the photo: no broken product on a cover); *wrong* when it is
accepted with IoU < 0.8, or declared not clean on a studio shot.

Run: `.venv/bin/python benchmarks/eval_cutout.py [--save DIR]` (DIR gets each cut-out over a checkerboard, PNG).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from generation.image.cutout import cut_out_checked
from generation.image.testing import iou, labelled_photos, product_shot

DATA = Path(__file__).resolve().parents[1] / "tests" / "generation" / "data" / "real_photos.yaml"


def _preview(rgba: np.ndarray, mask: np.ndarray | None) -> Image.Image:
    h, w = rgba.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    board = np.where(((yy // 16 + xx // 16) % 2)[..., None] == 0, 200, 255).astype(np.float32)
    a = rgba[..., 3:4].astype(np.float32) / 255
    out = rgba[..., :3] * a + board * (1 - a)
    if mask is not None:  # the traced outline in magenta
        edge = mask ^ np.pad(mask, 1, mode="edge")[2:, 1:-1] | mask ^ np.pad(mask, 1, mode="edge")[1:-1, 2:]
        out[edge] = (255, 0, 255)
    return Image.fromarray(out.astype(np.uint8))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--save", type=Path, default=None, help="write previews here")
    args = ap.parse_args()
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    photos, missing = labelled_photos(DATA)
    print(f"real photos: {len(photos)} ({', '.join(missing) or 'none'} missing)")
    print(f"{'photo':16s} {'kind':8s} {'IoU':>5s} {'clean':>5s} {'ms':>5s}  verdict  plausibility")
    right = 0
    for p in photos:
        cut_out_checked(p.rgb)
        t = time.perf_counter()
        cut = cut_out_checked(p.rgb)
        ms = (time.perf_counter() - t) * 1000
        rgba, alpha = cut.rgba, cut.rgba[..., 3]
        score = iou(alpha[~p.ignore], p.mask[~p.ignore]) if p.mask is not None else float("nan")
        ok = (not cut.clean) or (p.mask is not None and score >= 0.8)
        right += ok
        a = cut.assessment
        figures = (
            f"{cut.source:5s} agree {cut.agreement:.2f} solidity {a.solidity:.2f} edge {a.edge_support:.2f}"
            f" {cut.reason}"
        )
        verdict = "right" if ok else "WRONG"
        print(f"{p.name:16s} {p.kind:8s} {score:5.2f} {cut.clean!s:>5s} {ms:5.0f}  {verdict:7s}  {figures}")
        if args.save:
            _preview(rgba, p.mask).save(args.save / f"{p.name}.png")
    print(f"right on {right}/{len(photos)} real photos")
    for background in ("white", "busy"):
        scores, accepted = [], 0
        for kind in ("bottle", "box", "jar"):
            for seed in range(4):
                shot = product_shot(kind, background, size=(900, 1200), seed=seed)
                cut = cut_out_checked(shot.rgb)
                scores.append(iou(cut.rgba[..., 3], shot.mask))
                accepted += cut.clean
        print(
            f"drawn {background:5s}: IoU min {min(scores):.3f} mean {statistics.mean(scores):.3f},"
            f" accepted {accepted}/{len(scores)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
