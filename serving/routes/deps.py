"""Dependencies shared by the `/v1` routers: authentication with a scope, the rate limit, and the services.

Routes receive capability services through these dependencies (never by importing a module-level
instance), so one app serves under Ray Serve, uvicorn or `TestClient`, and tests may substitute a service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
from fastapi import Depends, Request

from ar_tryon.service import TryOnService
from common.images import start_pixel_budget
from generation.copy.service import CopyService
from generation.image.service import ImageService
from generation.translate.glossary_store import GlossaryStore
from generation.translate.service import TranslationService
from generation.video.service import VideoService
from moderation.service import ModerationService
from serving.auth import Principal
from serving.deployments.tryon import FrameProcessor
from serving.errors import ApiError
from serving.runtime import Runtime, get_runtime
from serving.services import Services

__all__ = [
    "require",
    "require_images",
    "image_request",
    "any_key",
    "get_services",
    "get_copy",
    "get_moderation",
    "get_images",
    "get_videos",
    "get_translation",
    "get_glossaries",
    "get_tryon",
    "get_frames",
]


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits keys holding `scope` (or `admin`), within the key's rate limit."""

    async def dependency(request: Request, runtime: Runtime = Depends(get_runtime)) -> Principal:
        principal = runtime.keys.authenticate(request)
        if not principal.allows(scope):
            raise ApiError(403, f"this API key lacks the {scope!r} scope", "Authorization")
        await runtime.rate_limiter.check(principal)
        return principal

    return dependency


def require_images(scope: str) -> Callable[..., AsyncIterator[Principal]]:
    """`require(scope)` for routes that decode images: the request holds one of its key's image slots on this
    replica (429 when `image_concurrency_per_key` are taken) and gets a pixel budget (`max_request_pixels`)."""
    authorized = require(scope)

    async def dependency(
        principal: Principal = Depends(authorized), runtime: Runtime = Depends(get_runtime)
    ) -> AsyncIterator[Principal]:
        with image_request(runtime, principal):
            yield principal

    return dependency


@contextmanager
def image_request(runtime: Runtime, principal: Principal) -> Iterator[None]:
    """One image slot of `principal`'s key, and a fresh pixel budget for the current request (its context)."""
    with runtime.image_slots.hold(principal.key_id):
        start_pixel_budget(runtime.settings.max_request_pixels)
        yield


async def any_key(request: Request, runtime: Runtime = Depends(get_runtime)) -> Principal:
    """Any valid key, whatever its scopes."""
    principal = runtime.keys.authenticate(request)
    await runtime.rate_limiter.check(principal)
    return principal


# Dependencies are coroutines: FastAPI runs a plain `def` dependency in its threadpool, and under load each
# such hop costs more than the work (bench_moderation_http lost ~10% at 150 req/s with three of them).


async def get_services(runtime: Runtime = Depends(get_runtime)) -> Services:
    return runtime.services


async def _service(services: Services, name: str) -> Any:
    """A built service at once; the first use builds it in a worker thread (loading a model blocks)."""
    if services.is_built(name):
        return getattr(services, name)
    return await anyio.to_thread.run_sync(getattr, services, name)


async def get_copy(services: Services = Depends(get_services)) -> CopyService:
    return await _service(services, "copy")


async def get_moderation(services: Services = Depends(get_services)) -> ModerationService:
    return await _service(services, "moderation")


async def get_images(services: Services = Depends(get_services)) -> ImageService:
    return await _service(services, "images")


async def get_videos(services: Services = Depends(get_services)) -> VideoService:
    return await _service(services, "videos")


async def get_translation(services: Services = Depends(get_services)) -> TranslationService:
    return await _service(services, "translation")


async def get_glossaries(services: Services = Depends(get_services)) -> GlossaryStore:
    return await _service(services, "glossaries")


async def get_tryon(services: Services = Depends(get_services)) -> TryOnService:
    return await _service(services, "tryon")


async def get_frames(services: Services = Depends(get_services)) -> FrameProcessor:
    return await _service(services, "frames")
