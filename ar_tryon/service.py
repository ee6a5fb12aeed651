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
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

from ar_tryon.errors import ImageError, TryOnError, UnknownShadeError
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
    MerchantShadeIn,
    MerchantShadePatch,
    ShadeListOut,
    ShadeOut,
    SwatchOut,
    SwatchRequest,
    SwatchShadeForm,
    TryOnImage,
)
from ar_tryon.sessions import SessionStore
from ar_tryon.shades import Shade, ShadeCatalog, default_catalog
from ar_tryon.swatch import SwatchExtractor
from common.errors import InputError
from common.images import MAX_PIXELS, DecodedImage, decode_image, encode_image

if TYPE_CHECKING:
    from ar_tryon.shade_store import MerchantShadeStore

__all__ = ["TryOnService", "session_key", "session_owner"]


def session_key(owner: str, session_id: str) -> str:
    """The key of a webcam session: per API key (one client cannot read or disturb another's stream state)."""
    return f"{owner}:{session_id}"


def session_owner(key: str) -> str | None:
    """The API key id a session key belongs to (None for a key without one)."""
    owner, sep, _ = key.partition(":")
    return owner if sep else None


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
        merchant_shades: builds the store of merchants' own shades (the database) on first use; None: only the
            catalog's shades exist.
    """

    engine = "mediapipe"

    def __init__(
        self,
        catalog: ShadeCatalog | None = None,
        max_pixels: int = MAX_PIXELS,
        pool_size: int = 2,
        max_sessions: int = 32,
        session_ttl_s: float = 120.0,
        merchant_shades: Callable[[], MerchantShadeStore] | None = None,
    ) -> None:
        self.catalog = catalog or default_catalog()
        self._store_factory = merchant_shades
        self._store: MerchantShadeStore | None = None
        self._store_lock = threading.Lock()
        self.swatches = SwatchExtractor()
        self.max_pixels = max_pixels
        self._makeup = _Pool(PhotoMakeup, pool_size)
        self._garment = _Pool(GarmentTryOn, pool_size)
        self.sessions: SessionStore[_FrameSession] = SessionStore(_FrameSession, max_sessions, session_ttl_s)
        version = _mediapipe_version()
        #: The models that run, as mediapipe names its bundled files (honest engine reporting).
        self.face_models = [f"{m} (mediapipe {version})" for m in FaceLandmarker.MODELS]
        self.body_models = [f"{m} (mediapipe {version})" for m in GarmentTryOn.MODELS]

    # -- building blocks (the CLI uses these directly) --------------------------------------------------
    def shades(self, owner: str | None = None) -> ShadeListOut:
        """The built-in catalog, then `owner`'s own shades (when a store is configured)."""
        from ar_tryon.shade_store import MAX_MERCHANT_SHADES

        shades = [ShadeOut.from_shade(s) for s in self.catalog]
        own = self.merchant_shades.list(owner) if owner is not None and self._store_factory is not None else []
        limit = MAX_MERCHANT_SHADES if self._store_factory is not None else 0
        return ShadeListOut(
            source=self.catalog.source, shades=shades + own, merchant_count=len(own), merchant_limit=limit
        )

    def decode(self, data: bytes, param: str = "image") -> DecodedImage:
        if not data:
            raise ImageError(f"{param}: the uploaded file is empty", param)
        return decode_image(data, param, self.max_pixels)

    def look(self, skus: list[str], intensity: float, param: str = "shade", owner: str | None = None) -> Look:
        """A look from SKUs or `owner`'s own shade ids (one per product) at one intensity.

        Raises:
            TryOnError: no SKU, an unknown SKU, two of one product, or intensity outside [0, 1].
        """
        if not skus:
            raise TryOnError(f"{param}: give at least one shade SKU (see GET /v1/tryon/shades)", param)
        if not 0.0 <= intensity <= 1.0:
            raise TryOnError(f"intensity: must be between 0 and 1, got {intensity}", "intensity")
        shades = [self.resolve(sku.strip(), owner, param) for sku in skus]
        try:
            return Look(tuple(LookItem(s, intensity) for s in shades))
        except ValueError as exc:
            raise TryOnError(str(exc), param) from None

    def resolve(self, shade_id: str, owner: str | None = None, param: str = "shade") -> Shade:
        """The shade a request names: a built-in SKU, or one of `owner`'s own shades (read from the database, so a
        shade added through any replica works at once; another key's shade is unknown here).

        Raises:
            UnknownShadeError: neither (422 naming `param`).
        """
        if shade_id in self.catalog:
            return self.catalog.get(shade_id, param)
        if owner is not None and self._store_factory is not None:
            shade = self.merchant_shades.shade(owner, shade_id)
            if shade is not None:
                return shade
        known = ", ".join(s.sku for s in list(self.catalog)[:6])
        raise UnknownShadeError(
            f"{param}: unknown shade {shade_id!r}: neither a built-in SKU (e.g. {known}) nor one of this key's own "
            "shades (see GET /v1/tryon/shades)",
            param,
        )

    # -- merchants' own shades ---------------------------------------------------------------------------
    @property
    def merchant_shades(self) -> MerchantShadeStore:
        """The store of merchants' own shades, opened on first use.

        Raises:
            InputError: 503 when this service has no database for them.
        """
        if self._store is None:
            if self._store_factory is None:
                raise InputError("merchant shades need a database: build the service with one", None, status=503)
            with self._store_lock:
                if self._store is None:
                    self._store = self._store_factory()
        return self._store

    def swatch(self, photo: bytes, request: SwatchRequest, param: str = "photo") -> SwatchOut:
        """Measure a swatch photo: colour, finish guess, confidence (422 naming `param` when there is none)."""
        decoded = self.decode(photo, param)
        return SwatchOut(**self.swatches.process(decoded.rgb, request.background, param).to_dict())

    def shade(self, owner: str, shade_id: str) -> ShadeOut:
        """A built-in shade, or one of `owner`'s (404 naming `shade_id` otherwise)."""
        if shade_id in self.catalog:
            return ShadeOut.from_shade(self.catalog.get(shade_id))
        return self._found(self.merchant_shades.get(owner, shade_id), shade_id)

    def add_shade(self, owner: str, shade: MerchantShadeIn, swatch: SwatchOut | None = None) -> ShadeOut:
        """Add a shade of `owner` (409 beyond the per-key limit)."""
        return self.merchant_shades.create(owner, shade, swatch)

    def add_shade_from_swatch(self, owner: str, photo: bytes, form: SwatchShadeForm) -> ShadeOut:
        """Add a shade of `owner` measured from a swatch photo; the finish is the guess unless the form gives one."""
        swatch = self.swatch(photo, form)
        shade = MerchantShadeIn(name=form.name, hex=swatch.hex, kind=form.kind, finish=form.finish or swatch.finish)
        return self.merchant_shades.create(owner, shade, swatch)

    def update_shade(self, owner: str, shade_id: str, change: MerchantShadePatch) -> ShadeOut:
        self._writable(shade_id)
        return self._found(self.merchant_shades.update(owner, shade_id, change), shade_id)

    def delete_shade(self, owner: str, shade_id: str) -> None:
        self._writable(shade_id)
        if not self.merchant_shades.delete(owner, shade_id):
            self._found(None, shade_id)

    def _writable(self, shade_id: str) -> None:
        if shade_id in self.catalog:
            raise TryOnError(
                f"shade_id: {shade_id} is a built-in shade and the built-in catalog is read-only; add your own with "
                "POST /v1/tryon/shades",
                "shade_id",
                status=403,
            )

    @staticmethod
    def _found(shade: ShadeOut | None, shade_id: str) -> ShadeOut:
        if shade is None:
            raise InputError(f"shade_id: no shade {shade_id}", "shade_id", status=404)
        return shade

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
    def makeup(self, image: bytes, request: MakeupRequest, owner: str | None = None) -> TryOnImage:
        """Apply shades (built-in, or `owner`'s own) to the largest face (or all faces) of a photo."""
        look = self.look(request.shade, request.intensity, owner=owner)
        decoded = self.decode(image, "image")
        result = self.makeup_photo(decoded, look, all_faces=request.faces == "all")
        return self._makeup_image(decoded, result, look, request.intensity, request.output, "png")

    def frame(self, session_key: str, frame: bytes, request: FrameRequest) -> TryOnImage:
        """One webcam frame: faces tracked and smoothed across the frames of `session_key` in this process.

        A frame without a face comes back as it was. Several replicas keep one session's state in one place
        by routing every frame of a session to the same replica (see `serving/deployments/tryon.py`). The
        session's owner (see `session_key`) may name its own shades.
        """
        look = self.look(request.shade, request.intensity, owner=session_owner(session_key))
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
        if self._store is not None:
            self._store.close()
        self.sessions.close()
        self._makeup.close()
        self._garment.close()
