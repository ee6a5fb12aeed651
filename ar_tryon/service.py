"""`TryOnService`: the try-on capability for servers and the CLI — bytes in, rendered images out.

mediapipe graphs are not thread-safe and take ~20-60 ms to build, so the service keeps a small pool of
each kind (built lazily, reused across requests) and one `VideoMakeup` per stream session in a bounded
LRU/TTL store. Every method is safe to call from many threads. Every result names the engine and the
bundled models that produced it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

import numpy as np

from ar_tryon.errors import ImageError, TryOnError
from ar_tryon.garment.cutout import garment_rgba
from ar_tryon.garment.fit import GarmentCategory
from ar_tryon.garment.renderer import GarmentResult, GarmentTryOn
from ar_tryon.landmarks.face import FaceLandmarker
from ar_tryon.makeup.look import Look, LookItem
from ar_tryon.pipeline import MakeupResult, PhotoMakeup, VideoMakeup
from ar_tryon.schema import (
    FaceOut,
    FrameRequest,
    GarmentOut,
    GarmentRequest,
    MakeupOut,
    MakeupRequest,
    ShadeListOut,
    ShadeOut,
    TryOnImage,
)
from ar_tryon.sessions import SessionStore
from ar_tryon.shades import ShadeCatalog, default_catalog
from common.images import MAX_PIXELS, DecodedImage, decode_image, encode_image

__all__ = ["TryOnService"]

T = TypeVar("T")


class _Pool(Generic[T]):
    """At most `size` objects, built on first need; callers wait for a free one."""

    def __init__(self, factory: Callable[[], T], size: int) -> None:
        self._factory, self._free, self._made = factory, queue.LifoQueue(), 0
        self._size, self._lock = size, threading.Lock()

    @contextmanager
    def take(self) -> Iterator[T]:
        with self._lock:
            build = self._free.empty() and self._made < self._size
            if build:
                self._made += 1
        if build:
            try:
                item = self._factory()
            except BaseException:
                with self._lock:
                    self._made -= 1
                raise
        else:
            item = self._free.get()
        try:
            yield item
        finally:
            self._free.put(item)

    def close(self) -> None:
        while not self._free.empty():
            self._free.get_nowait().close()  # type: ignore[attr-defined]


def _mediapipe_version() -> str:
    import mediapipe

    return mediapipe.__version__


class _FrameSession:
    """One stream's tracker; frames of one session are processed one at a time, in order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.video = VideoMakeup()
        self.frames = 0
        self.closed = False

    def close(self) -> None:
        with self.lock:
            if not self.closed:
                self.closed = True
                self.video.close()

    # Ray Serve multiplexing unloads an evicted session by dropping it; release its graphs then too.
    __del__ = close


class TryOnService:
    """Thread-safe makeup / garment try-on over image bytes.

    Args:
        catalog: shades (default: the packaged catalog).
        max_pixels: larger images are refused (413) before decoding.
        pool_size: graphs of each kind kept per process (concurrent photo requests beyond it wait).
        max_sessions: streams tracked at once (LRU beyond it).
        session_ttl_s: a stream idle this long is forgotten.
    """

    engine = "mediapipe"

    def __init__(
        self,
        catalog: ShadeCatalog | None = None,
        max_pixels: int = MAX_PIXELS,
        pool_size: int = 2,
        max_sessions: int = 32,
        session_ttl_s: float = 120.0,
    ) -> None:
        self.catalog = catalog or default_catalog()
        self.max_pixels = max_pixels
        self._makeup = _Pool(PhotoMakeup, pool_size)
        self._garment = _Pool(GarmentTryOn, pool_size)
        self.sessions: SessionStore[_FrameSession] = SessionStore(_FrameSession, max_sessions, session_ttl_s)
        version = _mediapipe_version()
        #: The models that run, as mediapipe names its bundled files (honest engine reporting).
        self.face_models = [f"{m} (mediapipe {version})" for m in FaceLandmarker.MODELS]
        self.body_models = [f"{m} (mediapipe {version})" for m in GarmentTryOn.MODELS]

    # -- building blocks (the CLI uses these directly) --------------------------------------------------
    def shades(self) -> ShadeListOut:
        return ShadeListOut(source=self.catalog.source, shades=[ShadeOut.from_shade(s) for s in self.catalog])

    def decode(self, data: bytes, param: str = "image") -> DecodedImage:
        if not data:
            raise ImageError(f"{param}: the uploaded file is empty", param)
        return decode_image(data, param, self.max_pixels)

    def look(self, skus: list[str], intensity: float, param: str = "shade") -> Look:
        """A look from SKUs (one per product) at one intensity.

        Raises:
            TryOnError: no SKU, an unknown SKU, two of one product, or intensity outside [0, 1].
        """
        if not skus:
            raise TryOnError(f"{param}: give at least one shade SKU (see GET /v1/tryon/shades)", param)
        if not 0.0 <= intensity <= 1.0:
            raise TryOnError(f"intensity: must be between 0 and 1, got {intensity}", "intensity")
        shades = [self.catalog.get(sku.strip(), param) for sku in skus]
        try:
            return Look(tuple(LookItem(s, intensity) for s in shades))
        except ValueError as exc:
            raise TryOnError(str(exc), param) from None

    def makeup_photo(self, image: DecodedImage, look: Look, all_faces: bool = False) -> MakeupResult:
        with self._makeup.take() as pipeline:
            return pipeline.process(image.rgb, look, all_faces=all_faces)

    def garment_photo(self, image: DecodedImage, garment: DecodedImage, category: str) -> GarmentResult:
        try:
            cat = GarmentCategory(category)
        except ValueError:
            raise TryOnError(f"category: expected upper, lower or dress, got {category!r}", "category") from None
        rgba = garment_rgba(garment.rgb, garment.alpha)
        with self._garment.take() as tryon:
            return tryon.process(image.rgb, rgba, cat)

    # -- requests ---------------------------------------------------------------------------------------
    def makeup(self, image: bytes, request: MakeupRequest) -> TryOnImage:
        """Apply shades to the largest face (or all faces) of a photo."""
        look = self.look(request.shade, request.intensity)
        decoded = self.decode(image, "image")
        result = self.makeup_photo(decoded, look, all_faces=request.faces == "all")
        return self._makeup_image(decoded, result, look, request.intensity, request.output, "png")

    def frame(self, session_key: str, frame: bytes, request: FrameRequest) -> TryOnImage:
        """One webcam frame: faces tracked and smoothed across the frames of `session_key` in this process.

        A frame without a face comes back as it was. Several replicas keep one session's state in one place
        by routing every frame of a session to the same replica (see `serving/deployments/tryon.py`).
        """
        look = self.look(request.shade, request.intensity)
        decoded = self.decode(frame, "frame")
        ts = None if request.timestamp_ms is None else request.timestamp_ms / 1000.0
        for _ in range(2):  # a session evicted while we waited for it is recreated once
            session = self.sessions.get(session_key)
            with session.lock:
                if not session.closed:
                    return self.session_frame(session, decoded, look, request, ts)
        raise TryOnError("session_id: the session was evicted twice in a row; retry", "session_id")

    def session_frame(
        self, session: _FrameSession, decoded: DecodedImage, look: Look, request: FrameRequest, ts: float | None
    ) -> TryOnImage:
        """Render one frame with `session`'s tracker (the caller holds `session.lock`)."""
        result = session.video.process(decoded.rgb, look, ts)
        session.frames += 1
        # Frames are lossy webcam images already: JSON carries a JPEG (several times faster to encode than PNG).
        out = self._makeup_image(decoded, result, look, request.intensity, request.output, "jpeg")
        out.details.session_id = request.session_id
        out.details.frame_index = session.frames
        return out

    def new_session(self) -> _FrameSession:
        return _FrameSession()

    def garment(self, image: bytes, garment: bytes, request: GarmentRequest) -> TryOnImage:
        """Place a garment on the person in a photo, from pose landmarks."""
        decoded = self.decode(image, "image")
        piece = self.decode(garment, "garment")
        result = self.garment_photo(decoded, piece, request.category)
        fmt = "jpeg" if request.output == "jpeg" else "png"
        fields = {"category": request.category, "pose": result.pose.to_list()}
        return self._encoded(decoded, result.image, fmt, GarmentOut, self.body_models, fields)

    def _makeup_image(
        self, decoded: DecodedImage, result: MakeupResult, look: Look, intensity: float, output: str, json_fmt: str
    ) -> TryOnImage:
        fields = {
            "shades": [ShadeOut.from_shade(i.shade) for i in look.items],
            "intensity": intensity,
            "faces": [FaceOut(box=[round(v, 1) for v in f.box], landmarks=f.to_list()) for f in result.faces],
        }
        fmt = output if output in ("png", "jpeg") else json_fmt
        return self._encoded(decoded, result.image, fmt, MakeupOut, self.face_models, fields)

    def _encoded(
        self,
        decoded: DecodedImage,
        rendered: np.ndarray,
        fmt: str,
        details: type[MakeupOut] | type[GarmentOut],
        models: list[str],
        fields: dict,
    ) -> TryOnImage:
        """Encode the rendered image (alpha of the input kept) and describe it, naming what ran."""
        h, w = rendered.shape[:2]
        media_type = f"image/{fmt}"
        described = {"engine": self.engine, "models": models, "media_type": media_type, "width": w, "height": h}
        out = details(image_base64="", **described, **fields)
        return TryOnImage.of(encode_image(decoded.with_rgb(rendered), fmt), media_type, out)

    def close(self) -> None:
        self.sessions.close()
        self._makeup.close()
        self._garment.close()
