"""Brand-protection image registry: brands register official images and logos; listing images are matched
by perceptual hash (re-uploads, resizes, recompression) and by ORB features with a RANSAC homography check
(a logo photographed on a product, at an angle, partly covered).

Registered images live under one directory as `<id>.npz` (descriptors) plus `index.json`, so the registry
survives restarts and can be shared by replicas on shared storage.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import cv2
import imagehash
import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ["ImageRegistry", "ImageMatch", "decode_image", "ImageError"]

MAX_PIXELS = 40_000_000
_ORB_FEATURES = 1000
_MIN_INLIERS = 12
_PHASH_MAX_DISTANCE = 8


class ImageError(ValueError):
    """An image that cannot be used; the message says why (too large, not an image, ...)."""


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Bytes -> RGB uint8 array. Rejects non-images and decompression bombs before decoding pixels."""
    if not data:
        raise ImageError("image is empty")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > max_pixels:
                raise ImageError(f"image is {width}x{height}; the limit is {max_pixels} pixels")
            probe.draft("RGB", (min(width, 2048), min(height, 2048)))  # JPEG: decode at reduced size
            image = probe.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ImageError(f"not a readable image ({type(exc).__name__})") from None
    if min(image.size) < 16:
        raise ImageError(f"image is {image.size[0]}x{image.size[1]}; at least 16x16 is needed")
    return np.asarray(image)


@dataclass(frozen=True)
class ImageMatch:
    brand: str
    image_id: str
    method: str  # phash | orb
    score: float
    detail: str


def _gray(rgb: np.ndarray, side: int = 640) -> np.ndarray:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    scale = side / max(gray.shape)
    if scale < 1:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return gray


class ImageRegistry:
    """Registered images in one directory that several replicas (processes, hosts on shared storage) share.

    A registration takes a file lock, merges into the index on disk and replaces it atomically, so two
    replicas registering at once lose nothing; every replica reloads the index when the file changed, so
    an image registered through one replica is matched by all of them.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._orb = cv2.ORB_create(nfeatures=_ORB_FEATURES)
        self._matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
        self._lock = threading.Lock()
        self._index_path = self.root / "index.json"
        self._index: dict[str, dict] = {}
        self._features: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._seen: tuple[int, int, int] | None = None  # (inode, mtime_ns, size) of the index we loaded
        self._refresh()

    def __len__(self) -> int:
        self._refresh()
        return len(self._index)

    def _refresh(self) -> None:
        """Reload the index if another replica changed it (one stat per call when nothing changed)."""
        try:
            stat = self._index_path.stat()
        except FileNotFoundError:
            return
        if (stat.st_ino, stat.st_mtime_ns, stat.st_size) == self._seen:
            return
        with self._lock:
            index = json.loads(self._index_path.read_text())
            for image_id in index:
                if image_id not in self._features:
                    data = np.load(self.root / f"{image_id}.npz")
                    self._features[image_id] = (data["points"], data["descriptors"])
            self._index, self._seen = index, (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _describe(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keypoints, descriptors = self._orb.detectAndCompute(_gray(rgb), None)
        points = np.float32([k.pt for k in keypoints]) if keypoints else np.zeros((0, 2), np.float32)
        return points, descriptors if descriptors is not None else np.zeros((0, 32), np.uint8)

    def register(self, brand: str, data: bytes, kind: str = "product") -> str:
        """Add an official image or logo; returns its id."""
        rgb = decode_image(data)
        points, descriptors = self._describe(rgb)
        image_id = uuid.uuid4().hex[:16]
        phash = str(imagehash.phash(Image.fromarray(rgb)))
        np.savez(self.root / f"{image_id}.npz", points=points, descriptors=descriptors)
        with open(self.root / ".index.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # replicas registering at once: merge, never overwrite
            try:
                on_disk = json.loads(self._index_path.read_text()) if self._index_path.exists() else {}
                on_disk[image_id] = {"brand": brand, "kind": kind, "phash": phash, "features": len(points)}
                partial = self.root / f".index.{os.getpid()}.partial"
                partial.write_text(json.dumps(on_disk, ensure_ascii=False, indent=1))
                os.replace(partial, self._index_path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        self._refresh()
        return image_id

    def match(self, rgb: np.ndarray) -> list[ImageMatch]:
        """Registered images found in `rgb`, best first."""
        self._refresh()
        if not self._index:
            return []
        phash = imagehash.phash(Image.fromarray(rgb))
        matches: list[ImageMatch] = []
        points, descriptors = self._describe(rgb)
        for image_id, meta in self._index.items():
            distance = phash - imagehash.hex_to_hash(meta["phash"])
            if distance <= _PHASH_MAX_DISTANCE:
                score = round(1.0 - distance / 64, 3)
                matches.append(
                    ImageMatch(meta["brand"], image_id, "phash", score, f"perceptual hash distance {distance}")
                )
                continue
            inliers = self._homography_inliers(self._features[image_id], (points, descriptors))
            if inliers >= _MIN_INLIERS:
                score = round(min(0.95, 0.5 + inliers / 100), 3)
                matches.append(
                    ImageMatch(meta["brand"], image_id, "orb", score, f"{inliers} ORB inliers under a homography")
                )
        return sorted(matches, key=lambda m: -m.score)

    def _homography_inliers(self, reference: tuple, query: tuple) -> int:
        ref_points, ref_desc = reference
        q_points, q_desc = query
        if len(ref_desc) < _MIN_INLIERS or len(q_desc) < _MIN_INLIERS:
            return 0
        pairs = self._matcher.knnMatch(ref_desc, q_desc, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.75 * p[1].distance]
        if len(good) < _MIN_INLIERS:
            return 0
        src = ref_points[[m.queryIdx for m in good]].reshape(-1, 1, 2)
        dst = q_points[[m.trainIdx for m in good]].reshape(-1, 1, 2)
        _, mask = cv2.findHomography(src, dst, cv2.RANSAC, 5.0)
        return int(mask.sum()) if mask is not None else 0
