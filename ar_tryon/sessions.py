"""A bounded store of per-stream state (landmark tracks, smoothing filters): LRU + idle TTL.

Webcam clients come and go without saying goodbye. Each session holds mediapipe graphs (a few MB), so the
store caps both their number (least recently used is evicted) and their idle time; evicted values are
closed, releasing their graphs.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

__all__ = ["SessionStore", "Closable"]


class Closable(Protocol):
    def close(self) -> None: ...


V = TypeVar("V", bound=Closable)


class SessionStore(Generic[V]):
    """Thread-safe `key -> value` with at most `max_sessions` entries, each dropped after `ttl_s` idle seconds."""

    def __init__(
        self,
        factory: Callable[[], V],
        max_sessions: int = 32,
        ttl_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be >= 1, got {max_sessions}")
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s}")
        self._factory = factory
        self.max_sessions = max_sessions
        self.ttl_s = ttl_s
        self._clock = clock
        self._items: OrderedDict[str, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def get(self, key: str) -> V:
        """The session's value, created on first use; touching it makes it most recently used."""
        evicted: list[V] = []
        with self._lock:
            now = self._clock()
            evicted += self._expire(now)
            if key in self._items:
                value = self._items.pop(key)[0]
            else:
                value = self._factory()
                while len(self._items) >= self.max_sessions:
                    evicted.append(self._items.popitem(last=False)[1][0])
            self._items[key] = (value, now)
        for old in evicted:  # close outside the lock: closing a graph can take a few ms
            old.close()
        return value

    def drop(self, key: str) -> bool:
        with self._lock:
            item = self._items.pop(key, None)
        if item is not None:
            item[0].close()
        return item is not None

    def close(self) -> None:
        with self._lock:
            values = [v for v, _ in self._items.values()]
            self._items.clear()
        for value in values:
            value.close()

    def _expire(self, now: float) -> list[V]:
        expired = [k for k, (_, seen) in self._items.items() if now - seen > self.ttl_s]
        return [self._items.pop(k)[0] for k in expired]
