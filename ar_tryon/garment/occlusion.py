"""What stays in front of a garment: forearms and hands, arms crossing the torso, and hair over the shoulders.

Shapes come from pose landmarks (capsules along the limbs); the person segmentation trims them to the
person's real outline, so the background never cuts into the garment. Hair is found by colour: pixels of
the person, around the head and down past the shoulders, that match the hair sampled on top of the head.
"""

from __future__ import annotations

import cv2
import numpy as np

from ar_tryon.landmarks.types import PoseIndex as P
from ar_tryon.landmarks.types import PoseLandmarks

__all__ = ["arm_mask", "body_reach", "face_mask", "hair_mask", "occluder_mask"]


def _capsule(mask: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float) -> None:
    cv2.line(
        mask,
        tuple(int(v) for v in a.round()),
        tuple(int(v) for v in b.round()),
        255,
        max(1, int(round(2 * radius))),
        cv2.LINE_AA,
    )


def _arms(pose: PoseLandmarks, shape: tuple[int, int], shoulder_w: float) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    radius = 0.14 * shoulder_w
    s_r, s_l = pose.xy(P.RIGHT_SHOULDER), pose.xy(P.LEFT_SHOULDER)
    torso_x = sorted([s_r[0], s_l[0]])
    for shoulder, elbow, wrist in (
        (P.RIGHT_SHOULDER, P.RIGHT_ELBOW, P.RIGHT_WRIST),
        (P.LEFT_SHOULDER, P.LEFT_ELBOW, P.LEFT_WRIST),
    ):
        if not (pose.visible(elbow) and pose.visible(wrist)):
            continue
        e, w = pose.xy(elbow), pose.xy(wrist)
        _capsule(mask, e, w, radius)
        hand = w + (w - e) * 0.35
        cv2.circle(mask, tuple(int(v) for v in hand.round()), max(1, int(round(radius * 1.4))), 255, -1)
        if torso_x[0] < e[0] < torso_x[1]:  # the elbow is in front of the torso: so is the upper arm
            _capsule(mask, pose.xy(shoulder) + (e - pose.xy(shoulder)) * 0.35, e, radius)
    return mask


def _hair(rgb: np.ndarray, person: np.ndarray, pose: PoseLandmarks, shoulder_w: float) -> np.ndarray:
    h, w = person.shape
    out = np.zeros((h, w), dtype=np.uint8)
    if not (pose.visible(P.LEFT_EAR) or pose.visible(P.RIGHT_EAR)) or not pose.visible(P.NOSE):
        return out
    ears = [pose.xy(i) for i in (P.LEFT_EAR, P.RIGHT_EAR) if pose.visible(i)]
    head_c = np.mean(ears, axis=0) if len(ears) == 2 else pose.xy(P.NOSE)
    head_w = float(np.linalg.norm(ears[0] - ears[1])) if len(ears) == 2 else 0.5 * shoulder_w
    head_w = max(head_w, 0.35 * shoulder_w)
    # Hair sample: the top of the head, above the ears by 0.5..0.8 head widths.
    x0, x1 = int(max(0, head_c[0] - 0.3 * head_w)), int(min(w, head_c[0] + 0.3 * head_w))
    y0, y1 = int(max(0, head_c[1] - 0.8 * head_w)), int(max(0, head_c[1] - 0.5 * head_w))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return out
    sample_px = rgb[y0:y1, x0:x1][person[y0:y1, x0:x1] > 0.5]
    if sample_px.size < 30:
        return out
    # Only around the head and shoulders (a box), never the whole frame.
    bx0, bx1 = int(max(0, head_c[0] - 1.1 * head_w)), int(min(w, head_c[0] + 1.1 * head_w))
    shoulder_y = float(max(pose.xy(P.LEFT_SHOULDER)[1], pose.xy(P.RIGHT_SHOULDER)[1]))
    by0, by1 = y0, int(min(h, shoulder_y + 0.6 * shoulder_w))  # from the hair sample down
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        return out
    lab = cv2.cvtColor(rgb[by0:by1, bx0:bx1], cv2.COLOR_RGB2LAB).astype(np.int16)
    hair_lab = np.median(cv2.cvtColor(sample_px.reshape(-1, 1, 3), cv2.COLOR_RGB2LAB).reshape(-1, 3), axis=0)
    close = (np.abs(lab - hair_lab.astype(np.int16)).sum(axis=2) < 30) & (person[by0:by1, bx0:bx1] > 0.5)
    close = cv2.morphologyEx(close.astype(np.uint8) * 255, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    # Only what is connected to the hair on top of the head: dark clothing of the hair's colour is not hair.
    count, comp = cv2.connectedComponents(close, connectivity=8)
    seeds = comp[max(0, y0 - by0) : max(0, y1 - by0), max(0, x0 - bx0) : max(0, x1 - bx0)]
    keep = np.unique(seeds[seeds > 0])
    out[by0:by1, bx0:bx1] = np.where(np.isin(comp, keep), close, 0)
    return out


def arm_mask(pose: PoseLandmarks, person: np.ndarray) -> np.ndarray:
    """uint8 HxW: forearms, hands and upper arms crossing the torso, inside the person's outline."""
    shoulder_w = float(np.linalg.norm(pose.xy(P.LEFT_SHOULDER) - pose.xy(P.RIGHT_SHOULDER))) or 1.0
    arms = _arms(pose, person.shape, shoulder_w)
    arms[person < 0.5] = 0
    return arms


def hair_mask(rgb: np.ndarray, person: np.ndarray, pose: PoseLandmarks) -> np.ndarray:
    """uint8 HxW: hair over the shoulders (connected to the hair on top of the head), inside the person."""
    shoulder_w = float(np.linalg.norm(pose.xy(P.LEFT_SHOULDER) - pose.xy(P.RIGHT_SHOULDER))) or 1.0
    return _hair(rgb, person, pose, shoulder_w)


def occluder_mask(rgb: np.ndarray, person: np.ndarray, pose: PoseLandmarks) -> np.ndarray:
    """uint8 HxW mask (255 = in front of the garment).

    Args:
        rgb: the frame.
        person: float HxW person probability from selfie segmentation.
        pose: the person's landmarks.
    """
    shoulder_w = float(np.linalg.norm(pose.xy(P.LEFT_SHOULDER) - pose.xy(P.RIGHT_SHOULDER))) or 1.0
    arms = _arms(pose, person.shape, shoulder_w)
    arms[person < 0.5] = 0
    mask = cv2.max(arms, _hair(rgb, person, pose, shoulder_w))
    return cv2.GaussianBlur(mask, (5, 5), 0)


def face_mask(pose: PoseLandmarks, person: np.ndarray) -> np.ndarray:
    """uint8 HxW: the face (an ellipse over the head landmarks, chin included), inside the person.

    A garment never covers the face, whatever its pieces' maps do on a bent or turned body.
    """
    mask = np.zeros(person.shape, np.uint8)
    head = [i for i in range(11) if pose.visible(i)]  # nose, eyes, ears, mouth
    if len(head) < 3:
        return mask
    pts = pose.points[head, :2]
    shoulder_w = float(np.linalg.norm(pose.xy(P.LEFT_SHOULDER) - pose.xy(P.RIGHT_SHOULDER)))
    head_w = max(float(np.ptp(pts[:, 0])), 0.3 * shoulder_w, 4.0)
    c = pts.mean(axis=0)
    axes = (int(round(0.7 * head_w)), int(round(0.95 * head_w)))
    cv2.ellipse(mask, (int(round(c[0])), int(round(c[1] + 0.1 * head_w))), axes, 0, 0, 360, 255, -1)
    mask[person < 0.5] = 0
    return mask


def body_reach(pose: PoseLandmarks, shape: tuple[int, int]) -> np.ndarray:
    """uint8 HxW: where clothes can be on this body (torso, arms, legs and the space a skirt spans, generously).

    Inside the person's outline, what lies beyond it is held (a ball at the foot, a bag, a camera at arm's
    length): no garment piece is drawn there, whatever its map does.
    """
    mask = np.zeros(shape, np.uint8)
    ls, rs = pose.xy(P.LEFT_SHOULDER).astype(np.float64), pose.xy(P.RIGHT_SHOULDER).astype(np.float64)
    sw = float(np.linalg.norm(ls - rs)) or 1.0
    lh, rh = pose.xy(P.LEFT_HIP).astype(np.float64), pose.xy(P.RIGHT_HIP).astype(np.float64)
    hips_ok = pose.visible(P.LEFT_HIP) and pose.visible(P.RIGHT_HIP)
    across = (ls - rs) / sw
    down = np.array([-across[1], across[0]])
    if pose.visible(P.NOSE) and float(down @ (pose.xy(P.NOSE) - (ls + rs) / 2)) > 0:
        down = -down
    torso = ((lh + rh) / 2 - (ls + rs) / 2) if hips_ok else down * 1.8 * sw
    hip_l, hip_r = (lh, rh) if hips_ok else (ls + torso, rs + torso)
    poly = np.array([ls + across * 0.4 * sw - down * 0.35 * sw, rs - across * 0.4 * sw - down * 0.35 * sw,
                     hip_r - across * 0.5 * sw + torso * 0.3, hip_l + across * 0.5 * sw + torso * 0.3])  # fmt: skip
    cv2.fillPoly(mask, [poly.round().astype(np.int32)], 255)
    for joints, radius in (
        ((P.LEFT_SHOULDER, P.LEFT_ELBOW, P.LEFT_WRIST), 0.35 * sw),
        ((P.RIGHT_SHOULDER, P.RIGHT_ELBOW, P.RIGHT_WRIST), 0.35 * sw),
        ((P.LEFT_HIP, P.LEFT_KNEE, P.LEFT_ANKLE), 0.4 * sw),
        ((P.RIGHT_HIP, P.RIGHT_KNEE, P.RIGHT_ANKLE), 0.4 * sw),
    ):
        pts = [pose.xy(joints[0])]
        for j in joints[1:]:
            if not pose.visible(j):
                break
            pts.append(pose.xy(j))
        if len(pts) > 1:
            line = np.array(pts).round().astype(np.int32)
            cv2.polylines(mask, [line], False, 255, max(2, int(2 * radius)))
    knees = [pose.xy(i) for i in (P.LEFT_KNEE, P.RIGHT_KNEE) if pose.visible(i)]
    if hips_ok and len(knees) == 2:  # a skirt spans the space between the thighs
        cv2.fillConvexPoly(mask, cv2.convexHull(np.array([lh, rh, *knees]).round().astype(np.int32)), 255)
    return mask
