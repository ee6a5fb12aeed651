"""A garment image as RGBA: its own alpha channel, or cut out from a plain (near-uniform) background.

The cut-out treats as background the pixels that look like the border colour *and* connect to the border,
so a white print on a white shirt is not punched out. A busy background is refused with a clear message
rather than guessed at.
"""

from __future__ import annotations

import cv2
import numpy as np

from ar_tryon.errors import ImageError

__all__ = ["garment_rgba", "MIN_GARMENT_FRACTION"]

#: The garment must cover at least this share of its image (else the cut-out found nothing useful).
MIN_GARMENT_FRACTION = 0.02


def garment_rgba(
    rgb: np.ndarray, alpha: np.ndarray | None = None, tolerance: float = 18.0, param: str = "garment"
) -> np.ndarray:
    """Return HxWx4 uint8 RGBA.

    Args:
        rgb: HxWx3 uint8 garment photo or render.
        alpha: its alpha channel if it has one; used as is when it has any transparency.
        tolerance: Lab distance (OpenCV 8-bit units) under which a pixel counts as background colour.
        param: argument name for errors.

    Raises:
        ImageError: the background is not plain, or nothing is left after cutting it out.
    """
    h, w = rgb.shape[:2]
    if alpha is not None and int(alpha.min()) < 250:
        mask = alpha
    else:
        lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.int16)
        border = np.concatenate(
            [lab[:3].reshape(-1, 3), lab[-3:].reshape(-1, 3), lab[:, :3].reshape(-1, 3), lab[:, -3:].reshape(-1, 3)]
        )
        bg = np.median(border, axis=0)
        if float(np.percentile(np.abs(border - bg).sum(axis=1), 90)) > 2 * tolerance:
            raise ImageError(
                f"{param}: needs a transparent background (PNG with alpha) or a plain one-colour background", param
            )
        like_bg = (np.abs(lab - bg).sum(axis=2) < tolerance * 1.5).astype(np.uint8)
        # Background = bg-coloured pixels connected to the border.
        count, labels = cv2.connectedComponents(like_bg, connectivity=4)
        edge_labels = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
        background = np.isin(labels, edge_labels[edge_labels > 0] if count > 1 else [])
        mask = np.where(background & (like_bg > 0), 0, 255).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        mask = cv2.GaussianBlur(mask, (3, 3), 0)
    if float((mask > 127).mean()) < MIN_GARMENT_FRACTION:
        raise ImageError(f"{param}: no garment found (the image is empty or fully transparent)", param)
    return np.dstack([rgb, mask]).astype(np.uint8)
