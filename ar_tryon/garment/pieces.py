"""Piecewise placement: each piece of the garment gets its own map from garment pixels to frame pixels.

- torso (tops, dress bodice): the shoulder line onto the shoulders x ease; with plausible hips a perspective
  map puts the hem (the bodice's hip row for dresses) on the hips, otherwise the garment keeps its proportions.
- sleeves: cut where the elbow falls; the upper piece maps armhole -> elbow along shoulder -> elbow, the
  lower piece elbow -> wrist (a long sleeve's cuff lands on the wrist). A short sleeve only turns with the
  upper arm. Across the limb every piece keeps the torso's scale.
- trousers: the waistband onto the hips (lifted a little) x ease; each leg is cut at the knee, thigh along
  hip -> knee and shin along knee -> ankle. Skirts and a dress's skirt hang from the hip line towards the knees.

Pieces share their joint points (the elbow, the knee, the hip line), so they meet without gaps; where a joint
bends they overlap by a few pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ar_tryon.garment.fit import GarmentCategory, _image_order, _need, _similarity, _to3
from ar_tryon.garment.keypoints import BODY, LEFT_LEG, LEFT_SLEEVE, RIGHT_LEG, RIGHT_SLEEVE, GarmentKeypoints, Limb
from ar_tryon.landmarks.types import PoseIndex as P
from ar_tryon.landmarks.types import PoseLandmarks

__all__ = ["Piece", "arm_joints", "plan_pieces"]

UPPER_EASE = 1.3  # shoulder joints sit inside the body outline; clothes are wider still
LOWER_EASE = 1.6  # hip joints are well inside the hip outline
SHOULDER_LIFT = 0.1  # x the shoulder-joint distance
HIP_PULL = 0.3  # a trouser leg starts this far from the hip joint towards its place under the waistband
OVERLAP = 3.0  # garment pixels by which pieces overlap at a cut


@dataclass(frozen=True)
class Piece:
    """One piece: `mask` (garment-space uint8, 255 = this piece) drawn with `matrix` (3x3 garment -> frame).

    `limb` names the body limb it dresses ("arm_left", "leg_right", ...; image sides) or None for the body.
    """

    name: str
    mask: np.ndarray
    matrix: np.ndarray
    limb: str | None = None

    def map(self, pts: np.ndarray) -> np.ndarray:
        p = np.column_stack([pts, np.ones(len(pts))]) @ self.matrix.T
        return p[:, :2] / p[:, 2:3]


def _axis_affine(g0: np.ndarray, g1: np.ndarray, f0: np.ndarray, f1: np.ndarray, across: float) -> np.ndarray:
    """3x3 affine taking g0 -> f0 and g1 -> f1, scaling the perpendicular direction by `across` (no mirroring)."""
    vg, vf = g1 - g0, f1 - f0
    ng, nf = max(np.linalg.norm(vg), 1e-6), max(np.linalg.norm(vf), 1e-6)
    g2 = g0 + np.array([-vg[1], vg[0]]) / ng
    f2 = f0 + np.array([-vf[1], vf[0]]) / nf * across
    m = cv2.getAffineTransform(np.float32([g0, g1, g2]), np.float32([f0, f1, f2]))
    return _to3(m.astype(np.float64))


def _apply(m: np.ndarray, pt: np.ndarray) -> np.ndarray:
    p = m @ np.array([pt[0], pt[1], 1.0])
    return p[:2] / p[2]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-6)


def _band(labels: np.ndarray, label: int, rows: tuple[float, float] | None = None) -> np.ndarray:
    mask = labels == label
    if rows is not None:
        lo, hi = int(max(0, np.floor(rows[0]))), int(min(labels.shape[0], np.ceil(rows[1])))
        cut = np.zeros_like(mask)
        cut[lo:hi] = True
        mask &= cut
    return mask.astype(np.uint8) * 255


def _limb_pieces(
    labels: np.ndarray,
    label: int,
    limb: Limb,
    f0: np.ndarray,
    joints: tuple[np.ndarray | None, np.ndarray | None],
    scale: float,
    name: str,
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """A sleeve or leg starting at frame point f0, following (middle joint, end joint) where visible."""
    mid, end = joints
    whole = labels == label
    if mid is None:
        return []  # caller keeps the body's map
    ys, xs = np.nonzero(whole)
    proj_all = np.zeros(labels.shape, np.float32)
    proj_all[ys, xs] = (np.column_stack([xs, ys]) - limb.start) @ limb.axis
    reach = float(np.linalg.norm(mid - f0)) / scale  # garment length from the start to the middle joint
    if limb.length <= 1.1 * reach:  # short: one piece turned along the upper limb
        f1 = f0 + _unit(mid - f0) * limb.length * scale
        return [(name, whole.astype(np.uint8) * 255, _axis_affine(limb.start, limb.end, f0, f1, scale))]
    g_mid = limb.start + limb.axis * reach
    upper = _axis_affine(limb.start, g_mid, f0, mid, scale)
    rest = limb.length - reach
    if end is not None and 0.6 < rest * scale / max(float(np.linalg.norm(end - mid)), 1e-6) < 1.5:
        f_end = end  # a full-length sleeve / leg ends at the wrist / ankle
    else:
        direction = _unit(end - mid) if end is not None else _unit(mid - f0)
        f_end = mid + direction * rest * scale
    lower = _axis_affine(g_mid, limb.end, mid, f_end, scale)
    m_up = (whole & (proj_all < reach + OVERLAP)).astype(np.uint8) * 255
    m_lo = (whole & (proj_all >= reach - OVERLAP)).astype(np.uint8) * 255
    return [(f"{name}_upper", m_up, upper), (f"{name}_lower", m_lo, lower)]


def _visible(pose: PoseLandmarks, i: int) -> np.ndarray | None:
    return pose.xy(i).astype(np.float64) if pose.visible(i) else None


def _torso(pose: PoseLandmarks, kp: GarmentKeypoints, hem_row: float) -> tuple[np.ndarray, float]:
    """(3x3 map of the torso, garment -> frame scale)."""
    first, second = _image_order(pose, P.RIGHT_SHOULDER, P.LEFT_SHOULDER)
    a0, a1 = pose.xy(first).astype(np.float64), pose.xy(second).astype(np.float64)
    mid, half = (a0 + a1) / 2, (a1 - a0) / 2 * UPPER_EASE
    up = np.array([half[1], -half[0]]) / UPPER_EASE
    if float(up @ (pose.xy(P.NOSE) - mid)) < 0 if pose.visible(P.NOSE) else up[1] > 0:
        up = -up
    mid = mid + up * 2 * SHOULDER_LIFT  # the shoulder seam lies on top of the shoulder, above the joint
    top_y = kp.top + 0.04 * kp.height  # the shoulder seam sits a little below the collar top
    src = np.array([[kp.left, top_y], [kp.right, top_y]])
    top = np.array([mid - half, mid + half])
    affine = _similarity(src, top)
    scale = float(np.hypot(*affine[:, 0]))
    matrix = _to3(affine)
    if pose.visible(P.LEFT_HIP) and pose.visible(P.RIGHT_HIP):
        h0, h1 = _image_order(pose, P.RIGHT_HIP, P.LEFT_HIP)
        hr, hl = pose.xy(h0).astype(np.float64), pose.xy(h1).astype(np.float64)
        hmid, hhalf = (hr + hl) / 2, (hl - hr) / 2 * UPPER_EASE * 1.15
        width = float(np.linalg.norm(a1 - a0))
        # Hips guessed by the pose model can be implausible (above the shoulders, or a squashed torso when
        # the photo ends at the chest): a torso is at least ~1x the shoulder-joint distance long.
        plausible = np.cross(top[1] - top[0], (hmid - hhalf) - top[0]) > 0 and np.linalg.norm(hmid - mid) >= width
        if plausible and hem_row > top_y + 1:
            src4 = np.float32([[kp.left, top_y], [kp.right, top_y], [kp.right, hem_row], [kp.left, hem_row]])
            dst4 = np.float32([top[0], top[1], hmid + hhalf, hmid - hhalf])
            matrix = cv2.getPerspectiveTransform(src4, dst4).astype(np.float64)
    return matrix, scale


def arm_joints(pose: PoseLandmarks):
    """(shoulder, elbow, wrist) indices of the (image-left, image-right) arm."""
    first, _ = _image_order(pose, P.RIGHT_SHOULDER, P.LEFT_SHOULDER)
    if first == P.RIGHT_SHOULDER:
        return ((P.RIGHT_SHOULDER, P.RIGHT_ELBOW, P.RIGHT_WRIST), (P.LEFT_SHOULDER, P.LEFT_ELBOW, P.LEFT_WRIST))
    return ((P.LEFT_SHOULDER, P.LEFT_ELBOW, P.LEFT_WRIST), (P.RIGHT_SHOULDER, P.RIGHT_ELBOW, P.RIGHT_WRIST))


def _legs(pose: PoseLandmarks):
    first, _ = _image_order(pose, P.RIGHT_HIP, P.LEFT_HIP)
    if first == P.RIGHT_HIP:
        return ((P.RIGHT_HIP, P.RIGHT_KNEE, P.RIGHT_ANKLE), (P.LEFT_HIP, P.LEFT_KNEE, P.LEFT_ANKLE))
    return ((P.LEFT_HIP, P.LEFT_KNEE, P.LEFT_ANKLE), (P.RIGHT_HIP, P.RIGHT_KNEE, P.RIGHT_ANKLE))


def _skirt(pose: PoseLandmarks, labels: np.ndarray, row: float, left: float, right: float, hip_line, bottom: float,
           scale: float) -> np.ndarray:  # fmt: skip
    """3x3 affine for everything below garment `row`: its (left, right) onto the frame `hip_line`, hanging
    towards the knees (or straight on along the torso when the knees are not visible)."""
    f_l, f_r = hip_line
    f_mid = (f_l + f_r) / 2
    knees = [_visible(pose, i) for i in (P.LEFT_KNEE, P.RIGHT_KNEE)]
    hips = [pose.xy(i).astype(np.float64) for i in (P.LEFT_HIP, P.RIGHT_HIP)]
    across = f_r - f_l
    down = _unit(np.array([-across[1], across[0]]))
    if down[1] < 0:
        down = -down
    if all(k is not None for k in knees):
        down = _unit((knees[0] + knees[1]) / 2 - (hips[0] + hips[1]) / 2)
    g_l, g_r = np.array([left, row]), np.array([right, row])
    g_hem = np.array([(left + right) / 2, bottom])
    f_hem = f_mid + down * (bottom - row) * scale
    m = cv2.getAffineTransform(np.float32([g_l, g_r, g_hem]), np.float32([f_l, f_r, f_hem]))
    return _to3(m.astype(np.float64))


def _upper_pieces(pose: PoseLandmarks, kp: GarmentKeypoints, dress: bool) -> list[Piece]:
    _need(pose, (P.RIGHT_SHOULDER, P.LEFT_SHOULDER), "shoulders")
    labels = kp.labels
    hem_row = kp.bottom
    if dress:  # the bodice ends where the wearer's hips fall on the garment
        torso0, scale = _torso(pose, kp, kp.bottom)
        s_mid = (pose.xy(P.LEFT_SHOULDER) + pose.xy(P.RIGHT_SHOULDER)).astype(np.float64) / 2
        h_mid = (pose.xy(P.LEFT_HIP) + pose.xy(P.RIGHT_HIP)).astype(np.float64) / 2
        hips_ok = pose.visible(P.LEFT_HIP) and pose.visible(P.RIGHT_HIP)
        torso_len = (
            float(np.linalg.norm(h_mid - s_mid))
            if hips_ok
            else 1.6 * float(np.linalg.norm(pose.xy(P.LEFT_SHOULDER) - pose.xy(P.RIGHT_SHOULDER)))
        )
        hem_row = float(np.clip(kp.top + 0.04 * kp.height + torso_len / scale, kp.top + 0.2 * kp.height, kp.bottom))
    torso, scale = _torso(pose, kp, hem_row)
    pieces: list[Piece] = []
    shoulders = arm_joints(pose)
    for (s_i, e_i, w_i), label, side in zip(shoulders, (LEFT_SLEEVE, RIGHT_SLEEVE), ("left", "right"), strict=True):
        limb = kp.sleeves[0 if label == LEFT_SLEEVE else 1]
        if limb is None:
            continue
        shoulder = pose.xy(s_i).astype(np.float64)
        f0 = 0.5 * (_apply(torso, limb.start) + shoulder)  # the armhole, pulled onto the arm's axis
        parts = _limb_pieces(
            labels, label, limb, f0, (_visible(pose, e_i), _visible(pose, w_i)), scale, f"sleeve_{side}"
        )
        if not parts:  # elbow hidden: the sleeve keeps the torso's map
            parts = [(f"sleeve_{side}", _band(labels, label), torso)]
        pieces += [Piece(n, m, mat, f"arm_{side}") for n, m, mat in parts]
    if dress and hem_row < kp.bottom - 1:
        pieces.append(Piece("torso", _band(labels, BODY, (0, hem_row + OVERLAP)), torso))
        hip_line = (_apply(torso, np.array([kp.left, hem_row])), _apply(torso, np.array([kp.right, hem_row])))
        skirt = _skirt(pose, labels, hem_row, kp.left, kp.right, hip_line, kp.bottom, scale)
        pieces.insert(0, Piece("skirt", _band(labels, BODY, (hem_row - OVERLAP, labels.shape[0])), skirt))
    else:
        pieces.append(Piece("torso", _band(labels, BODY), torso))
    return pieces


def _lower_pieces(pose: PoseLandmarks, kp: GarmentKeypoints) -> list[Piece]:
    _need(pose, (P.RIGHT_HIP, P.LEFT_HIP), "hips")
    first, second = _image_order(pose, P.RIGHT_HIP, P.LEFT_HIP)
    a0, a1 = pose.xy(first).astype(np.float64), pose.xy(second).astype(np.float64)
    mid, half = (a0 + a1) / 2, (a1 - a0) / 2 * LOWER_EASE
    lift = np.array([half[1], -half[0]]) * 0.35  # the waistband sits a little above the hip joints
    if lift[1] > 0:
        lift = -lift
    src = np.array([[kp.left, kp.top], [kp.right, kp.top]])
    affine = _similarity(src, np.array([mid - half + lift, mid + half + lift]))
    scale = float(np.hypot(*affine[:, 0]))
    body = _to3(affine)
    labels = kp.labels
    if kp.crotch is None:  # a skirt: the waistband on the hips, hanging towards the knees
        line = (_apply(body, np.array([kp.left, kp.top])), _apply(body, np.array([kp.right, kp.top])))
        skirt = _skirt(pose, labels, kp.top, kp.left, kp.right, line, kp.bottom, scale)
        return [Piece("skirt", _band(labels, BODY), skirt)]
    pieces: list[Piece] = []
    for (h_i, k_i, a_i), label, side in zip(_legs(pose), (LEFT_LEG, RIGHT_LEG), ("left", "right"), strict=True):
        limb = kp.legs[0 if label == LEFT_LEG else 1]
        if limb is None:
            continue
        hip = pose.xy(h_i).astype(np.float64)
        f0 = hip + HIP_PULL * (_apply(body, limb.start) - hip)  # the leg's top, pulled onto the hip joint
        parts = _limb_pieces(labels, label, limb, f0, (_visible(pose, k_i), _visible(pose, a_i)), scale, f"leg_{side}")
        if not parts:
            parts = [(f"leg_{side}", _band(labels, label), body)]
        pieces += [Piece(n, m, mat, f"leg_{side}") for n, m, mat in parts]
    pieces.append(Piece("hips", _band(labels, BODY, (0, kp.crotch + OVERLAP)), body))
    return pieces


def plan_pieces(pose: PoseLandmarks, kp: GarmentKeypoints, category: GarmentCategory | str) -> list[Piece]:
    """The garment's pieces in drawing order (limbs first, the body piece on top of their seams).

    Raises:
        NoBodyError: the landmarks the category needs (shoulders, hips) are not visible.
    """
    category = GarmentCategory(category)
    if category is GarmentCategory.LOWER:
        return _lower_pieces(pose, kp)
    return _upper_pieces(pose, kp, dress=category is GarmentCategory.DRESS)
