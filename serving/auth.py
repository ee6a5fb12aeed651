"""API keys with scopes, and a per-key rate limit.

Keys are kept only as SHA-256 digests; a key's public id (first 12 hex characters of its digest) is what
job rows and logs record, so a leaked database or log never leaks a key.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

from fastapi import Request

from serving.errors import ApiError

__all__ = ["Principal", "KeyRing", "RateLimiter", "key_id"]


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's public id and its scopes."""

    key_id: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes


class KeyRing:
    """Looks up `Authorization: Bearer KEY` or `X-API-Key: KEY`."""

    def __init__(self, keys: dict[str, frozenset[str]]) -> None:
        self._by_digest = {hashlib.sha256(k.encode()).hexdigest(): scopes for k, scopes in keys.items()}

    def authenticate(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        key = header[7:].strip() if header[:7].lower() == "bearer " else request.headers.get("x-api-key", "").strip()
        if not key:
            raise ApiError(
                401,
                "missing API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`",
                "Authorization",
                headers={"WWW-Authenticate": "Bearer"},
            )
        digest = hashlib.sha256(key.encode()).hexdigest()
        scopes = self._by_digest.get(digest)
        if scopes is None:
            raise ApiError(401, "unknown API key", "Authorization", headers={"WWW-Authenticate": "Bearer"})
        return Principal(digest[:12], scopes)


class RateLimiter:
    """Token bucket per key: `per_minute` sustained, bursts up to the same amount."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, principal: Principal) -> None:
        if self.per_minute <= 0:
            return
        rate = self.per_minute / 60.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(principal.key_id, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens < 1.0:
                retry = max(1, int((1.0 - tokens) / rate + 0.999))
                self._buckets[principal.key_id] = (tokens, now)
                raise ApiError(
                    429,
                    f"rate limit of {self.per_minute}/min exceeded; retry in {retry}s",
                    headers={"Retry-After": str(retry)},
                )
            self._buckets[principal.key_id] = (tokens - 1.0, now)
