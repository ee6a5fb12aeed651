"""Face landmarks (mediapipe FaceMesh, 478 points with refined lips/eyes/iris) that also find small faces.

Pipeline per image: (1) the full-range face detector (`model_selection=1`) finds boxes in the whole frame
and in overlapping tiles (`tiling.search_plan`: the detector reads 192x192, so a small face in a big frame needs
a tile to be big enough; tiles overlap by more than the largest face they must find, so a face cut by one tile
is whole in the next); boxes from several tiles are merged by IoU; (2) FaceMesh runs on a square crop of
`crop_scale` x each box, which also rejects the detector's false positives; (3) points are mapped back to frame
pixels. If nothing is found (extreme close-ups), FaceMesh runs on the whole frame.

In video mode each face is a track: the crop comes from the previous frame's landmarks, FaceMesh keeps its
own tracking state, and the detector runs only to (re)acquire faces — when a track is lost, or every
`redetect_interval` frames while fewer faces than `max_num_faces` are tracked. The first search frame with
nobody tracked searches every tile; later search frames add `search_tiles_per_frame` tiles each, in turn, to
the full-frame pass, so no frame pays for the whole tiled search twice in a row. Points are smoothed with a
One-Euro filter so a still face does not jitter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import mediapipe as mp
import numpy as np

from ar_tryon.landmarks.face_mesh import CropMesh, square_crop_box
from ar_tryon.landmarks.tiling import DETECTOR_INPUT, TileLevel, merge_boxes, search_plan
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
        min_face_size: [16, 400] px. Smallest face (landmark width) the tiled search is planned to find anywhere
            in the frame; smaller means more, smaller tiles.
        search_tiles_per_frame: 1..64. Tiles a video search frame adds to the full-frame pass (all of them on
            the first search frame with nobody tracked).
        smoothing: One-Euro parameters for video mode; None disables smoothing.
    """

    max_num_faces: int = 1
    refine_landmarks: bool = True
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    crop_scale: float = 2.0
    max_crop_side: int = 384
    redetect_interval: int = 30
    min_face_size: float = 45.0
    search_tiles_per_frame: int = 3
    smoothing: OneEuroOptions | None = field(default_factory=OneEuroOptions)

    def __post_init__(self) -> None:
        checks = {
            "max_num_faces": 1 <= self.max_num_faces <= 8,
            "min_detection_confidence": 0.0 <= self.min_detection_confidence <= 1.0,
            "min_tracking_confidence": 0.0 <= self.min_tracking_confidence <= 1.0,
            "crop_scale": 1.2 <= self.crop_scale <= 4.0,
            "max_crop_side": 96 <= self.max_crop_side <= 1024,
            "redetect_interval": self.redetect_interval >= 1,
            "min_face_size": 16.0 <= self.min_face_size <= 400.0,
            "search_tiles_per_frame": 1 <= self.search_tiles_per_frame <= 64,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"FaceLandmarkerOptions.{name} is out of range: {getattr(self, name)!r}")


_Box = tuple[int, int, int, int]
#: Most detector boxes verified with FaceMesh per search (best scores first); false positives are few.
_MAX_CANDIDATES = 16


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
        self._plans: dict[tuple[int, int], list[TileLevel]] = {}
        self._tile_cursor = 0
        self._searching = False  # True after a search frame that left nobody tracked
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
            max_faces: at most this many (default `options.max_num_faces`, and never more than it). The tiles
                are skipped when the full-frame pass already found this many faces larger than any tile has to
                find (a 1080p photo costs ~20 ms then, ~80 ms with the tiles on one core).
        """
        self._check(rgb)
        limit = min(max_faces or self.options.max_num_faces, self.options.max_num_faces)
        if self._image_mesh is None:
            self._image_mesh = self._new_mesh(video=False)
        h, w = rgb.shape[:2]
        # 1. the full-frame pass finds the faces that are big enough for it
        found = self._detect_full(rgb)
        faces = self._verify(rgb, merge_boxes(found), [])
        # 2. tiles find the smaller ones, unless `limit` faces too big for the tiles are in hand already
        levels = self._plan(w, h)
        tiles_max = max((lv.max_face for lv in levels), default=0.0)
        if levels and sum(f.width >= tiles_max for f in faces) < limit:
            for level in levels:
                found += self._detect_tiles(rgb, level, level.origins)
            faces = self._verify(rgb, merge_boxes(found), faces)
        # 3. close-ups the full-range detector misses: FaceMesh's own short-range detector on the whole frame
        if not faces:
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
            for crop, score in self._search_frame(rgb):
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
            self._searching = not self._tracks
        return sorted(faces, key=lambda f: -f.area)

    def reset(self) -> None:
        """Forget all tracks (e.g. when the stream jumps to another scene)."""
        for track in list(self._tracks):
            self._drop(track)
        self._tile_cursor = 0
        self._searching = False

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

    def _plan(self, w: int, h: int) -> list[TileLevel]:
        if (w, h) not in self._plans:
            self._plans[(w, h)] = search_plan(w, h, self.options.min_face_size)
        return self._plans[(w, h)]

    def _search_frame(self, rgb: np.ndarray) -> list[tuple[_Box, float]]:
        """Video: crops to try, best first. The full-frame pass, then every tile on the first search frame with
        nobody tracked, or the next `search_tiles_per_frame` tiles (in turn) on later ones."""
        h, w = rgb.shape[:2]
        found = self._detect_full(rgb)
        levels = self._plan(w, h)
        tiles = [(level, origin) for level in levels for origin in level.origins]
        if tiles:
            if not self._searching and not self._tracks:
                chosen = tiles
            else:
                n = min(self.options.search_tiles_per_frame, len(tiles))
                chosen = [tiles[(self._tile_cursor + i) % len(tiles)] for i in range(n)]
                self._tile_cursor = (self._tile_cursor + n) % len(tiles)
            for level in levels:
                origins = [o for lv, o in chosen if lv is level]
                if origins:
                    found += self._detect_tiles(rgb, level, origins)
        return [(self._crop(box, w, h), score) for box, score in merge_boxes(found)[:_MAX_CANDIDATES]]

    def _verify(self, rgb: np.ndarray, boxes: list, faces: list[FaceLandmarks]) -> list[FaceLandmarks]:
        """`faces` plus FaceMesh's faces in crops around `boxes` that no face in `faces` covers yet."""
        h, w = rgb.shape[:2]
        faces = list(faces)
        for box, score in boxes[:_MAX_CANDIDATES]:
            if any(_overlaps(tuple(int(v) for v in box), tuple(int(v) for v in f.box)) for f in faces):
                continue
            points = self._image_mesh.run(rgb, self._crop(box, w, h))
            if points is not None:
                faces.append(FaceLandmarks(points, score))
        return _dedupe(faces)

    def _crop(self, box: tuple[float, float, float, float], w: int, h: int) -> _Box:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        side = max(box[2] - box[0], box[3] - box[1]) * self.options.crop_scale
        return square_crop_box(cx, cy, side, w, h)

    def _detect_full(self, rgb: np.ndarray) -> list[tuple[tuple[float, float, float, float], float]]:
        """The whole frame, shrunk (area-averaged, so small faces keep their shape) into the detector's input."""
        h, w = rgb.shape[:2]
        s = min(1.0, DETECTOR_INPUT / max(w, h))
        if s < 1.0:
            small = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        else:
            small = rgb
        return self._detect_in(small, 0, 0, 1.0 / s if s < 1.0 else 1.0)

    def _detect_tiles(
        self, rgb: np.ndarray, level: TileLevel, origins
    ) -> list[tuple[tuple[float, float, float, float], float]]:
        """Detections in tiles of one level: the frame is shrunk once so each tile is the detector's input."""
        h, w = rgb.shape[:2]
        s = level.scale
        small = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        sh, sw = small.shape[:2]
        found = []
        for x0, y0 in origins:
            lx = max(0, min(round(x0 * s), sw - DETECTOR_INPUT))
            ly = max(0, min(round(y0 * s), sh - DETECTOR_INPUT))
            tile = np.ascontiguousarray(small[ly : ly + DETECTOR_INPUT, lx : lx + DETECTOR_INPUT])
            found += self._detect_in(tile, lx / s, ly / s, 1.0 / s)
        return found

    def _detect_in(
        self, image: np.ndarray, ox: float, oy: float, to_frame: float
    ) -> list[tuple[tuple[float, float, float, float], float]]:
        """Detector boxes in `image`, mapped to frame pixels: frame = (ox, oy) + image px x `to_frame`."""
        ih, iw = image.shape[:2]
        result = self._detector.process(image)
        found = []
        for det in result.detections or []:
            box = det.location_data.relative_bounding_box
            bw, bh = box.width * iw * to_frame, box.height * ih * to_frame
            if bw <= 1 or bh <= 1:
                continue
            x0, y0 = ox + box.xmin * iw * to_frame, oy + box.ymin * ih * to_frame
            found.append(((x0, y0, x0 + bw, y0 + bh), float(det.score[0])))
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
