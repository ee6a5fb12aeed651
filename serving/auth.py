"""API keys with scopes, and a per-key rate limit.

Keys are kept only as SHA-256 digests; a key's public id (first 12 hex characters of its digest) is what
job rows and logs record, so a leaked database or log never leaks a key.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import Request

from serving.errors import ApiError

__all__ = ["Principal", "KeyRing", "RateLimiter", "LocalRateLimiter", "TokenBuckets", "rate_limited", "key_id"]


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _session_token(digest: str) -> str:
    return hmac.new(bytes.fromhex(digest), b"notestudio studio session v1", hashlib.sha256).hexdigest()


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
    """Looks up `Authorization: Bearer KEY` or `X-API-Key: KEY`, and the studio's session tokens."""

    def __init__(self, keys: dict[str, frozenset[str]]) -> None:
        self._by_digest = {hashlib.sha256(k.encode()).hexdigest(): scopes for k, scopes in keys.items()}
        self._by_session = {_session_token(digest): digest for digest in self._by_digest}

    def key_from_headers(self, headers: dict[str, str] | Any) -> str:
        """The key of `Authorization: Bearer KEY` or `X-API-Key: KEY` ('' when neither is sent)."""
        header = headers.get("authorization", "")
        return header[7:].strip() if header[:7].lower() == "bearer " else headers.get("x-api-key", "").strip()

    def session_token(self, key: str) -> str | None:
        """The studio's session cookie for a valid `key` (None for an unknown one). It admits uploads to the
        studio only, never the API, and is the same on every replica and restart; it dies with its key."""
        digest = hashlib.sha256(key.encode()).hexdigest()
        return _session_token(digest) if digest in self._by_digest else None

    def session_principal(self, token: str) -> Principal | None:
        """Whose studio session `token` is (None: not one of a configured key)."""
        digest = self._by_session.get(token)
        return None if digest is None else Principal(digest[:12], self._by_digest[digest])

    def lookup(self, key: str) -> Principal | None:
        """The principal of a key given some other way (LibreTranslate clients send `api_key` in the body)."""
        digest = hashlib.sha256(key.encode()).hexdigest()
        scopes = self._by_digest.get(digest)
        return None if scopes is None else Principal(digest[:12], scopes)

    def authenticate(self, request: Request) -> Principal:
        key = self.key_from_headers(request.headers)
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


class TokenBuckets:
    """Per-key token buckets: `per_minute` sustained, bursts up to the same amount. Not thread-safe."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, now: float | None = None) -> int:
        """Take one token for `key`; returns 0 when allowed, else the seconds to wait before retrying."""
        granted, retry = self.take_up_to(key, 1, now)
        return 0 if granted else retry

    def take_up_to(self, key: str, want: int, now: float | None = None) -> tuple[int, int]:
        """Take up to `want` whole tokens; returns (granted, seconds until one token is back when none was)."""
        if self.per_minute <= 0:
            return want, 0
        rate = self.per_minute / 60.0
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - last) * rate)
        granted = min(want, int(tokens))
        self._buckets[key] = (tokens - granted, now)
        if granted:
            return granted, 0
        return 0, max(1, int((1.0 - tokens) / rate + 0.999))


def rate_limited(per_minute: int, retry_after: int) -> ApiError:
    return ApiError(
        429,
        f"rate limit of {per_minute}/min exceeded; retry in {retry_after}s",
        headers={"Retry-After": str(retry_after)},
    )


class RateLimiter(Protocol):
    """Admits or refuses one request of a key (429 `ApiError` with `Retry-After` when over the limit)."""

    per_minute: int

    async def check(self, principal: Principal) -> None: ...


class LocalRateLimiter:
    """The limit kept in this process (one server process; replicas share `SharedRateLimiter` instead)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets = TokenBuckets(per_minute)
        self._lock = threading.Lock()

    async def check(self, principal: Principal) -> None:
        if self.per_minute <= 0:
            return
        with self._lock:
            retry = self._buckets.take(principal.key_id)
        if retry:
            raise rate_limited(self.per_minute, retry)
