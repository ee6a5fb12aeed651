"""`TryOnService`: the library's front door for servers and the CLI — bytes in, results out, models shared.

mediapipe graphs are not thread-safe and take ~20-60 ms to build, so the service keeps a small pool of
each kind per process (built lazily, reused across requests) and one `VideoMakeup` per stream session in a
bounded LRU/TTL store. Every method is safe to call from many threads.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from ar_tryon.errors import TryOnError
from ar_tryon.garment.cutout import garment_rgba
from ar_tryon.garment.fit import GarmentCategory
from ar_tryon.garment.renderer import GarmentResult, GarmentTryOn
from ar_tryon.images import MAX_PIXELS, DecodedImage, decode_image
from ar_tryon.makeup.look import Look, LookItem
from ar_tryon.pipeline import MakeupResult, PhotoMakeup, VideoMakeup
from ar_tryon.sessions import SessionStore
from ar_tryon.shades import ShadeCatalog, default_catalog

__all__ = ["TryOnService", "shared_service"]

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


class _FrameSession:
    """One stream's tracker; frames of one session are processed one at a time, in order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.video = VideoMakeup()
        self.closed = False

    def close(self) -> None:
        with self.lock:
            if not self.closed:
                self.closed = True
                self.video.close()


class TryOnService:
    """Thread-safe makeup / garment try-on over image bytes.

    Args:
        catalog: shades (default: the packaged catalog).
        max_pixels: larger images are refused (413) before decoding.
        pool_size: graphs of each kind kept per process (concurrent photo requests beyond it wait).
        max_sessions: streams tracked at once (LRU beyond it).
        session_ttl_s: a stream idle this long is forgotten.
    """

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

    def decode(self, data: bytes, param: str = "image") -> DecodedImage:
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

    def makeup_frame(
        self, session_id: str, image: DecodedImage, look: Look, timestamp_s: float | None = None
    ) -> MakeupResult:
        """One webcam frame of a session: faces tracked and smoothed across the session's frames."""
        for _ in range(2):  # a session evicted while we waited for it is recreated once
            session = self.sessions.get(session_id)
            with session.lock:
                if not session.closed:
                    return session.video.process(image.rgb, look, timestamp_s)
        raise TryOnError("session_id: the session was evicted twice in a row; retry", "session_id")

    def garment(self, image: DecodedImage, garment: DecodedImage, category: str) -> GarmentResult:
        try:
            cat = GarmentCategory(category)
        except ValueError:
            raise TryOnError(f"category: expected upper, lower or dress, got {category!r}", "category") from None
        rgba = garment_rgba(garment.rgb, garment.alpha)
        with self._garment.take() as tryon:
            return tryon.process(image.rgb, rgba, cat)

    def close(self) -> None:
        self.sessions.close()
        self._makeup.close()
        self._garment.close()


_shared: TryOnService | None = None
_shared_lock = threading.Lock()


def shared_service() -> TryOnService:
    """The process-wide service, built on first use (models load lazily inside it)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = TryOnService()
        return _shared
