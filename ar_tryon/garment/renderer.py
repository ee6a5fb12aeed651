"""`GarmentTryOn.process`: check inputs -> pose + segmentation -> garment keypoints and pieces -> warp each
piece -> occluders -> shading -> hide the old garment -> composite, all inside a box around the person.

Guarantees: nothing outside the person's segmentation (probability > 0.5) dilated by `SUPPORT_MARGIN` (< 10 px)
changes; the old garment is repainted only inside the person; only arms, hands and hair (from pose +
segmentation) stay in front of the garment, so background or a held object is never pasted into it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ar_tryon.errors import NoBodyError
from ar_tryon.garment.fit import GarmentCategory
from ar_tryon.garment.keypoints import GarmentKeypoints, estimate_keypoints
from ar_tryon.garment.occlusion import arm_mask, body_reach, face_mask, hair_mask
from ar_tryon.garment.pieces import Piece, arm_joints, plan_pieces
from ar_tryon.garment.shading import old_garment_region, paint_over, shading_gain, skin_sample
from ar_tryon.landmarks.pose import PoseLandmarker, PoseLandmarkerOptions
from ar_tryon.landmarks.segmentation import SelfieSegmenter
from ar_tryon.landmarks.types import PoseIndex as P
from ar_tryon.landmarks.types import PoseLandmarks

__all__ = ["GarmentResult", "GarmentTryOn", "SUPPORT_MARGIN"]

#: px the garment may reach past the person's outline (soft segmentation edges, loose clothes); under 10.
SUPPORT_MARGIN = 6


@dataclass
class GarmentResult:
    """The try-on and what it was made of (full-frame arrays).

    Attributes:
        before: the input photo; image: the dressed copy.
        coverage: uint8 HxW final garment alpha (after occluders and the person clip).
        occluders: uint8 HxW what stayed in front (arms, hands, hair).
        hidden: uint8 HxW old-garment pixels repainted because the new garment does not cover them.
        person: float32 HxW person probability (selfie segmentation).
        pieces: the garment pieces and their maps; keypoints: the garment's keypoints.
    """

    before: np.ndarray
    image: np.ndarray
    pose: PoseLandmarks
    coverage: np.ndarray
    occluders: np.ndarray
    hidden: np.ndarray
    person: np.ndarray
    pieces: list[Piece]
    keypoints: GarmentKeypoints

    def side_by_side(self) -> np.ndarray:
        return np.hstack([self.before, self.image])


def _box(mask: np.ndarray, margin: int) -> tuple[int, int, int, int] | None:
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if not ys.size:
        return None
    h, w = mask.shape
    return max(0, xs[0] - margin), max(0, ys[0] - margin), min(w, xs[-1] + 1 + margin), min(h, ys[-1] + 1 + margin)


def _warp_piece(garment: np.ndarray, piece: Piece, roi: tuple[int, int, int, int]):
    """The piece warped into its own box of the ROI: (x, y, RGBA float32 premultiplied) or None."""
    ys = np.flatnonzero(piece.mask.any(axis=1))
    xs = np.flatnonzero(piece.mask.any(axis=0))
    if not ys.size:
        return None
    gx0, gy0, gx1, gy1 = xs[0], ys[0], xs[-1] + 1, ys[-1] + 1
    src = garment[gy0:gy1, gx0:gx1].copy()
    src[..., 3] = np.minimum(src[..., 3], piece.mask[gy0:gy1, gx0:gx1])
    corners = np.array([[gx0, gy0], [gx1, gy0], [gx1, gy1], [gx0, gy1]], np.float64)
    f = piece.map(corners)
    rx0, ry0, rx1, ry1 = roi
    bx0, by0 = max(rx0, int(np.floor(f[:, 0].min())) - 1), max(ry0, int(np.floor(f[:, 1].min())) - 1)
    bx1, by1 = min(rx1, int(np.ceil(f[:, 0].max())) + 2), min(ry1, int(np.ceil(f[:, 1].max())) + 2)
    if bx1 <= bx0 or by1 <= by0:
        return None
    shift_src = np.array([[1, 0, gx0], [0, 1, gy0], [0, 0, 1]], np.float64)
    shift_dst = np.array([[1, 0, -bx0], [0, 1, -by0], [0, 0, 1]], np.float64)
    m = shift_dst @ piece.matrix @ shift_src
    size = (bx1 - bx0, by1 - by0)
    if np.allclose(m[2], [0, 0, 1]):
        out = cv2.warpAffine(src, m[:2], size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    else:
        out = cv2.warpPerspective(src, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    rgba = out.astype(np.float32)  # colour 0..255 premultiplied by alpha 0..1
    rgba[..., 3] *= 1 / 255
    rgba[..., :3] *= rgba[..., 3:4]
    return bx0 - rx0, by0 - ry0, rgba


def _work_box(person_box, pieces: list[Piece], old_box) -> tuple[int, int, int, int]:
    """The person's box cut to where the pieces land and the old garment lies (plus the support margin)."""
    boxes = [old_box] if old_box is not None else []
    for piece in pieces:
        ys = np.flatnonzero(piece.mask.any(axis=1))
        xs = np.flatnonzero(piece.mask.any(axis=0))
        if ys.size:
            corners = np.array([[xs[0], ys[0]], [xs[-1] + 1, ys[0]], [xs[-1] + 1, ys[-1] + 1], [xs[0], ys[-1] + 1]])
            f = piece.map(corners.astype(np.float64))
            boxes.append((f[:, 0].min(), f[:, 1].min(), f[:, 0].max(), f[:, 1].max()))
    if not boxes:
        return person_box
    m = SUPPORT_MARGIN + 4
    ux0, uy0 = min(b[0] for b in boxes) - m, min(b[1] for b in boxes) - m
    ux1, uy1 = max(b[2] for b in boxes) + m, max(b[3] for b in boxes) + m
    px0, py0, px1, py1 = person_box
    x0, y0 = int(max(px0, np.floor(ux0))), int(max(py0, np.floor(uy0)))
    x1, y1 = int(min(px1, np.ceil(ux1))), int(min(py1, np.ceil(uy1)))
    return (x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))


class GarmentTryOn:
    """A garment worn by the person in a photo. Owns its pose and segmentation graphs; not thread-safe."""

    #: The bundled mediapipe models this runs (file names in the mediapipe wheel).
    MODELS = ("pose_detection", "pose_landmark_full", "selfie_segmentation")

    def __init__(self, pose: PoseLandmarker | None = None, segmenter: SelfieSegmenter | None = None) -> None:
        self.pose = pose or PoseLandmarker(PoseLandmarkerOptions(model_complexity=1))
        self.segmenter = segmenter or SelfieSegmenter()

    def process(
        self,
        rgb: np.ndarray,
        garment: np.ndarray,
        category: GarmentCategory | str,
        keypoints: GarmentKeypoints | None = None,
    ) -> GarmentResult:
        """Dress the person in `rgb` with `garment` (HxWx4 RGBA, see `garment_rgba`).

        Args:
            rgb: HxWx3 uint8 photo.
            garment: HxWx4 uint8 RGBA garment, front view.
            category: upper, lower or dress.
            keypoints: the template's own keypoints; estimated from the garment's shape when None.

        Raises:
            NoBodyError: no person, or the landmarks this category needs are not visible (param `image`).
            ValueError: a bad photo, garment array or category.
        """
        # 1. check inputs
        category = GarmentCategory(category)
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"rgb must be an HxWx3 uint8 array, got {getattr(rgb, 'shape', type(rgb))}")
        if garment.ndim != 3 or garment.shape[2] != 4 or garment.dtype != np.uint8:
            raise ValueError(f"garment must be HxWx4 uint8 RGBA, got {garment.shape}")
        # 2. landmarks
        pose = self.pose.process_image(rgb)
        if pose is None:
            raise NoBodyError("image: no person found; use a photo showing the upper body, facing the camera", "image")
        person = self._person(rgb, pose)
        # 3. garment keypoints -> pieces with their maps
        kp = keypoints if keypoints is not None else estimate_keypoints(garment[..., 3], category)
        pieces = plan_pieces(pose, kp, category)
        inside = (person > 0.5).astype(np.uint8)
        roi = _box(inside, SUPPORT_MARGIN + 2)
        if roi is None:
            raise NoBodyError("image: no person found in the segmentation; use a clearer photo", "image")
        old_full = old_garment_region(pose, rgb.shape[:2], category.value)
        roi = _work_box(roi, pieces, _box(old_full > 0, 0))  # only where something can change
        x0, y0, x1, y1 = roi
        crop = rgb[y0:y1, x0:x1]
        p_crop = person[y0:y1, x0:x1]
        # 4. occluders: arms in front of the body pieces, face and hair in front of everything
        local = PoseLandmarks(points=pose.points - np.float32([x0, y0, 0]), visibility=pose.visibility)
        arms = arm_mask(local, p_crop).astype(np.float32) * (1 / 255)
        hair = cv2.max(hair_mask(crop, p_crop, local), face_mask(local, p_crop)).astype(np.float32) * (1 / 255)
        limbs = self._sleeve_reach(pose, roi)
        behind_head = 1.0 - hair
        behind_all = behind_head * (1.0 - arms)
        # 5. warp each piece into the box, limbs first, the body over their seams
        col = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
        alpha = np.zeros((y1 - y0, x1 - x0), np.float32)
        for piece in pieces:
            warped = _warp_piece(garment, piece, roi)
            if warped is None:
                continue
            px, py, rgba = warped
            sl = np.s_[py : py + rgba.shape[0], px : px + rgba.shape[1]]
            if piece.limb is None or piece.limb.startswith("leg"):
                keep = behind_all[sl]
            elif piece.limb in limbs:  # a sleeve stays around its arm (no flaps where the armhole turns)
                keep = behind_head[sl] * limbs[piece.limb][sl]
            else:
                keep = behind_head[sl]
            a_new = rgba[..., 3] * keep
            col[sl] = col[sl] * (1.0 - a_new[..., None]) + rgba[..., :3] * keep[..., None]
            alpha[sl] = alpha[sl] + a_new * (1.0 - alpha[sl])
        # 6. never past the person's outline (+ SUPPORT_MARGIN), nor on what the person holds away from the body
        k = 2 * SUPPORT_MARGIN + 1
        support = cv2.dilate(inside[y0:y1, x0:x1], cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        reach = body_reach(local, p_crop.shape)
        # (the 5x5 feather adds 2 px: SUPPORT_MARGIN + 2 < 10)
        support = cv2.GaussianBlur(cv2.min(support * 255, reach), (5, 5), 0).astype(np.float32) * (1 / 255)
        alpha *= support
        col *= support[..., None]
        # 7. shading from the clothing underneath; the old garment hidden where the new one does not reach
        sw = float(np.linalg.norm(pose.xy(P.LEFT_SHOULDER) - pose.xy(P.RIGHT_SHOULDER))) or 1.0
        old = old_full[y0:y1, x0:x1]
        gain = shading_gain(crop, p_crop, cv2.max(old, (alpha > 0.5).astype(np.uint8) * 255), sw)
        hidden = self._hidden(crop, p_crop, old, alpha, hair, skin := skin_sample(rgb, person, pose))
        base = paint_over(crop, hidden, gain, skin)
        # 8. composite
        out = base.astype(np.float32)
        out *= (1.0 - alpha)[..., None]
        col *= gain[..., None]
        out += col
        out += 0.5
        np.clip(out, 0, 255, out=out)
        image = rgb.copy()
        image[y0:y1, x0:x1] = out.astype(np.uint8)
        full = np.zeros(rgb.shape[:2], np.uint8)
        coverage, occluders, hidden_full = full.copy(), full.copy(), full.copy()
        coverage[y0:y1, x0:x1] = np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8)
        occluders[y0:y1, x0:x1] = (np.maximum(arms, hair) * 255).astype(np.uint8)
        hidden_full[y0:y1, x0:x1] = hidden.astype(np.uint8) * 255
        return GarmentResult(rgb, image, pose, coverage, occluders, hidden_full, person, pieces, kp)

    @staticmethod
    def _sleeve_reach(pose: PoseLandmarks, roi: tuple[int, int, int, int]) -> dict[str, np.ndarray]:
        """float32 ROI masks around each arm (shoulder -> elbow -> wrist, 0.3 x shoulder width), by image side."""
        x0, y0, x1, y1 = roi
        sw = float(np.linalg.norm(pose.xy(P.LEFT_SHOULDER) - pose.xy(P.RIGHT_SHOULDER))) or 1.0
        out = {}
        for side, joints in zip(("arm_left", "arm_right"), arm_joints(pose), strict=True):
            pts = [pose.xy(i) - (x0, y0) for i in joints if pose.visible(i)]
            if len(pts) < 2 or not pose.visible(joints[1]):
                continue
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.polylines(mask, [np.array(pts).round().astype(np.int32)], False, 255, max(2, int(0.6 * sw)))
            out[side] = cv2.dilate(mask, np.ones((3, 3), np.uint8)).astype(np.float32) * (1 / 255)
        return out

    def _person(self, rgb: np.ndarray, pose: PoseLandmarks) -> np.ndarray:
        """Selfie segmentation on a square crop around the body's landmarks (a small person in a big frame is
        otherwise a blob at the model's 256 px input); zero outside the crop."""
        h, w = rgb.shape[:2]
        pts = pose.points[pose.visibility >= 0.3, :2]
        if len(pts) < 4:
            return self.segmenter.process_image(rgb)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        side = float(max(hi - lo)) * 1.5 + 32
        c = (lo + hi) / 2
        x0, y0 = int(max(0, c[0] - side / 2)), int(max(0, c[1] - side / 2))
        x1, y1 = int(min(w, c[0] + side / 2)), int(min(h, c[1] + side / 2))
        if (x1 - x0) * (y1 - y0) > 0.8 * h * w:
            return self.segmenter.process_image(rgb)
        person = np.zeros((h, w), np.float32)
        person[y0:y1, x0:x1] = self.segmenter.process_image(np.ascontiguousarray(rgb[y0:y1, x0:x1]))
        return person

    @staticmethod
    def _hidden(
        crop: np.ndarray, p_crop: np.ndarray, old: np.ndarray, alpha: np.ndarray, hair: np.ndarray, skin
    ) -> np.ndarray:
        """bool: old clothing (inside the person, not skin or hair) that the new garment leaves uncovered."""
        region = (old > 0) & (p_crop > 0.5) & (alpha < 0.5) & (hair < 0.5)
        if skin is not None and region.any():
            ys, xs = np.nonzero(region)
            lab = cv2.cvtColor(crop[ys, xs].reshape(-1, 1, 3), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
            is_skin = (np.abs(lab - skin[0]) <= skin[1]).all(axis=1)
            region[ys[is_skin], xs[is_skin]] = False
        return cv2.morphologyEx(region.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0

    def close(self) -> None:
        self.pose.close()
        self.segmenter.close()

    def __enter__(self) -> GarmentTryOn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
