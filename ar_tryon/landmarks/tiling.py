"""Where the face detector looks: a full-frame pass plus overlapping tiles, so small faces are found anywhere.

mediapipe's full-range face detector reads a 192x192 input: a whole frame is shrunk (letterboxed) to it, so in
a 1920x1080 frame a face is 10x smaller than in the frame. Measured on six real photos (`tests/ar_tryon/photos`),
the detector finds a face reliably when its landmark width in that input is about 12-112 px. We plan with a
margin: `MIN_FACE_IN`..`MAX_FACE_IN`.

A search plan is the full-frame pass (faces >= `MIN_FACE_IN` x long side / 192) plus, when that is not small
enough, square tiles of side `side`, each shrunk to 192x192, in which faces of `side/12`..`side/2.4` px are found.
Tiles overlap by more than the largest face the tiles are responsible for (faces any larger are the full-frame
pass's), plus context, so every face lies whole inside at least one tile: a face cut by one tile's edge is whole
in its neighbour. Boxes found in several tiles are merged by IoU (`merge_boxes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["DETECTOR_INPUT", "MIN_FACE_IN", "MAX_FACE_IN", "TileLevel", "search_plan", "merge_boxes", "iou"]

#: Input side of mediapipe's full-range face detector (face_detection_full_range_sparse.tflite).
DETECTOR_INPUT = 192
#: Landmark width (px in the detector input) from which a face is found reliably (measured: 12-14).
MIN_FACE_IN = 16
#: Landmark width (px in the detector input) up to which a face is found reliably (measured: 96-112).
MAX_FACE_IN = 80
#: Overlap between tiles, as a multiple of the largest face a tile level is responsible for (the rest: context
#: around the face, which the detector needs too).
OVERLAP_FACES = 1.5

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class TileLevel:
    """Square tiles of one size: `origins` are top-left corners in frame pixels.

    Attributes:
        side: tile side in frame pixels (each tile is shrunk to `DETECTOR_INPUT` for the detector).
        overlap: pixels shared by neighbouring tiles (>= `OVERLAP_FACES` x `max_face`).
        min_face: smallest landmark width (frame px) this level finds.
        max_face: largest landmark width (frame px) this level is responsible for (larger: the next pass).
        origins: (x0, y0) of each tile, row by row.
    """

    side: int
    overlap: int
    min_face: float
    max_face: float
    origins: tuple[tuple[int, int], ...]

    @property
    def scale(self) -> float:
        """Frame pixels -> detector-input pixels."""
        return DETECTOR_INPUT / self.side


def full_frame_min_face(width: int, height: int) -> float:
    """Smallest landmark width (frame px) the full-frame pass finds reliably."""
    return MIN_FACE_IN * max(width, height) / DETECTOR_INPUT


def search_plan(width: int, height: int, min_face: float = 45.0) -> list[TileLevel]:
    """Tile levels (finest first) that, with the full-frame pass, find every face >= `min_face` px wide.

    Empty when the full-frame pass alone finds faces that small (small images). Levels grow x3 in side until
    the full-frame pass takes over; a tile is never larger than the frame's short side.

    Args:
        width, height: frame size in pixels.
        min_face: smallest landmark width (frame px) to find; > 0.
    """
    if width < 1 or height < 1:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    if min_face <= 0:
        raise ValueError(f"min_face must be > 0, got {min_face}")
    full_min = full_frame_min_face(width, height)
    short = min(width, height)
    sides: list[int] = []
    side = round(min_face * DETECTOR_INPUT / MIN_FACE_IN)
    while full_min > min_face and side < max(width, height):
        side = min(side, short)
        sides.append(side)
        upper = MAX_FACE_IN * side / DETECTOR_INPUT
        if full_min <= upper or side == short:  # the full-frame pass takes over from here
            break
        side *= 3
    levels = []
    for i, side in enumerate(sides):
        # Faces above this are found by the next (coarser) level or by the full-frame pass.
        next_min = sides[i + 1] * MIN_FACE_IN / DETECTOR_INPUT if i + 1 < len(sides) else full_min
        max_face = min(next_min, MAX_FACE_IN * side / DETECTOR_INPUT)
        overlap = min(side - 1, math.ceil(OVERLAP_FACES * max_face))
        origins = tuple((x, y) for y in _starts(height, side, overlap) for x in _starts(width, side, overlap))
        levels.append(TileLevel(side, overlap, side * MIN_FACE_IN / DETECTOR_INPUT, max_face, origins))
    return levels


def _starts(length: int, side: int, overlap: int) -> list[int]:
    """Evenly spread tile starts covering [0, length) with at least `overlap` px shared by neighbours."""
    if length <= side:
        return [0]
    n = math.ceil((length - side) / (side - overlap)) + 1
    return [round(i * (length - side) / (n - 1)) for i in range(n)]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def merge_boxes(found: list[tuple[Box, float]], threshold: float = 0.3) -> list[tuple[Box, float]]:
    """Non-maximum suppression: best score first, dropping boxes whose IoU with a kept one exceeds `threshold`.

    A face cut by a tile edge may leave a partial box that survives; the landmarker verifies every box with
    FaceMesh on a crop twice its size and merges meshes of one face, so that costs time, not a second face.
    """
    kept: list[tuple[Box, float]] = []
    for box, score in sorted(found, key=lambda f: -f[1]):
        if not any(iou(box, k) > threshold for k, _ in kept):
            kept.append((box, score))
    return kept
