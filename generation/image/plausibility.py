"""Is a cut-out plausibly one product? Shape and edge checks of a product mask, with the figures behind them.

A cut-out that failed on a real photo rarely looks random: it is a piece of the product (the white rim of a
red cup whose body has the table's colours), the product with half the room, or a few scraps of texture. Each
leaves a trace that needs no ground truth:

1. coverage: a product takes 5-90 % of a photo (less is a scrap, more is the whole scene);
2. one piece: the biggest connected part holds at least 80 % of the mask (scraps come in several);
3. solidity: the outline's area over its convex hull's (a cup is ~0.95, a bottle ~0.9, a chair ~0.5; texture
   scraps and products with a bite taken out fall lower);
4. frame contact: how much of the outline runs along the photo's border (a product cut by the bottom edge is
   fine; a mask along three sides is the background);
5. edge support (when the photo is given): how much of the rest of the outline separates different colours,
   inside against outside a few pixels either way (an outline drawn through fur or wood grain does not).

`assess` measures them at a small size (the long side at most `ASSESS_SIDE` px) and says whether the mask
passes; `Assessment.reason` names the first check that failed. The thresholds are generic (set on drawn shots
and a handful of real photos, none of them tuned to one photo); what they cannot see is a cut-out that is a
plausible object but the wrong one, e.g. only the cup's rim. `generation.image.cutout` catches that by cutting
twice, in two independent ways, and comparing.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Assessment", "Strictness", "assess", "ASSESS_SIDE", "MIN_SOLIDITY", "STRICT"]

#: Long side (px) at which masks are judged.
ASSESS_SIDE = 320
#: A clean cut-out's outline encloses at least this share of its convex hull.
MIN_SOLIDITY = 0.5
_COVERAGE = (0.05, 0.9)
_MAIN_SHARE = 0.8
_MAX_FRAME = 0.4  # share of the outline that may run along the photo's border
_MIN_EDGE = 0.6  # share of the free outline that must separate colours
_CONTRAST = 10.0  # CIELAB difference (OpenCV 8-bit scale) between the two sides of an outline pixel


@dataclass(frozen=True)
class Strictness:
    """Thresholds a mask must pass (`STRICT` for a candidate that only one method found)."""

    solidity: float = MIN_SOLIDITY
    main_share: float = _MAIN_SHARE
    frame: float = _MAX_FRAME
    edge: float = _MIN_EDGE


#: For a cut-out that another method did not confirm: compact, one piece, clear of the border, outlined all round.
STRICT = Strictness(solidity=0.85, main_share=0.95, frame=0.02, edge=0.85)
_DEFAULT = Strictness()


@dataclass(frozen=True)
class Assessment:
    """How plausible a cut-out is, and why not when it is not.

    Attributes:
        clean: every check passed.
        reason: the first check that failed ('' when clean).
        coverage: share of the photo the mask covers.
        main_share: share of the mask in its biggest connected part.
        solidity: the biggest part's outline area over its convex hull's area.
        frame_contact: share of the outline on the photo's border band.
        sides: how many of the photo's four sides the mask touches.
        edge_support: share of the outline off the border that separates colours (1.0 without a photo).
    """

    clean: bool
    reason: str
    coverage: float
    main_share: float = 0.0
    solidity: float = 0.0
    frame_contact: float = 0.0
    sides: int = 0
    edge_support: float = 1.0


def _small(img: np.ndarray, side: int, interpolation: int) -> np.ndarray:
    h, w = img.shape[:2]
    f = side / max(h, w)
    if f >= 1:
        return img
    return cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=interpolation)


def _edge_support(fg: np.ndarray, outline: np.ndarray, rgb: np.ndarray) -> float:
    """Share of outline pixels whose two sides differ in colour (means of the inside and the outside pixels in a
    small window, CIELAB)."""
    if not outline.any():
        return 1.0
    h, w = fg.shape
    lab = cv2.cvtColor(cv2.GaussianBlur(rgb, (0, 0), 1.0), cv2.COLOR_RGB2LAB).astype(np.float32)
    r = max(2, round(max(h, w) / 80))
    k = (2 * r + 1, 2 * r + 1)
    inside = fg.astype(np.float32)
    outside = 1 - inside
    n_in = np.maximum(cv2.boxFilter(inside, -1, k, normalize=False), 1)[..., None]
    n_out = np.maximum(cv2.boxFilter(outside, -1, k, normalize=False), 1)[..., None]
    mean_in = cv2.boxFilter(lab * inside[..., None], -1, k, normalize=False) / n_in
    mean_out = cv2.boxFilter(lab * outside[..., None], -1, k, normalize=False) / n_out
    diff = np.linalg.norm(mean_in - mean_out, axis=-1)
    return float((diff[outline] >= _CONTRAST).mean())


def assess(alpha: np.ndarray, rgb: np.ndarray | None = None, strictness: Strictness = _DEFAULT) -> Assessment:
    """Judge a cut-out: the checks of the module docstring.

    Args:
        alpha: H x W uint8 alpha (product >= 128) or a bool mask.
        rgb: the photo (H x W x 3 uint8) for edge support; without it that check passes.
        strictness: thresholds (default: those of `is_clean`; `STRICT` for an unconfirmed candidate).

    Returns:
        The verdict and its figures.
    """
    mask = alpha.astype(np.uint8) * 255 if alpha.dtype == bool else alpha
    fg = (_small(mask, ASSESS_SIDE, cv2.INTER_AREA) >= 128).astype(np.uint8)
    h, w = fg.shape
    coverage = float(fg.mean())
    if not _COVERAGE[0] <= coverage <= _COVERAGE[1]:
        side = "small" if coverage < _COVERAGE[0] else "large"
        return Assessment(False, f"coverage {coverage:.2f} is too {side}", coverage)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    main = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    main_share = float(stats[main, cv2.CC_STAT_AREA] / fg.sum())
    part = (labels == main).astype(np.uint8)
    contours, _ = cv2.findContours(part, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contour = max(contours, key=cv2.contourArea)
    solidity = float(cv2.contourArea(contour) / max(cv2.contourArea(cv2.convexHull(contour)), 1.0))
    # the outline: mask pixels with a background 4-neighbour, split into on-the-border and free
    band = max(2, round(0.03 * max(h, w)))
    padded = np.pad(fg, 1)  # the photo's edge counts as outside: a mask along it has outline there
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    outline = (fg > 0) & (inner == 0)
    near = np.zeros((h, w), bool)
    near[:band] = near[-band:] = True
    near[:, :band] = near[:, -band:] = True
    on_frame = outline & near
    frame_contact = float(on_frame.sum() / max(outline.sum(), 1))
    sides = int(fg[:band].any()) + int(fg[-band:].any()) + int(fg[:, :band].any()) + int(fg[:, -band:].any())
    edge = 1.0
    if rgb is not None:
        colour = np.ascontiguousarray(rgb[..., :3])
        if colour.shape[:2] != (h, w):
            colour = cv2.resize(colour, (w, h), interpolation=cv2.INTER_AREA)
        edge = _edge_support(fg > 0, outline & ~near, colour)
    figures = {
        "coverage": coverage,
        "main_share": main_share,
        "solidity": solidity,
        "frame_contact": frame_contact,
        "sides": sides,
        "edge_support": edge,
    }
    s = strictness
    checks = [
        (main_share >= s.main_share, f"fragmented: the biggest part holds {main_share:.2f} of the mask"),
        (solidity >= s.solidity, f"solidity {solidity:.2f} is below {s.solidity}"),
        (frame_contact <= s.frame and sides <= 2, f"runs along the border ({frame_contact:.2f}, {sides} sides)"),
        (edge >= s.edge, f"outline separates colours on {edge:.2f} of its length only"),
    ]
    reason = next((why for ok, why in checks if not ok), "")
    return Assessment(clean=not reason, reason=reason, **figures)
