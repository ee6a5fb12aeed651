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

__all__ = ["occluder_mask"]


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
    by0, by1 = int(max(0, head_c[1])), int(min(h, shoulder_y + 0.6 * shoulder_w))
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        return out
    lab = cv2.cvtColor(rgb[by0:by1, bx0:bx1], cv2.COLOR_RGB2LAB).astype(np.int16)
    hair_lab = np.median(cv2.cvtColor(sample_px.reshape(-1, 1, 3), cv2.COLOR_RGB2LAB).reshape(-1, 3), axis=0)
    close = (np.abs(lab - hair_lab.astype(np.int16)).sum(axis=2) < 30) & (person[by0:by1, bx0:bx1] > 0.5)
    close = cv2.morphologyEx(close.astype(np.uint8) * 255, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    out[by0:by1, bx0:bx1] = close
    return out


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
