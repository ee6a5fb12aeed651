"""Light and folds from the photo onto the new garment, and the old garment hidden where the new one is smaller.

Shading transfer: the luminance (Lab L) of the person is split into a broad part (a Gaussian, normalised by
the person mask so the background does not bleed in) and the detail around it. The detail is relative
(L / broad - 1), damped where the colour changes (prints and stripes are not folds), normalised by its own
spread and clamped; the broad part, relative to its median over the clothing, carries the light. The garment
is multiplied by (1 + detail) x light. All of it runs at ~320 px and is resized back.

Hiding the old garment: where the old clothing (a region from the pose: torso, arms, legs, inside the person
and not skin, hair or hands) is not covered by the new garment, it is painted in the skin tone sampled on the
face (with the same shading), or, without a face, inpainted from its surroundings.
"""

from __future__ import annotations

import cv2
import numpy as np

from ar_tryon.landmarks.types import PoseIndex as P
from ar_tryon.landmarks.types import PoseLandmarks

__all__ = ["shading_gain", "skin_sample", "old_garment_region", "paint_over"]

WORK_SIDE = 320  # px: the long side at which the shading and inpainting run


def _nblur(x: np.ndarray, m: np.ndarray, m_blur: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(x * m, (0, 0), sigma) / m_blur


def shading_gain(rgb: np.ndarray, person: np.ndarray, region: np.ndarray, body_px: float) -> np.ndarray:
    """float32 HxW multiplier (~0.6..1.4) for garment pixels.

    Args:
        rgb: HxWx3 uint8 photo (a crop around the person).
        person: HxW float person probability.
        region: HxW uint8 clothing region (old garment and new), where the broad light is normalised.
        body_px: shoulder width in pixels (sets the blur: folds are a fraction of it).
    """
    h, w = rgb.shape[:2]
    f = min(1.0, WORK_SIDE / max(h, w))
    size = (max(1, round(w * f)), max(1, round(h * f)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if f < 1 else rgb
    m = (cv2.resize(person, size, interpolation=cv2.INTER_AREA) > 0.5).astype(np.float32)
    reg = cv2.resize(region, size, interpolation=cv2.INTER_NEAREST) > 0
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    sigma = max(1.5, 0.1 * body_px * f)
    m_blur = cv2.GaussianBlur(m, (0, 0), sigma) + 1e-3
    base = _nblur(lab[..., 0], m, m_blur, sigma)
    detail = (lab[..., 0] - base) / (base + 12.0)
    da = lab[..., 1] - _nblur(lab[..., 1], m, m_blur, sigma)
    db = lab[..., 2] - _nblur(lab[..., 2], m, m_blur, sigma)
    detail *= np.clip(1.0 - np.sqrt(da * da + db * db) / 12.0, 0.0, 1.0)  # colour edges are prints, not folds
    inside = reg & (m > 0)
    if inside.sum() < 16:
        return np.ones((h, w), np.float32)
    spread = float(np.percentile(np.abs(detail[inside]), 75)) * 1.48
    detail = np.clip(detail / max(spread, 0.05) * 0.12, -0.3, 0.3)
    light = np.clip((base / max(float(np.median(base[inside])), 1.0)) ** 0.5, 0.8, 1.15)
    gain = ((1.0 + detail) * light).astype(np.float32)
    gain[m == 0] = 1.0
    return cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR) if f < 1 else gain


def skin_sample(rgb: np.ndarray, person: np.ndarray, pose: PoseLandmarks) -> np.ndarray | None:
    """(mean Lab, tolerance Lab) of the skin on the face around the nose, or None without a visible face."""
    if not (pose.visible(P.NOSE) and pose.visible(P.LEFT_SHOULDER) and pose.visible(P.RIGHT_SHOULDER)):
        return None
    sw = float(np.linalg.norm(pose.xy(P.LEFT_SHOULDER) - pose.xy(P.RIGHT_SHOULDER)))
    r = max(2, int(0.06 * sw))
    x, y = (int(v) for v in pose.xy(P.NOSE).round())
    y0, y1, x0, x1 = max(0, y - r), min(rgb.shape[0], y + 2 * r), max(0, x - 2 * r), min(rgb.shape[1], x + 2 * r)
    if y1 - y0 < 2 or x1 - x0 < 2:
        return None
    px = rgb[y0:y1, x0:x1][person[y0:y1, x0:x1] > 0.5]
    if len(px) < 12:
        return None
    lab = cv2.cvtColor(px.reshape(-1, 1, 3), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    mean = np.median(lab, axis=0)
    tol = np.maximum(2.5 * np.percentile(np.abs(lab - mean), 75, axis=0) * 1.48, [22.0, 7.0, 9.0])
    return np.stack([mean, tol])


def _capsule(mask: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float) -> None:
    pa, pb = tuple(int(v) for v in a.round()), tuple(int(v) for v in b.round())
    cv2.line(mask, pa, pb, 255, max(1, int(round(2 * radius))), cv2.LINE_8)


def old_garment_region(pose: PoseLandmarks, shape: tuple[int, int], category: str) -> np.ndarray:
    """uint8 HxW: where clothing of this category is on the body (before masking by person and skin)."""
    mask = np.zeros(shape, np.uint8)
    ls, rs = pose.xy(P.LEFT_SHOULDER).astype(np.float64), pose.xy(P.RIGHT_SHOULDER).astype(np.float64)
    sw = float(np.linalg.norm(ls - rs)) or 1.0
    hips_ok = pose.visible(P.LEFT_HIP) and pose.visible(P.RIGHT_HIP)
    lh, rh = pose.xy(P.LEFT_HIP).astype(np.float64), pose.xy(P.RIGHT_HIP).astype(np.float64)
    if category in ("upper", "dress"):
        across = (ls - rs) / sw
        down = np.array([-across[1], across[0]])
        if hips_ok:
            down = (lh + rh) / 2 - (ls + rs) / 2
        else:
            down = down / max(np.linalg.norm(down), 1e-6) * 1.6 * sw
            if down[1] < 0:
                down = -down
        top_l, top_r = ls + (ls - rs) * 0.25 - down * 0.08, rs + (rs - ls) * 0.25 - down * 0.08
        poly = np.array([top_l, top_r, rs + down * 1.08 + (rs - ls) * 0.35, ls + down * 1.08 + (ls - rs) * 0.35])
        cv2.fillPoly(mask, [poly.round().astype(np.int32)], 255)
        for s_i, e_i, w_i in (
            (P.LEFT_SHOULDER, P.LEFT_ELBOW, P.LEFT_WRIST),
            (P.RIGHT_SHOULDER, P.RIGHT_ELBOW, P.RIGHT_WRIST),
        ):
            if pose.visible(e_i):
                _capsule(mask, pose.xy(s_i), pose.xy(e_i), 0.17 * sw)
                if pose.visible(w_i):
                    _capsule(mask, pose.xy(e_i), pose.xy(w_i), 0.15 * sw)
    if category in ("lower", "dress") and hips_ok:
        hw = float(np.linalg.norm(lh - rh)) or 1.0
        up = (ls + rs) / 2 - (lh + rh) / 2
        up = up / max(np.linalg.norm(up), 1e-6) * 0.45 * hw
        poly = np.array([lh + (lh - rh) * 0.45 + up, rh + (rh - lh) * 0.45 + up, rh + (rh - lh) * 0.45 - up * 0.5,
                         lh + (lh - rh) * 0.45 - up * 0.5])  # fmt: skip
        cv2.fillPoly(mask, [poly.round().astype(np.int32)], 255)
        for h_i, k_i, a_i in ((P.LEFT_HIP, P.LEFT_KNEE, P.LEFT_ANKLE), (P.RIGHT_HIP, P.RIGHT_KNEE, P.RIGHT_ANKLE)):
            if pose.visible(k_i):
                _capsule(mask, pose.xy(h_i), pose.xy(k_i), 0.5 * hw)
                if pose.visible(a_i):
                    _capsule(mask, pose.xy(k_i), pose.xy(a_i), 0.35 * hw)
    return mask


def paint_over(rgb: np.ndarray, region: np.ndarray, gain: np.ndarray, skin: np.ndarray | None) -> np.ndarray:
    """A copy of `rgb` (HxWx3 uint8 crop) where `region` (bool) is repainted: skin tone x gain, else inpainted."""
    out = rgb.copy()
    if not region.any():
        return out
    if skin is not None:
        tone = cv2.cvtColor(np.uint8([[np.clip(skin[0], 0, 255)]]), cv2.COLOR_LAB2RGB)[0, 0].astype(np.float32)
        out[region] = np.clip(tone[None, :] * gain[region][:, None], 0, 255).astype(np.uint8)
        return out
    h, w = rgb.shape[:2]
    f = min(1.0, WORK_SIDE / max(h, w))
    size = (max(1, round(w * f)), max(1, round(h * f)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    hole = cv2.resize(region.astype(np.uint8) * 255, size, interpolation=cv2.INTER_NEAREST)
    hole = cv2.dilate(hole, np.ones((3, 3), np.uint8))
    filled = cv2.resize(cv2.inpaint(small, hole, 3, cv2.INPAINT_TELEA), (w, h), interpolation=cv2.INTER_LINEAR)
    out[region] = filled[region]
    return out
