"""The AR test set: real photos of people (sources and licences in SOURCES.md) and rendered variations of them.

Real photos come from installed packages where one ships them (scikit-image's astronaut, matplotlib's Grace
Hopper) and otherwise from small public-domain copies committed next to this file. Variations are rendered
where real photos run out: lighting (dim + noisy, over-exposed, warm white balance), rotation by +-20 degrees,
synthetic occluders (glasses frames, a hand over one cheek, a beard) and a small face in a 1080p frame. Each
variation returns the 2x3 affine map from the original photo's pixels to its own, so tests check landmarks by
equivariance with the original's, never by pixel boxes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["HERE", "Photo", "PHOTOS", "VARIATIONS", "Variation", "load", "face_width", "head_crop"]

HERE = Path(__file__).parent


def _committed(name: str) -> Callable[[], np.ndarray]:
    def read() -> np.ndarray:
        bgr = cv2.imread(str(HERE / name), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"test photo {HERE / name} is missing (see SOURCES.md)")
        return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    return read


def _astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def _grace_hopper() -> np.ndarray:
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        bgr = cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


@dataclass(frozen=True)
class Photo:
    """A real photo: `traits` say what it adds to the set (skin tone, light, pose, accessories, framing)."""

    name: str
    load: Callable[[], np.ndarray]
    traits: str


PHOTOS: dict[str, Photo] = {
    p.name: p
    for p in (
        Photo("astronaut", _astronaut, "light skin, woman, studio flash, head and shoulders"),
        Photo("grace_hopper", _grace_hopper, "light skin, elderly woman, glasses, cap, flat light"),
        Photo("obama_portrait", _committed("obama_portrait_2012.jpg"), "dark skin, man, open smile, window light"),
        Photo("obama_address", _committed("obama_address_2009.jpg"), "dark skin, speaking (mouth open), head turned"),
        Photo("obama_full_body", _committed("obama_blue_room_2010.jpg"), "full body standing, warm chandelier light"),
        Photo("biden_full_body", _committed("biden_blue_room_2010.jpg"), "full body standing, older man, white hair"),
    )
}

_CACHE: dict[str, np.ndarray] = {}


def load(name: str) -> np.ndarray:
    """The photo as HxWx3 uint8 RGB (read once per process; callers must not modify it)."""
    if name not in _CACHE:
        image = PHOTOS[name].load()
        image.setflags(write=False)
        _CACHE[name] = image
    return _CACHE[name]


# -- landmark helpers (indices of mediapipe's 478-point face mesh) ---------------------------------------------
def face_width(points: np.ndarray) -> float:
    """Landmark width: the x-extent of the mesh (what `FaceLandmarks.width` reports)."""
    return float(np.ptp(points[:, 0]))


def head_crop(rgb: np.ndarray, points: np.ndarray, margin: float = 1.0) -> tuple[np.ndarray, tuple[int, int]]:
    """The head and some surroundings: the landmark box grown by `margin` x its size on each side."""
    x0, y0 = points[:, :2].min(axis=0)
    x1, y1 = points[:, :2].max(axis=0)
    size = max(x1 - x0, y1 - y0)
    h, w = rgb.shape[:2]
    cx0, cy0 = max(0, int(x0 - margin * size)), max(0, int(y0 - margin * size))
    cx1, cy1 = min(w, int(x1 + margin * size)), min(h, int(y1 + margin * size))
    return np.ascontiguousarray(rgb[cy0:cy1, cx0:cx1]), (cx0, cy0)


# -- rendered variations ---------------------------------------------------------------------------------------
_IDENTITY = np.float32([[1, 0, 0], [0, 1, 0]])


@dataclass(frozen=True)
class Variation:
    """`render(rgb, points)` -> (image, 2x3 affine from the original's pixels to the image's).

    `occludes` names what an occluder hides (landmarks there are not compared with the original's).
    """

    name: str
    render: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    occludes: str = ""


def _gamma(rgb: np.ndarray, gamma: float, gain: float = 1.0, noise: float = 0.0, seed: int = 3) -> np.ndarray:
    lut = np.clip(255.0 * gain * (np.arange(256) / 255.0) ** gamma, 0, 255).astype(np.uint8)
    out = cv2.LUT(rgb, lut)
    if noise:
        grain = np.random.default_rng(seed).normal(0, noise, out.shape)
        out = np.clip(out + grain, 0, 255).astype(np.uint8)
    return out


def _dim(rgb, points):
    return _gamma(rgb, 1.8, 0.8, noise=4.0), _IDENTITY


def _overexposed(rgb, points):
    return _gamma(rgb, 0.75, 1.15), _IDENTITY


def _warm(rgb, points):
    gains = np.array([1.12, 1.0, 0.78], np.float32)
    return np.clip(rgb * gains, 0, 255).astype(np.uint8), _IDENTITY


def _rotated(degrees: float):
    def render(rgb, points):
        h, w = rgb.shape[:2]
        centre = points[:, :2].mean(axis=0)
        m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), degrees, 1.0)
        return cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT), m

    return render


def _glasses(rgb, points):
    """Dark frames round both eyes and a bridge: what glasses do to the eye region."""
    out = rgb.copy()
    fw = face_width(points)
    thickness = max(2, int(round(0.03 * fw)))
    for ring in ([33, 160, 158, 133, 153, 144], [263, 387, 385, 362, 380, 373]):
        eye = points[ring, :2]
        centre = eye.mean(axis=0)
        axes = (int(0.75 * np.ptp(eye[:, 0])), int(0.6 * np.ptp(eye[:, 0])))
        cv2.ellipse(out, tuple(int(v) for v in centre), axes, 0, 0, 360, (25, 22, 20), thickness, cv2.LINE_AA)
    bridge = points[[133, 168, 362], :2].astype(np.int32)
    cv2.polylines(out, [bridge], False, (25, 22, 20), thickness, cv2.LINE_AA)
    return out, _IDENTITY


def _hand(rgb, points):
    """Someone else's hand over the image-left cheek, short of the lips and the eye: a blob of another skin tone."""
    out = rgb.copy()
    cheek = points[[234, 93, 132, 58, 172, 136, 150, 214, 207, 205, 50, 117], :2].astype(np.int32)
    skin = points[[50, 280], :2].astype(int)
    light = float(cv2.cvtColor(rgb[skin[:, 1], skin[:, 0]][None], cv2.COLOR_RGB2LAB)[0, :, 0].mean())
    colour = (118, 80, 60) if light > 128 else (226, 182, 152)
    cv2.fillPoly(out, [cheek], colour, cv2.LINE_AA)
    cv2.polylines(out, [cheek], True, tuple(int(c * 0.7) for c in colour), 2, cv2.LINE_AA)
    return out, _IDENTITY


def _beard(rgb, points):
    """Dark, grainy hair over the jaw and chin below the lower lip (and round the mouth corners)."""
    out = rgb.copy()
    # The face oval's lower half from the image's left to its right, then back round the mouth (below the lip).
    jaw = [132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361]
    round_mouth = [410, 287, 273, 335, 406, 313, 18, 83, 182, 106, 43, 57, 186]
    polygon = points[jaw + round_mouth, :2]
    mask = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(mask, [polygon.astype(np.int32)], 255, cv2.LINE_AA)
    grain = np.random.default_rng(5).integers(20, 70, rgb.shape[:2]).astype(np.uint8)
    hair = cv2.merge([grain, (grain * 0.8).astype(np.uint8), (grain * 0.65).astype(np.uint8)])
    alpha = (cv2.GaussianBlur(mask, (5, 5), 0).astype(np.float32) / 255.0 * 0.9)[..., None]
    out = (out * (1 - alpha) + hair * alpha).astype(np.uint8)
    return out, _IDENTITY


def _small_in_1080p(rgb, points):
    """Scaled so the face is 70 px wide, pasted off-centre in a grey 1920x1080 frame (a person far away)."""
    s = 70.0 / face_width(points)
    small = cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    frame = np.full((1080, 1920, 3), 96, np.uint8)
    hh, ww = min(small.shape[0], 1080), min(small.shape[1], 1920)
    x, y = 1920 - ww - 130, 1080 - hh - 40
    frame[y : y + hh, x : x + ww] = small[:hh, :ww]
    return frame, np.float32([[s, 0, x], [0, s, y]])


VARIATIONS: dict[str, Variation] = {
    v.name: v
    for v in (
        Variation("dim_noisy", _dim),
        Variation("overexposed", _overexposed),
        Variation("warm_light", _warm),
        Variation("rotated_-20", _rotated(-20)),
        Variation("rotated_+20", _rotated(20)),
        Variation("glasses", _glasses, "eyes"),
        Variation("hand_on_cheek", _hand, "cheek"),
        Variation("beard", _beard, "jaw"),
        Variation("small_in_1080p", _small_in_1080p),
    )
}
