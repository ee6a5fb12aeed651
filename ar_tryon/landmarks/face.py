"""Face landmarks (mediapipe FaceMesh, 478 points with refined lips/eyes/iris) that also find small faces.

Pipeline per image: (1) the full-range face detector (`model_selection=1`, faces up to ~5 m) finds boxes in
the whole frame; (2) FaceMesh runs on a square crop of `crop_scale` x the box; (3) points are mapped back to
frame pixels. If the detector finds nothing (extreme close-ups), FaceMesh runs on the whole frame.

In video mode each face is a track: the crop comes from the previous frame's landmarks, FaceMesh keeps its
own tracking state, and the detector runs only to (re)acquire faces — when a track is lost, or every
`redetect_interval` frames while fewer faces than `max_num_faces` are tracked. Points are smoothed with a
One-Euro filter so a still face does not jitter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import mediapipe as mp
import numpy as np

from ar_tryon.landmarks.face_mesh import CropMesh, square_crop_box
from ar_tryon.landmarks.types import FaceLandmarks
from ar_tryon.smoothing import OneEuroFilter, OneEuroOptions

__all__ = ["FaceLandmarkerOptions", "FaceLandmarker"]


@dataclass(frozen=True)
class FaceLandmarkerOptions:
    """Options (ranges are checked).

    Attributes:
        max_num_faces: 1..8. 1 = the largest face only; more = up to that many, largest first.
        refine_landmarks: True gives 478 points (irises, finer lips/eyes); False gives 468.
        min_detection_confidence: [0, 1]. Detector score needed to accept a face.
        min_tracking_confidence: [0, 1]. FaceMesh presence needed to keep tracking in video mode.
        crop_scale: [1.2, 4]. Crop side relative to the detected box side; ~2 leaves room for the forehead/chin.
        max_crop_side: [96, 1024] px. Larger crops are downscaled before FaceMesh (it reads 192x192 anyway).
        redetect_interval: >= 1 frames. How often video mode looks for more faces while under `max_num_faces`.
        smoothing: One-Euro parameters for video mode; None disables smoothing.
    """

    max_num_faces: int = 1
    refine_landmarks: bool = True
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    crop_scale: float = 2.0
    max_crop_side: int = 384
    redetect_interval: int = 30
    smoothing: OneEuroOptions | None = field(default_factory=OneEuroOptions)

    def __post_init__(self) -> None:
        checks = {
            "max_num_faces": 1 <= self.max_num_faces <= 8,
            "min_detection_confidence": 0.0 <= self.min_detection_confidence <= 1.0,
            "min_tracking_confidence": 0.0 <= self.min_tracking_confidence <= 1.0,
            "crop_scale": 1.2 <= self.crop_scale <= 4.0,
            "max_crop_side": 96 <= self.max_crop_side <= 1024,
            "redetect_interval": self.redetect_interval >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"FaceLandmarkerOptions.{name} is out of range: {getattr(self, name)!r}")


_Box = tuple[int, int, int, int]


@dataclass
class _Track:
    mesh: CropMesh
    crop: tuple[int, int, int, int]
    filter: OneEuroFilter | None
    last: np.ndarray | None = None


class FaceLandmarker:
    """Face landmarks for photos (`process_image`) and video streams (`process_frame`).

    Not thread-safe: one instance per thread or per stream. Use as a context manager or call `close()`.
    """

    #: The bundled mediapipe models this runs (file names in the mediapipe wheel).
    MODELS = ("face_detection_full_range_sparse", "face_landmark_with_attention")

    def __init__(self, options: FaceLandmarkerOptions | None = None) -> None:
        self.options = options or FaceLandmarkerOptions()
        self._detector = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=self.options.min_detection_confidence
        )
        self._image_mesh: CropMesh | None = None
        self._tracks: list[_Track] = []
        self._spare: list[CropMesh] = []
        self._frames = 0
        self._size: tuple[int, int] | None = None
        self._closed = False

    @classmethod
    def create_from_options(cls, options: FaceLandmarkerOptions | None = None) -> FaceLandmarker:
        """Factory in the mediapipe style."""
        return cls(options)

    # -- photos -----------------------------------------------------------------------------------------
    def process_image(self, rgb: np.ndarray, max_faces: int | None = None) -> list[FaceLandmarks]:
        """Faces, largest first; [] when there is none.

        Args:
            rgb: HxWx3 uint8 image.
            max_faces: at most this many (default `options.max_num_faces`, and never more than it). With 1,
                the search for small faces stops at the first face found.
        """
        self._check(rgb)
        limit = min(max_faces or self.options.max_num_faces, self.options.max_num_faces)
        if self._image_mesh is None:
            self._image_mesh = self._new_mesh(video=False)
        faces = []
        for crop, score in self._detect(rgb, limit=limit)[:limit]:
            points = self._image_mesh.run(rgb, crop)
            if points is not None:
                faces.append(FaceLandmarks(points, score))
        if not faces:  # close-ups the full-range detector misses: FaceMesh's own short-range detector
            h, w = rgb.shape[:2]
            points = self._image_mesh.run(rgb, (0, 0, w, h))
            if points is not None:
                faces.append(FaceLandmarks(points, 1.0))
        return _dedupe(sorted(faces, key=lambda f: -f.area))[:limit]

    # -- video ------------------------------------------------------------------------------------------
    def process_frame(self, rgb: np.ndarray, timestamp_s: float | None = None) -> list[FaceLandmarks]:
        """Faces in one video frame, tracked from the previous frames and smoothed. Largest first.

        Args:
            rgb: HxWx3 uint8 frame.
            timestamp_s: capture time in seconds (monotonic); default: now.
        """
        self._check(rgb)
        t = time.monotonic() if timestamp_s is None else timestamp_s
        h, w = rgb.shape[:2]
        if (w, h) != self._size:  # a new stream geometry: crops from the old one mean nothing
            self.reset()
            self._size = (w, h)
        self._frames += 1
        faces: list[FaceLandmarks] = []
        for track in list(self._tracks):
            points = track.mesh.run(rgb, track.crop)
            if points is None:
                self._drop(track)
                continue
            faces.append(self._update(track, points, t, w, h))
        wanted = self.options.max_num_faces - len(self._tracks)
        if wanted > 0 and (not self._tracks or self._frames % self.options.redetect_interval == 0):
            # The tiled search (~10 detector runs at 1080p) only every 10th frame while nobody is tracked.
            for crop, score in self._detect(rgb, tiled=self._frames % 10 == 1, limit=wanted):
                if wanted == 0:
                    break
                if any(_overlaps(crop, tr.crop) for tr in self._tracks):
                    continue
                track = _Track(
                    self._spare.pop() if self._spare else self._new_mesh(video=True),
                    crop,
                    OneEuroFilter(self.options.smoothing) if self.options.smoothing else None,
                )
                points = track.mesh.run(rgb, crop)
                if points is None:
                    self._spare.append(track.mesh)
                    continue
                self._tracks.append(track)
                faces.append(self._update(track, points, t, w, h, score))
                wanted -= 1
        return sorted(faces, key=lambda f: -f.area)

    def reset(self) -> None:
        """Forget all tracks (e.g. when the stream jumps to another scene)."""
        for track in list(self._tracks):
            self._drop(track)

    # -- lifecycle --------------------------------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._detector.close()
        for mesh in [t.mesh for t in self._tracks] + self._spare + ([self._image_mesh] if self._image_mesh else []):
            mesh.close()
        self._tracks, self._spare = [], []

    def __enter__(self) -> FaceLandmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------------------
    def _check(self, rgb: np.ndarray) -> None:
        if self._closed:
            raise RuntimeError("FaceLandmarker is closed")
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"rgb must be an HxWx3 uint8 array, got {getattr(rgb, 'shape', type(rgb))}")

    def _new_mesh(self, video: bool) -> CropMesh:
        o = self.options
        return CropMesh(
            video, o.refine_landmarks, o.min_detection_confidence, o.min_tracking_confidence, o.max_crop_side
        )

    def _detect(
        self, rgb: np.ndarray, tiled: bool = True, limit: int = 1
    ) -> list[tuple[tuple[int, int, int, int], float]]:
        """Square crops around detected faces, largest first.

        The detector letterboxes its input to 192x192, so a face under ~5% of the frame width is missed. When the
        whole frame gives fewer than `limit` faces, square tiles (side = the frame's short side, then half of it,
        25% overlap) are searched as well: more pixels per face for the detector, at a few ms per tile.
        """
        h, w = rgb.shape[:2]
        found = self._detect_in(rgb, 0, 0, w, h)
        if len(found) < limit and tiled:
            side = min(h, w)
            for level_side in (side, side // 2):
                if level_side < 128:
                    break
                for x0, y0 in _tiles(w, h, level_side):
                    found += self._detect_in(rgb, x0, y0, level_side, level_side)
                if len(_nms(found)) >= limit:
                    break
        return _nms(found)

    def _detect_in(self, rgb: np.ndarray, x0: int, y0: int, tw: int, th: int) -> list:
        h, w = rgb.shape[:2]
        tile = rgb if (tw, th) == (w, h) else np.ascontiguousarray(rgb[y0 : y0 + th, x0 : x0 + tw])
        result = self._detector.process(tile)
        found = []
        for det in result.detections or []:
            box = det.location_data.relative_bounding_box
            bw, bh = box.width * tw, box.height * th
            if bw <= 1 or bh <= 1:
                continue
            cx, cy = x0 + (box.xmin + box.width / 2) * tw, y0 + (box.ymin + box.height / 2) * th
            side = max(bw, bh) * self.options.crop_scale
            found.append((square_crop_box(cx, cy, side, w, h), float(det.score[0]), bw * bh))
        return found

    def _update(self, track: _Track, points: np.ndarray, t: float, w: int, h: int, score: float = 1.0) -> FaceLandmarks:
        x0, y0 = points[:, :2].min(axis=0)
        x1, y1 = points[:, :2].max(axis=0)
        size = max(x1 - x0, y1 - y0)
        if track.filter is not None:
            points = track.filter(points, t, scale=float(size))
        track.last = points
        # Re-centre the crop only when the face drifted or resized noticeably: a steady crop keeps
        # FaceMesh's own tracking (and the landmarks) steady.
        cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, size * self.options.crop_scale * 0.75
        c = track.crop
        ccx, ccy, cside = (c[0] + c[2]) / 2, (c[1] + c[3]) / 2, max(c[2] - c[0], c[3] - c[1])
        if abs(cx - ccx) > 0.1 * cside or abs(cy - ccy) > 0.1 * cside or abs(side / max(cside, 1) - 1) > 0.2:
            track.crop = square_crop_box(cx, cy, side, w, h)
        return FaceLandmarks(points, score)

    def _drop(self, track: _Track) -> None:
        self._tracks.remove(track)
        track.mesh.close()  # a fresh graph for the next face: stale internal tracking state would mislead it


def _nms(found: list) -> list[tuple[tuple[int, int, int, int], float]]:
    """Largest first, dropping boxes that overlap a kept one (one face seen in several tiles)."""
    kept: list[tuple[tuple[int, int, int, int], float]] = []
    for crop, score, _ in sorted(found, key=lambda f: -f[2]):
        if not any(_overlaps(crop, k[0]) for k in kept):
            kept.append((crop, score))
    return kept


def _tiles(w: int, h: int, side: int) -> list[tuple[int, int]]:
    """Top-left corners of `side`-square tiles covering a w x h frame with >= 25% overlap."""

    def starts(length: int) -> list[int]:
        if length <= side:
            return [0]
        n = int(np.ceil((length - side) / (0.75 * side))) + 1
        return [round(i * (length - side) / (n - 1)) for i in range(n)]

    return [(x, y) for y in starts(h) for x in starts(w)]


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return smaller > 0 and ix * iy > 0.3 * smaller


def _dedupe(faces: list[FaceLandmarks]) -> list[FaceLandmarks]:
    """Two detector boxes on one face give two meshes of the same face: keep the larger."""
    kept: list[FaceLandmarks] = []
    for face in faces:
        box = tuple(int(v) for v in face.box)
        if not any(_overlaps(box, tuple(int(v) for v in k.box)) for k in kept):
            kept.append(face)
    return kept
