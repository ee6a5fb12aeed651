"""AR makeup speed: our video pipeline vs a naive one, ms/frame at 1280x720 and 1920x1080, on one core.

What it measures: per-frame wall time of face detection + 478 landmarks + lips + blush + eyeshadow in video
mode, on the skimage astronaut photo placed in a 720p / 1080p frame (scaled with the frame, as a webcam
would see the same person), with fresh sensor noise in each frame.

- ours: `ar_tryon.VideoMakeup` — the face is tracked (the detector runs only to acquire it), FaceMesh reads a
  crop around the previous landmarks, and each effect works in uint8 Lab inside its own small box with
  LUTs and integer blending.
- naive: the same mediapipe models used the obvious way — the full-range detector on every frame, FaceMesh
  in image mode on its crop, and every effect blended over the whole frame in float32 Lab (full-frame
  masks, full-frame blur, full-frame colour conversion).

The process is pinned to one CPU core (`os.sched_setaffinity`) and OpenCV to one thread; torch is not
imported. Medians over the frames are printed, with the ratio naive / ours.

Run: `.venv/bin/python benchmarks/bench_ar.py [--frames 120]`
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import cv2
import mediapipe as mp
import numpy as np
from skimage import data

from ar_tryon import Look, VideoMakeup, default_catalog
from ar_tryon.makeup.regions import (
    LEFT_CHEEK,
    LEFT_EYE,
    LEFT_EYE_UPPER,
    LIPS_INNER,
    LIPS_OUTER,
    RIGHT_CHEEK,
    RIGHT_EYE,
    RIGHT_EYE_UPPER,
)

SHADES = ("LIP-102", "BLS-202", "EYE-303")


def frames_for(width: int, height: int, n: int, seed: int = 0) -> list[np.ndarray]:
    photo = data.astronaut()
    scale = height / 720
    person = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale != 1 else photo
    frame = np.full((height, width, 3), 90, np.uint8)
    y, x = (height - person.shape[0]) // 2, (width - person.shape[1]) // 2
    frame[y : y + person.shape[0], x : x + person.shape[1]] = person
    rng = np.random.default_rng(seed)
    noise = [rng.integers(-3, 4, frame.shape, dtype=np.int16) for _ in range(8)]
    return [np.clip(frame + noise[i % 8], 0, 255).astype(np.uint8) for i in range(n)]


class NaiveMakeup:
    """Detector every frame, FaceMesh in image mode, full-frame float32 Lab blending of each effect."""

    def __init__(self) -> None:
        self.detector = mp.solutions.face_detection.FaceDetection(model_selection=1)
        self.mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True)

    def landmarks(self, rgb: np.ndarray) -> np.ndarray | None:
        h, w = rgb.shape[:2]
        dets = self.detector.process(rgb).detections
        if not dets:
            return None
        box = dets[0].location_data.relative_bounding_box
        cx, cy = (box.xmin + box.width / 2) * w, (box.ymin + box.height / 2) * h
        side = 2 * max(box.width * w, box.height * h)
        x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
        result = self.mesh.process(np.ascontiguousarray(rgb[y0:y1, x0:x1]))
        if not result.multi_face_landmarks:
            return None
        pts = np.array([(p.x, p.y) for p in result.multi_face_landmarks[0].landmark], np.float32)
        return pts * [x1 - x0, y1 - y0] + [x0, y0]

    def process(self, rgb: np.ndarray, shades) -> np.ndarray:
        pts = self.landmarks(rgb)
        if pts is None:
            return rgb.copy()
        h, w = rgb.shape[:2]
        lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
        fw = float(np.linalg.norm(pts[454] - pts[234]))
        for shade in shades:
            mask = np.zeros((h, w), np.float32)
            if shade.product.value == "lips":
                cv2.fillPoly(mask, [pts[LIPS_OUTER].astype(np.int32)], 1.0)
                cv2.fillPoly(mask, [pts[LIPS_INNER].astype(np.int32)], 0.0)
                mask = cv2.GaussianBlur(mask, (5, 5), 0)
            elif shade.product.value == "blush":
                for cheek in (RIGHT_CHEEK, LEFT_CHEEK):
                    c = pts[cheek].mean(axis=0)
                    cv2.ellipse(mask, (int(c[0]), int(c[1])), (int(0.13 * fw), int(0.085 * fw)), 0, 0, 360, 1.0, -1)
                k = 2 * int(0.05 * fw) + 1
                mask = cv2.GaussianBlur(mask, (k, k), 0) * 0.45
            else:
                for eye, upper in ((RIGHT_EYE, RIGHT_EYE_UPPER), (LEFT_EYE, LEFT_EYE_UPPER)):
                    lid = pts[upper]
                    cv2.fillPoly(mask, [np.vstack([lid, (lid - [0, 0.25 * fw])[::-1]]).astype(np.int32)], 1.0)
                    cv2.fillPoly(mask, [pts[eye].astype(np.int32)], 0.0)
                mask = cv2.GaussianBlur(mask, (7, 7), 0)
            target = cv2.cvtColor(np.array([[shade.rgb]], np.float32) / 255.0, cv2.COLOR_RGB2LAB)[0, 0]
            shaded = lab.copy()
            shaded[..., 1], shaded[..., 2] = target[1], target[2]
            mean_l = float((lab[..., 0] * mask).sum() / max(mask.sum(), 1e-6))
            shaded[..., 0] = lab[..., 0] + (target[0] - mean_l)
            lab = lab + (shaded - lab) * mask[..., None]
        return np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB) * 255.0 + 0.5, 0, 255).astype(np.uint8)

    def close(self) -> None:
        self.detector.close()
        self.mesh.close()


def run(width: int, height: int, n: int) -> tuple[float, float]:
    catalog = default_catalog()
    shades = [catalog.get(s) for s in SHADES]
    look = Look.of(shades, 0.8)
    frames = frames_for(width, height, n)
    ours, naive = [], []
    with VideoMakeup() as video:
        for i, frame in enumerate(frames):
            work = frame.copy()  # the pipeline paints the frame it is given (a webcam buffer)
            t0 = time.perf_counter()
            result = video.process(work, look, i / 30.0, in_place=True)
            ours.append(time.perf_counter() - t0)
            if not result.faces:
                raise SystemExit(f"ours lost the face at frame {i} ({width}x{height})")
    baseline = NaiveMakeup()
    try:
        for frame in frames:
            t0 = time.perf_counter()
            baseline.process(frame, shades)
            naive.append(time.perf_counter() - t0)
    finally:
        baseline.close()
    warm = 5  # graph start-up and first detection are not steady state
    return statistics.median(ours[warm:]) * 1e3, statistics.median(naive[warm:]) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120)
    args = parser.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)
    print(
        f"one core (affinity {sorted(os.sched_getaffinity(0))}), cv2 threads {cv2.getNumThreads()}, "
        f"{args.frames} frames, effects: {', '.join(SHADES)}"
    )
    print(f"{'frame':>10} | {'ours ms':>8} | {'naive ms':>8} | {'speed-up':>8} | target")
    targets = {(1280, 720): 8.0, (1920, 1080): 12.0}
    for (w, h), target in targets.items():
        ours, naive = run(w, h, args.frames)
        ok = "ok" if ours <= target and naive / ours >= 3 else "MISSED"
        print(f"{f'{w}x{h}':>10} | {ours:8.2f} | {naive:8.2f} | {naive / ours:7.1f}x | <= {target:g} ms, >= 3x: {ok}")


if __name__ == "__main__":
    main()
