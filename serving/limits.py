"""Request limits: the body size as ASGI middleware (rejects by Content-Length, and counts streamed bodies), and
how many image requests of one key run at once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import ApiError, error_body

__all__ = ["BodySizeLimit", "KeyConcurrency"]


class KeyConcurrency:
    """At most `limit` requests of one key in flight at once in this process (0: no limit)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()

    def in_flight(self, key_id: str) -> int:
        with self._lock:
            return self._in_flight.get(key_id, 0)

    @contextmanager
    def hold(self, key_id: str) -> Iterator[None]:
        """One slot of `key_id` for the duration; a 429 `ApiError` (`Retry-After: 1`) when all are taken."""
        with self._lock:
            if self.limit and self._in_flight.get(key_id, 0) >= self.limit:
                raise ApiError(
                    429,
                    f"this API key already has {self.limit} image requests in flight "
                    "(NOTESTUDIO_IMAGE_CONCURRENCY_PER_KEY); retry when one has finished",
                    headers={"Retry-After": "1"},
                )
            self._in_flight[key_id] = self._in_flight.get(key_id, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._in_flight[key_id] - 1
                if left:
                    self._in_flight[key_id] = left
                else:
                    del self._in_flight[key_id]


class BodySizeLimit:
    """413 in the error envelope when a body is larger than `max_bytes` (checked before a handler reads it)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._reject(send)
            return
        received = 0
        rejected = False
        response_started = False

        async def limited_receive() -> Message:
            # Frameworks turn exceptions raised here into their own 400, so answer 413 ourselves and tell
            # the app the client went away; anything it still tries to send is dropped.
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    rejected = True
                    if not response_started:
                        await self._reject(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if rejected:
                return
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, limited_receive, guarded_send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            error_body(
                413,
                f"request body exceeds the limit of {self.max_bytes} bytes (NOTESTUDIO_MAX_BODY_BYTES)",
                "body",
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
