"""The studio's HTTP client: the studio talks to the service only through its public API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

__all__ = ["ApiClient", "ApiClientError"]


class ApiClientError(Exception):
    """An error envelope from the service, flattened to one readable line.

    Attributes:
        status: the HTTP status (0 when the service could not be reached).
        message: the envelope's message.
        param: the field the service named, or None.
    """

    def __init__(self, text: str, status: int = 0, message: str | None = None, param: str | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.message = message if message is not None else text
        self.param = param


class ApiClient:
    def __init__(self, base_url: str, api_key: str, timeout_s: float = 30.0) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s, headers={"authorization": f"Bearer {api_key}"})

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiClientError(f"service unreachable: {exc}") from exc
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if response.status_code >= 400:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            message = error.get("message", response.text)
            param = f" ({error['param']})" if error.get("param") else ""
            raise ApiClientError(
                f"{response.status_code} {message}{param}", response.status_code, message, error.get("param")
            )
        return body

    def download(self, path: str) -> bytes:
        """A binary resource (a job artifact); errors as `ApiClientError` with the envelope's message."""
        try:
            response = self._http.get(path)
        except httpx.HTTPError as exc:
            raise ApiClientError(f"service unreachable: {exc}") from exc
        if response.status_code >= 400:
            error = (
                response.json().get("error", {})
                if response.headers.get("content-type", "").startswith("application/json")
                else {}
            )
            message = error.get("message", response.text[:200])
            raise ApiClientError(f"{response.status_code} {message}", response.status_code, message, error.get("param"))
        return response.content

    def wait_for_job(
        self, job_id: str, on_progress: Callable[[float, str], None] | None = None, timeout_s: float = 3600
    ) -> dict[str, Any]:
        """Poll a job until it ends; `on_progress(fraction, message)` is called on each poll."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.request("GET", f"/v1/jobs/{job_id}")
            if on_progress:
                on_progress(job["progress"], job["message"])
            if job["state"] in {"succeeded", "failed", "cancelled"} or time.monotonic() > deadline:
                return job
            time.sleep(0.5)
