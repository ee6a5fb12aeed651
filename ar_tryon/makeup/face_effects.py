"""Blush, eyeshadow, eyeliner and brows: one renderer class each, same shape as `LipRenderer`.

Sizes follow the face (eye width, face width), so the look is the same on a close-up and on a small face
in a 1080p frame; each renderer works inside its own small box.
"""

from __future__ import annotations

import cv2
import numpy as np

from ar_tryon.landmarks.types import FaceLandmarks
from ar_tryon.makeup.color import lightness_lut, masked_mean_l, tint
from ar_tryon.makeup.lips import _check, finish_for
from ar_tryon.makeup.regions import (
    FACE_LEFT_EDGE,
    FACE_RIGHT_EDGE,
    LEFT_BROW,
    LEFT_BROW_LOWER,
    LEFT_CHEEK,
    LEFT_EYE,
    LEFT_EYE_UPPER,
    RIGHT_BROW,
    RIGHT_BROW_LOWER,
    RIGHT_CHEEK,
    RIGHT_EYE,
    RIGHT_EYE_UPPER,
    Region,
    feather_inside,
    fill_mask,
    roi_around,
)
from ar_tryon.shades import Product, Shade

__all__ = ["BlushRenderer", "EyeshadowRenderer", "EyelinerRenderer", "BrowRenderer"]

_SIDES = (
    (RIGHT_EYE, RIGHT_EYE_UPPER, RIGHT_BROW, RIGHT_BROW_LOWER, RIGHT_CHEEK),
    (LEFT_EYE, LEFT_EYE_UPPER, LEFT_BROW, LEFT_BROW_LOWER, LEFT_CHEEK),
)


def _face_width(face: FaceLandmarks) -> float:
    return float(np.linalg.norm(face.xy[FACE_LEFT_EDGE] - face.xy[FACE_RIGHT_EDGE]))


def _apply(
    image: np.ndarray, region: Region, shade: Shade, intensity: float, l_strength: float, contrast: float = 1.0
) -> None:
    x0, y0, x1, y1 = region.box
    lab = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2LAB)
    lut = lightness_lut(masked_mean_l(lab, region.mask), shade.lab8[0], l_strength, contrast)
    tint(image, region.box, region.mask, shade.lab8[1:], lut, intensity, lab=lab)


class BlushRenderer:
    """Soft oval on each cheek apple, tilted with the face; mostly chroma, lightness barely moved."""

    product = Product.BLUSH
    l_strength = 0.25
    peak = 0.45  # blush is translucent: even at intensity 1 the skin shows through

    def masks(self, image: np.ndarray, face: FaceLandmarks) -> list[Region]:
        h, w = image.shape[:2]
        fw = _face_width(face)
        if fw < 4:
            return []
        right, left = face.xy[FACE_RIGHT_EDGE], face.xy[FACE_LEFT_EDGE]
        angle = float(np.degrees(np.arctan2(left[1] - right[1], left[0] - right[0])))
        axes = (0.13 * fw, 0.085 * fw)
        regions = []
        for *_, cheek in _SIDES:
            centre = face.xy[cheek].mean(axis=0)
            box = roi_around(centre[None, :], 0.2 * fw, w, h)
            if box is None:
                continue
            mask = np.zeros((box[3] - box[1], box[2] - box[0]), dtype=np.uint8)
            c = (int(round((centre[0] - box[0]) * 16)), int(round((centre[1] - box[1]) * 16)))
            cv2.ellipse(mask, c, (int(axes[0] * 16), int(axes[1] * 16)), angle, 0, 360, 255, -1, cv2.LINE_8, 4)
            k = 2 * int(0.05 * fw) + 1
            mask = cv2.GaussianBlur(mask, (k, k), 0)
            regions.append(Region(box, cv2.convertScaleAbs(mask, alpha=self.peak)))
        return regions

    def process(self, image: np.ndarray, face: FaceLandmarks, shade: Shade, intensity: float) -> list[Region]:
        _check(shade, self.product, intensity)
        regions = self.masks(image, face)
        for region in regions:
            _apply(image, region, shade, intensity, self.l_strength)
        return regions


class EyeshadowRenderer:
    """The lid up to ~60% of the way to the brow, eye opening excluded, feathered; finish from the shade."""

    product = Product.EYESHADOW
    lift = 0.6

    def masks(self, image: np.ndarray, face: FaceLandmarks) -> list[Region]:
        h, w = image.shape[:2]
        regions = []
        for eye, upper, _, brow_lower, _ in _SIDES:
            lid = face.xy[upper]
            # Brow lower edge resampled to the lid's 9 points, so each lid point has a brow point above it.
            brow = face.xy[brow_lower]
            t = np.linspace(0, 1, len(lid))
            src = np.linspace(0, 1, len(brow))
            brow9 = np.column_stack([np.interp(t, src, brow[:, 0]), np.interp(t, src, brow[:, 1])])
            top = lid + self.lift * (brow9 - lid)
            polygon = np.vstack([lid, top[::-1]])
            eye_w = float(np.linalg.norm(lid[0] - lid[-1]))
            box = roi_around(polygon, 0.1 * eye_w + 2, w, h)
            if box is None:
                continue
            hard = fill_mask(box, [polygon], [face.xy[eye]])
            regions.append(Region(box, feather_inside(hard, 0.15 * eye_w)))
        return regions

    def process(self, image: np.ndarray, face: FaceLandmarks, shade: Shade, intensity: float) -> list[Region]:
        _check(shade, self.product, intensity)
        regions = self.masks(image, face)
        finish = finish_for(shade.finish)
        for region in regions:
            x0, y0, x1, y1 = region.box
            lab = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2LAB)
            lut = lightness_lut(masked_mean_l(lab, region.mask), shade.lab8[0], 0.6, 0.9)
            tint(
                image,
                region.box,
                region.mask,
                shade.lab8[1:],
                lut,
                intensity * 0.85,
                lab=lab,
                l_add=finish.sparkle(region.mask),
            )
        return regions


class EyelinerRenderer:
    """A line along the upper lash line, thicker towards the outer corner, with a short wing."""

    product = Product.EYELINER

    def masks(self, image: np.ndarray, face: FaceLandmarks) -> list[Region]:
        h, w = image.shape[:2]
        regions = []
        for _, upper, *_ in _SIDES:
            lid = face.xy[upper]  # outer corner first
            eye_w = float(np.linalg.norm(lid[0] - lid[-1]))
            if eye_w < 3:
                continue
            out_dir = (lid[0] - lid[-1]) / eye_w
            up = np.array([-out_dir[1], out_dir[0]])
            if up[1] > 0:  # the perpendicular that points up the image
                up = -up
            wing = lid[0] + out_dir * 0.22 * eye_w + up * 0.12 * eye_w
            box = roi_around(np.vstack([lid, wing]), 0.1 * eye_w + 2, w, h)
            if box is None:
                continue
            mask = np.zeros((box[3] - box[1], box[2] - box[0]), dtype=np.uint8)
            origin = np.array(box[:2], dtype=np.float32)
            line = np.vstack([wing, lid])
            thickness = np.linspace(0.07, 0.035, len(line)) * eye_w
            for p, q, t in zip(line[:-1], line[1:], thickness[:-1], strict=True):
                a, b = ((p - origin) * 16).round().astype(int), ((q - origin) * 16).round().astype(int)
                cv2.line(
                    mask, tuple(int(v) for v in a), tuple(int(v) for v in b), 255, max(1, int(round(t))), cv2.LINE_AA, 4
                )
            regions.append(Region(box, cv2.GaussianBlur(mask, (3, 3), 0)))
        return regions

    def process(self, image: np.ndarray, face: FaceLandmarks, shade: Shade, intensity: float) -> list[Region]:
        _check(shade, self.product, intensity)
        regions = self.masks(image, face)
        for region in regions:
            _apply(image, region, shade, intensity, l_strength=1.0, contrast=0.5)
        return regions


class BrowRenderer:
    """Fills the brow shape with the shade (darkening it part-way), keeping the hairs' texture."""

    product = Product.BROWS

    def masks(self, image: np.ndarray, face: FaceLandmarks) -> list[Region]:
        h, w = image.shape[:2]
        regions = []
        for _, _, brow, *_ in _SIDES:
            polygon = face.xy[brow]
            length = float(np.ptp(polygon[:, 0])) or 1.0
            box = roi_around(polygon, 2, w, h)
            if box is None:
                continue
            regions.append(Region(box, feather_inside(fill_mask(box, [polygon]), 0.06 * length)))
        return regions

    def process(self, image: np.ndarray, face: FaceLandmarks, shade: Shade, intensity: float) -> list[Region]:
        _check(shade, self.product, intensity)
        regions = self.masks(image, face)
        for region in regions:
            _apply(image, region, shade, intensity * 0.8, l_strength=0.6)
        return regions
