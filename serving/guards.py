"""ASGI guards in front of the whole app: the Host header in dev mode, and the studio's uploads behind a key.

**Dev mode on loopback** (a generated key, `host` 127.0.0.1 / ::1 / localhost): only requests whose `Host` is a
loopback name on the service's port are answered (421 otherwise). A web page of any site can make a browser on
this machine send requests here under its own name (DNS rebinding); it cannot make them say `localhost:8000`.
The studio offers the generated key only to such requests (see `ui/studio.py`).

**Studio uploads.** Gradio stores uploaded files before any studio function (and its API key) sees them, so
`POST /studio/gradio_api/upload` needs a valid key too: in `Authorization` / `X-API-Key`, or as the studio's
session cookie, an HttpOnly, SameSite=Strict token derived from the key (`KeyRing.session_token`). The studio page
gets it by posting the key the user entered to `POST /studio/session`; in dev mode on loopback the page itself
comes with it. The body limit (`BodySizeLimit`) applies to uploads like every other request.
"""

from __future__ import annotations

import ipaddress
import json
from http.cookies import CookieError, SimpleCookie

from starlette.types import ASGIApp, Receive, Scope, Send

from serving.auth import KeyRing
from serving.errors import error_body

__all__ = [
    "STUDIO_PATH",
    "STUDIO_PAGES",
    "SESSION_COOKIE",
    "DevHostGuard",
    "StudioUploadGuard",
    "is_loopback_bind",
    "is_loopback_host",
]

#: Where the studio is mounted (in Chinese; `ui.studio.studio_path`), and its pages in every language.
STUDIO_PATH = "/studio"
STUDIO_PAGES = (STUDIO_PATH, f"{STUDIO_PATH}/en")
#: The studio's session cookie (a token that admits uploads, not API calls).
SESSION_COOKIE = "notestudio_studio"

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def is_loopback_bind(host: str) -> bool:
    """The service listens on loopback only (`127.0.0.1`, `::1`, `localhost`)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def is_loopback_host(header: str | None, port: int) -> bool:
    """A `Host` header that names this machine's loopback on `port` (`localhost:8000`, `127.0.0.1:8000`,
    `[::1]:8000`; without a port only for port 80)."""
    value = (header or "").strip().lower()
    for name in _LOOPBACK_NAMES:
        if value == f"{name}:{port}" or (value == name and port == 80):
            return True
    return False


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}


async def _answer(send: Send, status: int, body: dict | None, headers: list[tuple[bytes, bytes]] = ()) -> None:
    payload = json.dumps(body).encode() if body is not None else b""
    head = [(b"content-length", str(len(payload)).encode()), *headers]
    if body is not None:
        head.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": payload})


class DevHostGuard:
    """421 for any `Host` but a loopback name on `port` (install it in dev mode on a loopback address)."""

    def __init__(self, app: ASGIApp, port: int) -> None:
        self.app = app
        self.port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = _headers(scope).get("host")
        if is_loopback_host(host, self.port):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        message = (
            f"Host {host!r} is not served: in dev mode (a generated key) this service answers only "
            f"localhost:{self.port}, 127.0.0.1:{self.port} or [::1]:{self.port}; configure NOTESTUDIO_API_KEYS "
            "to serve other names"
        )
        await _answer(send, 421, error_body(421, message, "Host", "misdirected_request"))


class StudioUploadGuard:
    """Uploads to the studio need a key (header or session cookie); `POST {STUDIO_PATH}/session` sets the cookie.

    Args:
        app: the app (the studio mounted at `STUDIO_PATH`).
        keys: the keys that may upload.
        page_key: a key whose session the studio page itself carries (dev mode on loopback), or None.
    """

    def __init__(self, app: ASGIApp, keys: KeyRing, page_key: str | None = None) -> None:
        self.app = app
        self.keys = keys
        self._page_cookie = self._cookie(keys.session_token(page_key)) if page_key else None

    @staticmethod
    def _cookie(token: str | None) -> tuple[bytes, bytes]:
        value = f"{SESSION_COOKIE}={token}; Path={STUDIO_PATH}; HttpOnly; SameSite=Strict"
        return (b"set-cookie", value.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == STUDIO_PATH or path.startswith(STUDIO_PATH + "/")):
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        if method == "POST" and path == f"{STUDIO_PATH}/session":
            await self._session(scope, send)
        elif method == "POST" and path.rstrip("/").endswith("/upload"):
            if self._uploader(scope):
                await self.app(scope, receive, send)
            else:
                message = (
                    "uploads to the studio need an API key: enter it in the studio (it sets the session cookie) or "
                    "send `Authorization: Bearer <key>`"
                )
                await _answer(send, 401, error_body(401, message, "Authorization"), [(b"www-authenticate", b"Bearer")])
        elif method == "GET" and self._page_cookie and path.rstrip("/") in STUDIO_PAGES:
            await self.app(scope, receive, self._with_cookie(send))
        else:
            await self.app(scope, receive, send)

    def _uploader(self, scope: Scope) -> bool:
        headers = _headers(scope)
        key = self.keys.key_from_headers(headers)
        if key:
            return self.keys.lookup(key) is not None
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except CookieError:
            return False
        morsel = cookie.get(SESSION_COOKIE)
        return morsel is not None and self.keys.session_principal(morsel.value) is not None

    async def _session(self, scope: Scope, send: Send) -> None:
        token = self.keys.session_token(self.keys.key_from_headers(_headers(scope)) or "\0")
        if token is None:
            message = "unknown or missing API key: send the key as `Authorization: Bearer <key>`"
            await _answer(send, 401, error_body(401, message, "Authorization"), [(b"www-authenticate", b"Bearer")])
            return
        await _answer(send, 204, None, [self._cookie(token), (b"cache-control", b"no-store")])

    def _with_cookie(self, send: Send) -> Send:
        async def sending(message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 300:
                message = {**message, "headers": [*message.get("headers", []), self._page_cookie]}
            await send(message)

        return sending
