"""Keypoints of a garment image: where its shoulders, sleeves, waist and legs are, in garment pixels.

A template can carry them as metadata (build `GarmentKeypoints` directly); otherwise `estimate_keypoints`
reads them from the cut-out's shape, for flat lays and ghost-mannequin photos (front view, sleeves out to
the sides, trouser legs apart):

- tops and dresses: the torso band is the central run of the alpha between ~28% and 50% of the height;
  sleeves are the parts left or right of that band that start near the top (a flared skirt starts lower);
  each sleeve's axis runs from the armhole centre to the centre of its far end (the cuff).
- trousers: the crotch is the highest row from which every row down to the hem has two separate runs;
  each leg's axis runs from the centre of its run at the crotch to the centre at the hem. No crotch: a skirt.

`labels` names each garment pixel's piece: 1 body, 2/3 the image-left/right sleeve, 4/5 the image-left/right
leg (image-left is the wearer's right when they face the camera).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "BODY",
    "LEFT_SLEEVE",
    "RIGHT_SLEEVE",
    "LEFT_LEG",
    "RIGHT_LEG",
    "Limb",
    "GarmentKeypoints",
    "estimate_keypoints",
]

BODY, LEFT_SLEEVE, RIGHT_SLEEVE, LEFT_LEG, RIGHT_LEG = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class Limb:
    """A sleeve or trouser leg: `start` (armhole centre / leg top centre) to `end` (cuff / hem centre)."""

    start: np.ndarray
    end: np.ndarray

    @property
    def length(self) -> float:
        return float(np.linalg.norm(self.end - self.start))

    @property
    def axis(self) -> np.ndarray:
        return (self.end - self.start) / max(self.length, 1e-6)


@dataclass(frozen=True)
class GarmentKeypoints:
    """Garment-space geometry (pixels of the garment image).

    Attributes:
        left, right: image columns of the body part (tops: the torso band; trousers: the waistband).
        top, bottom: first and last rows of the garment.
        labels: HxW uint8 piece of each pixel (0 = transparent), see the module constants.
        sleeves: (image-left, image-right) sleeves, None where there is none.
        legs: (image-left, image-right) trouser legs, None for skirts, tops and dresses.
        crotch: row of the crotch (trousers) or None.
    """

    left: float
    right: float
    top: float
    bottom: float
    labels: np.ndarray
    sleeves: tuple[Limb | None, Limb | None] = (None, None)
    legs: tuple[Limb | None, Limb | None] = (None, None)
    crotch: float | None = None

    @property
    def height(self) -> float:
        return self.bottom - self.top


def _runs(row: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in a 1-D bool array."""
    d = np.diff(np.concatenate([[0], row.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def _limb_end(mask: np.ndarray, start: np.ndarray) -> Limb | None:
    ys, xs = np.nonzero(mask)
    if xs.size < 20:
        return None
    pts = np.column_stack([xs, ys]).astype(np.float64)
    # Direction: from the start to the centroid of the farthest fifth of the piece, then the cuff's centre.
    dist = np.linalg.norm(pts - start, axis=1)
    far = pts[dist >= np.percentile(dist, 80)].mean(axis=0)
    axis = (far - start) / max(np.linalg.norm(far - start), 1e-6)
    proj = (pts - start) @ axis
    end = pts[proj >= proj.max() - max(3.0, 0.06 * proj.max())].mean(axis=0)
    return Limb(start.astype(np.float64), end)


def _upper(alpha: np.ndarray) -> GarmentKeypoints:
    on = alpha > 127
    rows = np.flatnonzero(on.any(axis=1))
    top, bottom = int(rows[0]), int(rows[-1] + 1)
    cols = np.flatnonzero(on[top : top + max(2, (bottom - top) // 20)].any(axis=0))
    centre = 0.5 * (cols[0] + cols[-1] + 1)
    bounds = []
    for y in range(int(top + 0.28 * (bottom - top)), int(top + 0.5 * (bottom - top)) + 1):
        for a, b in _runs(on[y]):
            if a <= centre < b:
                bounds.append((a, b))
    if not bounds:
        bounds = [(int(cols[0]), int(cols[-1] + 1))]
    left, right = (float(v) for v in np.median(np.array(bounds), axis=0))
    labels = np.where(on, BODY, 0).astype(np.uint8)
    sleeves: list[Limb | None] = []
    for side, label in ((0, LEFT_SLEEVE), (1, RIGHT_SLEEVE)):
        outside = on.copy()
        if side == 0:
            outside[:, int(np.ceil(left)) :] = False
        else:
            outside[:, : int(right)] = False
        count, comp, stats, _ = cv2.connectedComponentsWithStats(outside.astype(np.uint8), connectivity=8)
        # Sleeves start near the top; a flared skirt or hem starts lower.
        keep = [i for i in range(1, count) if stats[i, cv2.CC_STAT_TOP] < top + 0.25 * (bottom - top)]
        piece = np.isin(comp, keep) if keep else np.zeros_like(on)
        # Rows where the piece reaches well past the band are sleeve; below them a sliver of the bodice
        # that leans outward (a fitted waist) is body.
        reach = int(0.08 * (right - left))
        far = (
            piece[:, : max(0, int(left) - reach)].any(axis=1)
            if side == 0
            else piece[:, int(right) + reach :].any(axis=1)
        )
        far_rows = np.flatnonzero(far)
        if far_rows.size:
            piece[far_rows[-1] + 1 :] = False
        if not far_rows.size or piece.sum() < 0.01 * on.sum():
            sleeves.append(None)
            continue
        edge_x = left - 1 if side == 0 else right
        edge_rows = np.flatnonzero(piece[:, int(np.clip(edge_x, 0, on.shape[1] - 1))])
        y_mid = float(edge_rows.mean()) if edge_rows.size else float(np.nonzero(piece)[0].min())
        limb = _limb_end(piece, np.array([edge_x + (0.5 if side == 0 else -0.5), y_mid]))
        sleeves.append(limb)
        if limb is not None:
            labels[piece] = label
    return GarmentKeypoints(left, right, float(top), float(bottom), labels, (sleeves[0], sleeves[1]))


def _lower(alpha: np.ndarray) -> GarmentKeypoints:
    on = alpha > 127
    rows = np.flatnonzero(on.any(axis=1))
    top, bottom = int(rows[0]), int(rows[-1] + 1)
    waist = np.flatnonzero(on[top : top + max(2, (bottom - top) // 50)].any(axis=0))
    left, right = float(waist[0]), float(waist[-1] + 1)
    labels = np.where(on, BODY, 0).astype(np.uint8)
    runs = [_runs(on[y]) for y in range(top, bottom)]
    two = np.array([len(r) >= 2 for r in runs])
    # The crotch: the highest row from which (almost) every row down to the hem has two runs.
    crotch = None
    tail = two[::-1].cumprod()[::-1] if two.size else two
    usable = tail[: max(1, int(0.97 * two.size))]  # the last rows may blur together
    idx = np.flatnonzero(usable)
    if idx.size and (bottom - top - idx[0]) > 0.25 * (bottom - top):
        crotch = top + int(idx[0])
    if crotch is None:
        return GarmentKeypoints(left, right, float(top), float(bottom), labels)
    mid_x = 0.5 * (runs[crotch - top][0][1] + runs[crotch - top][-1][0])
    legs: list[Limb | None] = []
    for side, label in ((0, LEFT_LEG), (1, RIGHT_LEG)):
        piece = on.copy()
        piece[:crotch] = False
        if side == 0:
            piece[:, int(mid_x) :] = False
        else:
            piece[:, : int(mid_x)] = False
        labels[piece] = label

        def centre(y: int, piece: np.ndarray = piece) -> float:
            cols = np.flatnonzero(piece[y])
            return float(cols.mean()) if cols.size else mid_x

        hem_y = int(np.flatnonzero(piece.any(axis=1))[-1])
        legs.append(Limb(np.array([centre(crotch), float(crotch)]), np.array([centre(hem_y), float(hem_y)])))
    return GarmentKeypoints(
        left, right, float(top), float(bottom), labels, legs=(legs[0], legs[1]), crotch=float(crotch)
    )


def estimate_keypoints(alpha: np.ndarray, category: str) -> GarmentKeypoints:
    """Keypoints from the garment's alpha (HxW uint8) for `category` (upper, lower or dress)."""
    if alpha.ndim != 2 or not (alpha > 127).any():
        raise ValueError(f"alpha must be a non-empty HxW mask, got shape {alpha.shape}")
    return _lower(alpha) if str(category) == "lower" else _upper(alpha)
