"""Product cut-out: an RGBA image whose alpha is the product, from a merchant's photo.

The photo is worked on at a small size (`WORK_SIDE` px on its long side). A foreground prior combines
1. the distance of every pixel's colour from the colours of the photo's border band (k-means; lightness counts
   less, darkening least, so a soft shadow on a studio sweep stays background),
2. boundary connectivity: the cost of the cheapest path from the border, where a step costs the colour gradient
   above the border's own texture (`skimage.graph.MCP_Geometric`): wood grain is free, an object's outline is not,
3. spectral-residual saliency (`cv2.saliency`, OpenCV contrib) and a weak centre prior.
Of the blobs where the prior is high, the biggest central one (and those of similar size) seeds GrabCut as
probable foreground — props scattered on a busy table stay out of its colour model; the border band is certain
background. The GrabCut mask is cleaned (opening and closing, only the big connected components, holes filled),
upsampled with a guided filter on the photo (`cv2.ximgproc`: the edge follows the product's real edge), slightly
feathered, and the edge pixels take the product's colour from just inside (no halo of the old background). A
mask the user supplies, or the alpha of an RGBA photo, skips all of that. OpenCV's RNG is seeded, so the same
photo always gives the same cut-out.

The product is cut twice, in two independent ways, because a cut-out that fails on a real photo usually looks
like an object: the prior above finds what differs from the border's colours, so a red cup on a red-brown saucer
on a brown table came out as its white rim and crema alone. The second cut is classic GrabCut from a rectangle
(the frame less a 4 % margin, no prior, at `_RECT_SIDE` px): its colour models come from the border ring only,
so a product whose body has the background's colours is still taken whole when its outline closes it off.
- The cuts agree (IoU >= 0.7): the prior cut is kept (it is finer and keeps props off).
- They disagree: the rectangle cut replaces the prior cut only when it holds it (>= 80 % of it: the prior found a
  part) and is unmistakable by itself (`plausibility.STRICT`: solidity >= 0.85, one piece, clear of the border,
  outlined all round). Otherwise the cut-out is not clean.
Then the kept mask must pass `plausibility.assess` (coverage 5-90 %, one dominant piece, solidity >= 0.5, not
along the border, an outline that separates colours). `cut_out_checked` returns the cut-out with that verdict;
the composer frames the photo itself when it is not clean, so a broken cut-out never reaches a cover.
On the real photos of `tests/generation/data/real_photos.yaml` (`benchmarks/eval_cutout.py`): coffee cup IoU
0.29 accepted before, 0.92 now; dahlia 0.94, cheetah cub 0.89; motorcycle in a garage, circuit board filling the
frame, cat and astronaut close-ups declared not clean. The second cut adds ~40 ms to a new photo on one core.

Hair-fine edges are not the aim; clean product edges are. Limits, honestly:
- When both cuts make the same mistake it passes: a subject whose lower half is as dark as the ground it stands
  on loses that half in both (a lit tower over its dark base; a portrait's dark uniform). The checks judge shape
  and edges, not meaning.
- A product in the background's colours that also touches the frame or is not compact (a saucer cut by the
  edge, a chair) cannot be confirmed by the rectangle cut: it is declared not clean and framed as a photo, not
  recovered.
- Thin parts (a tail, a strap, a cable narrower than ~1/100 of the long side) are lost by the mask's opening: the
  running cheetah keeps its body, not its tail (IoU 0.75, accepted).
- A prop touching the product in a colour unlike the table can stay attached; a compact object behind or under
  the product (its box, a placemat) can be taken with it when only the rectangle cut is kept.
- A photo whose subject fills the frame has no separable product: it is not clean and the composer shows the
  photo itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from skimage.graph import MCP_Geometric

from common.errors import InputError
from generation.image.plausibility import STRICT, Assessment, assess

__all__ = ["cut_out", "cut_out_checked", "CutOut", "mask_alpha", "is_clean", "alpha_box", "WORK_SIDE"]

#: Long side of the working copy that GrabCut sees (px); the mask is upsampled to the photo's size.
WORK_SIDE = 320
_BAND = 0.03  # border band taken as certain background (fraction of the long side)
_PRIOR_FG = 0.5  # prior above this: probable foreground seed
_GUIDE_SIDE = 1280  # long side at which the mask's edge is snapped to the photo
_GUIDE_EPS = 400.0  # guided filter regularisation (uint8 guide: ~(8 levels)^2)
_GEO_SCALE = 60.0  # edge cost at which boundary connectivity reaches 63 %
_W_BORDER, _W_GEO = 0.65, 0.3  # weights of border-colour distance and boundary connectivity in the prior
_RECT_SIDE = 160  # long side at which the second opinion (rectangle GrabCut) is cut
_RECT_MARGIN = 0.04  # the rectangle: the frame less this fraction of the long side
_RECT_ITERS = 2
_AGREE = 0.7  # IoU above which the two cuts agree
_HOLDS = 0.8  # share of the prior cut that the rectangle cut must hold to replace it


def _check_rgb(rgb: np.ndarray, param: str) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        shape = getattr(rgb, "shape", None)
        dtype = getattr(rgb, "dtype", type(rgb).__name__)
        raise InputError(f"{param}: expected an H x W x 3 (RGB) or x 4 (RGBA) uint8 array, got {shape} {dtype}", param)
    if min(rgb.shape[:2]) < 16:
        raise InputError(f"{param}: the photo is {rgb.shape[1]}x{rgb.shape[0]}, at least 16 px a side is needed", param)


def mask_alpha(mask: np.ndarray, shape: tuple[int, int], param: str) -> np.ndarray:
    """A user mask (bool, or uint8/float where high is product) as uint8 alpha at the photo's size."""
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] in (1, 3, 4):
        mask = mask[..., -1] if mask.shape[2] == 4 else mask[..., 0]
    if mask.ndim != 2 or min(mask.shape) < 1:
        raise InputError(f"{param}: expected an H x W mask, got shape {mask.shape}", param)
    h, w = shape
    if abs(mask.shape[1] / mask.shape[0] - w / h) > 0.02 * (w / h):
        raise InputError(
            f"{param}: the mask is {mask.shape[1]}x{mask.shape[0]}, the photo {w}x{h} (aspect differs)", param
        )
    if mask.dtype == bool:
        alpha = mask.astype(np.uint8) * 255
    elif mask.dtype == np.uint8:
        alpha = mask if mask.max() > 1 else mask * 255
    elif np.issubdtype(mask.dtype, np.floating):
        alpha = np.clip(mask * 255 if mask.max() <= 1 else mask, 0, 255).astype(np.uint8)
    else:
        raise InputError(f"{param}: mask dtype {mask.dtype} is not bool, uint8 or float", param)
    if alpha.shape != (h, w):
        alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(alpha)


def _border_distance(lab: np.ndarray, band: int) -> np.ndarray:
    """How far each pixel's colour is from the colours of the border band (0 = a border colour)."""
    h, w = lab.shape[:2]
    border = np.concatenate(
        [
            lab[:band].reshape(-1, 3),
            lab[-band:].reshape(-1, 3),
            lab[:, :band].reshape(-1, 3),
            lab[:, -band:].reshape(-1, 3),
        ]
    )
    k = 6
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(12345)
    _, labels, centres = cv2.kmeans(border, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    counts = np.bincount(labels.ravel(), minlength=k)
    centres = centres[counts >= 0.02 * len(border)]  # ignore a stray object that touches the border

    # Lightness counts less, and darkening least: a soft shadow on the sweep is the background's colour, darker.
    def dist_to(px: np.ndarray) -> np.ndarray:
        diff = px[:, None, :] - centres[None, :, :]
        diff[..., 0] *= np.where(diff[..., 0] < 0, 0.25, 0.5)
        return np.sqrt((diff**2).sum(-1)).min(1)

    dist = dist_to(lab.reshape(-1, 3)).reshape(h, w)
    # How spread the border is around its own colours sets the scale (a white sweep is tight, wood is not).
    own = dist_to(border)
    scale = max(float(np.percentile(own, 95)), 4.0)
    return dist / (2.5 * scale)


def _geodesic(lab: np.ndarray, band: int) -> np.ndarray:
    """Boundary connectivity in [0, 1): how many strong edges a path from the border must cross to get here.

    The step cost is the colour gradient above the border's own texture level, so wood grain or a fabric
    costs nothing and the outline of an object a lot (minimum-cost paths, `skimage.graph.MCP_Geometric`).
    """
    gx = cv2.Sobel(lab, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(lab, cv2.CV_32F, 0, 1, ksize=3)
    grad = np.sqrt((gx**2 + gy**2).sum(-1)) / 8
    edge = np.zeros(grad.shape, bool)
    edge[:band] = edge[-band:] = True
    edge[:, :band] = edge[:, -band:] = True
    texture = float(np.percentile(grad[edge], 75))
    cost = np.maximum(grad - texture, 0) + 0.05
    dist, _ = MCP_Geometric(cost).find_costs(np.argwhere(edge))
    return 1 - np.exp(-dist / _GEO_SCALE)


def _prior(small: np.ndarray, band: int) -> np.ndarray:
    """Foreground likelihood in [0, 1] at the working size."""
    h, w = small.shape[:2]
    lab = cv2.cvtColor(cv2.GaussianBlur(small, (0, 0), 0.8), cv2.COLOR_RGB2LAB).astype(np.float32)
    border = np.clip(_border_distance(lab, band) - 0.4, 0, 1)
    geo = _geodesic(lab, band)
    saliency = cv2.saliency.StaticSaliencySpectralResidual_create()
    ok, sal = saliency.computeSaliency(cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
    sal = cv2.GaussianBlur(sal.astype(np.float32), (0, 0), max(h, w) / 60) if ok else np.zeros((h, w), np.float32)
    sal = sal / (float(sal.max()) + 1e-6)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    centre = np.exp(-(((xs / w - 0.5) / 0.38) ** 2 + ((ys / h - 0.5) / 0.42) ** 2))
    return np.clip(_W_BORDER * border + _W_GEO * geo + 0.15 * sal + 0.1 * centre * (border + geo).clip(0, 1), 0, 1)


def _largest_parts(fg: np.ndarray) -> np.ndarray:
    """Keep the big connected components (the product, maybe a few pieces of it); fill their holes."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg.astype(np.uint8), connectivity=8)
    if n <= 1:
        return fg
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = 1 + np.flatnonzero(areas >= max(0.12 * areas.max(), 0.002 * fg.size))
    out = np.isin(labels, keep).astype(np.uint8)
    # Fill holes: what the border cannot reach through background is inside the product.
    padded = np.pad(out, 1)
    flood = padded.copy()
    cv2.floodFill(flood, None, (0, 0), 1)
    holes = flood[1:-1, 1:-1] == 0
    return (out | holes).astype(bool)


def _product_blobs(likely: np.ndarray) -> np.ndarray:
    """Of the likely-foreground blobs, the product: the biggest central one and those of similar size.

    Props scattered over a busy scene are salient too; leaving them out of the seed keeps their colours
    out of GrabCut's foreground model.
    """
    h, w = likely.shape
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(likely.astype(np.uint8), connectivity=8)
    if n <= 1:
        return likely
    areas = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    off = ((centroids[1:, 0] / w - 0.5) / 0.3) ** 2 + ((centroids[1:, 1] / h - 0.5) / 0.35) ** 2
    score = areas * np.exp(-off)
    best = int(np.argmax(score))
    keep = 1 + np.flatnonzero((areas >= 0.35 * areas[best]) & (off < 2.5) | (np.arange(n - 1) == best))
    return np.isin(labels, keep)


def _grabcut(small: np.ndarray) -> np.ndarray:
    """Foreground mask (bool) of the working copy."""
    h, w = small.shape[:2]
    band = max(2, int(round(_BAND * max(h, w))))
    prior = _prior(small, band)
    likely = _product_blobs(prior > _PRIOR_FG)
    seed = np.where(likely, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    if likely.mean() < 0.01:  # nothing stands out: assume a centred product
        seed[h // 6 : h - h // 6, w // 6 : w - w // 6] = cv2.GC_PR_FGD
    seed[:band] = seed[-band:] = cv2.GC_BGD
    seed[:, :band] = seed[:, -band:] = cv2.GC_BGD
    seed[prior < 0.08] = cv2.GC_BGD  # the border's own colours far from anything salient
    cv2.setRNGSeed(0)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), seed, None, bgd, fgd, 4, cv2.GC_INIT_WITH_MASK)
    fg = (seed == cv2.GC_FGD) | (seed == cv2.GC_PR_FGD)
    k = max(3, (max(h, w) // 80) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    fg = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, kernel)
    return _largest_parts(fg.astype(bool))


def _rect_grabcut(small: np.ndarray) -> np.ndarray:
    """The second opinion: classic GrabCut from a rectangle (the frame less a margin), no prior, at the size of
    the working copy (bool). Its colour models come from the border ring only, so a product whose body has the
    background's colours is still taken whole when its outline closes it off; clutter that reaches the border
    is taken with it."""
    h, w = small.shape[:2]
    f = _RECT_SIDE / max(h, w)
    tiny = small if f >= 1 else cv2.resize(small, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    th, tw = tiny.shape[:2]
    m = max(2, round(_RECT_MARGIN * max(th, tw)))
    seed = np.zeros((th, tw), np.uint8)
    cv2.setRNGSeed(0)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    rect = (m, m, tw - 2 * m, th - 2 * m)
    cv2.grabCut(cv2.cvtColor(tiny, cv2.COLOR_RGB2BGR), seed, rect, bgd, fgd, _RECT_ITERS, cv2.GC_INIT_WITH_RECT)
    fg = ((seed == cv2.GC_FGD) | (seed == cv2.GC_PR_FGD)).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    fg = cv2.morphologyEx(cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel), cv2.MORPH_CLOSE, kernel)
    fg = _largest_parts(fg.astype(bool)).astype(np.float32)
    if (th, tw) != (h, w):
        fg = cv2.resize(fg, (w, h), interpolation=cv2.INTER_LINEAR)
    return fg > 0.5


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _segment(small: np.ndarray) -> tuple[np.ndarray, str, float, str]:
    """The product mask of the working copy, cut twice: (mask, source, agreement, veto).

    `source` is `prior` (the prior-seeded cut) or `rect` (the rectangle cut); `agreement` their IoU; `veto`
    says why the result must not be shown as a product although its shape may pass ('' when none).
    """
    first = _grabcut(small)
    second = _rect_grabcut(small)
    agreement = _overlap(first, second)
    if agreement >= _AGREE:
        return first, "prior", agreement, ""
    # They disagree: one of them (or both) is wrong. The rectangle cut wins only when it holds the prior cut
    # (the prior found a part of the product: the rim of a cup whose body has the table's colours) and is an
    # unmistakable object by itself: compact, one piece, clear of the border, outlined all round.
    holds = first.mean() >= 0.01 and np.logical_and(first, second).sum() >= _HOLDS * first.sum()
    if holds and assess(second, small, STRICT).clean:
        return second, "rect", agreement, ""
    return first, "prior", agreement, f"two cut-outs disagree (IoU {agreement:.2f}) and neither is confirmed"


def _upsample(fg: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """The working mask at the photo's size as uint8 alpha, edges snapped to the photo and feathered ~1 px.

    The guided filter (OpenCV contrib `ximgproc`) runs at most at `_GUIDE_SIDE` px: it moves the mask's
    edge onto the photo's edge, and beyond that size the edge it finds no longer changes what a cover shows.
    """
    h, w = rgb.shape[:2]
    f = min(1.0, _GUIDE_SIDE / max(h, w))
    gw, gh = round(w * f), round(h * f)
    guide = rgb if f == 1.0 else cv2.resize(rgb, (gw, gh), interpolation=cv2.INTER_AREA)
    soft = cv2.resize(fg.astype(np.float32), (gw, gh), interpolation=cv2.INTER_LINEAR)
    scale = max(gh, gw) / max(fg.shape)
    if scale > 1.5:
        soft = cv2.ximgproc.guidedFilter(guide, soft, max(2, int(round(scale * 1.5))), _GUIDE_EPS)
    # Sharpen the soft ramp back to a clean edge (about 2 px wide), then to the photo's size.
    alpha = np.clip((soft - 0.5) * max(2.0, scale * 0.75) + 0.5, 0, 1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 0.7)
    if f < 1.0:
        alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR)
    return (alpha * 255 + 0.5).astype(np.uint8)


def decontaminate(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Edge pixels (0 < alpha < 250) take the colour of the product just inside them, so no fringe of the old
    background (a white halo from a studio sweep) shows on a new one."""
    inside = (alpha >= 250).astype(np.float32)
    edge = (alpha > 0) & (alpha < 250)
    if not edge.any() or not inside.any():
        return rgb
    sigma = max(1.5, max(rgb.shape[:2]) / 600)
    weight = cv2.GaussianBlur(inside, (0, 0), sigma)
    colour = cv2.GaussianBlur(rgb.astype(np.float32) * inside[..., None], (0, 0), sigma)
    inner = colour / np.maximum(weight, 1e-4)[..., None]
    out = rgb.copy()
    fill = edge & (weight > 1e-3)
    out[fill] = np.clip(inner[fill], 0, 255).astype(np.uint8)
    return out


def alpha_box(alpha: np.ndarray, threshold: int = 128) -> tuple[int, int, int, int] | None:
    """The bounding box (x0, y0, x1, y1) of the alpha's opaque part, or None when nothing is opaque."""
    rows = np.flatnonzero((alpha >= threshold).any(1))
    cols = np.flatnonzero((alpha >= threshold).any(0))
    if not len(rows):
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def is_clean(alpha: np.ndarray, rgb: np.ndarray | None = None) -> bool:
    """Whether a cut-out's shape looks like one product (`generation.image.plausibility.assess`): 5-90 % of the
    photo, one dominant piece, solidity at least `MIN_SOLIDITY`, not along the border, and (with the photo)
    an outline that separates colours.

    This judges one mask by itself. `cut_out_checked` also knows whether two independent cuts agreed, which
    a plausible-looking wrong piece (a cup's rim without its body) needs: the composer uses that.
    """
    return assess(alpha, rgb).clean


@dataclass(frozen=True)
class CutOut:
    """A cut-out and the verdict on it.

    Attributes:
        rgba: H x W x 4 uint8, the photo's colours and the product's alpha.
        clean: whether to show it as the product (else frame the photo itself).
        source: `prior` or `rect` (which automatic cut was kept), `mask` (the caller's), `alpha` (the photo's).
        assessment: the shape and edge figures of the alpha (`plausibility.assess`).
        agreement: IoU of the two automatic cuts (None for `mask` / `alpha`).
        reason: why it is not clean ('' when clean).
    """

    rgba: np.ndarray
    clean: bool
    source: str
    assessment: Assessment
    agreement: float | None = None
    reason: str = ""


def cut_out_checked(
    rgb: np.ndarray, mask: np.ndarray | None = None, *, param: str = "photo", mask_param: str | None = None
) -> CutOut:
    """Cut the product out of a photo and say whether the cut-out can be shown as the product.

    Args:
        rgb: H x W x 3 RGB uint8, or H x W x 4 RGBA (an alpha that is not all opaque is used as the mask).
        mask: optional user mask at the photo's size or aspect (bool, or uint8 / float where high is product);
            it bypasses GrabCut.
        param: the field to name in errors about the photo (e.g. `photos.0`).
        mask_param: the field to name in errors about the mask (default `<param>.mask`).

    Returns:
        The RGBA cut-out and the verdict. A caller's mask (or the photo's alpha) is clean when it is not empty;
        an automatic cut-out when both cuts agree (or the rectangle cut alone is unmistakable) and its shape
        passes `is_clean`.

    Raises:
        InputError: not an image array, a photo smaller than 16 px, or a mask of another aspect.
    """
    _check_rgb(rgb, param)
    h, w = rgb.shape[:2]
    colour = np.ascontiguousarray(rgb[..., :3])
    agreement: float | None = None
    veto = ""
    if mask is not None or (rgb.shape[2] == 4 and int(rgb[..., 3].min()) < 250):
        source = "mask" if mask is not None else "alpha"
        alpha = mask_alpha(mask, (h, w), mask_param or f"{param}.mask") if mask is not None else rgb[..., 3]
        alpha = np.ascontiguousarray(alpha)
        assessment = assess(alpha, colour)
        clean = bool(alpha.max() >= 128) and float(alpha.mean()) > 2
        reason = "" if clean else "the mask is empty"
    else:
        f = WORK_SIDE / max(h, w)
        small = colour if f >= 1 else cv2.resize(colour, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
        fg, source, agreement, veto = _segment(small)
        alpha = _upsample(fg, colour)
        colour = decontaminate(colour, alpha)
        assessment = assess(alpha, colour)
        clean = assessment.clean and not veto
        reason = veto or assessment.reason
    return CutOut(np.dstack([colour, alpha]), clean, source, assessment, agreement, reason)


def cut_out(
    rgb: np.ndarray, mask: np.ndarray | None = None, *, param: str = "photo", mask_param: str | None = None
) -> np.ndarray:
    """Cut the product out of a photo (`cut_out_checked` without the verdict).

    Args:
        rgb: H x W x 3 RGB uint8, or H x W x 4 RGBA (an alpha that is not all opaque is used as the mask).
        mask: optional user mask at the photo's size or aspect (bool, or uint8 / float where high is product);
            it bypasses GrabCut.
        param: the field to name in errors about the photo (e.g. `photos.0`).
        mask_param: the field to name in errors about the mask (default `<param>.mask`).

    Returns:
        H x W x 4 RGBA uint8: the photo's colours and the product's alpha.

    Raises:
        InputError: not an image array, a photo smaller than 16 px, or a mask of another aspect.
    """
    return cut_out_checked(rgb, mask, param=param, mask_param=mask_param).rgba
