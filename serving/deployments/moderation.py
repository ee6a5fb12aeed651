"""The `Moderation` deployment: the moderator in its own Ray Serve deployment, batched across requests.

Requests from many ingress replicas are merged by `@serve.batch` into one `moderate_batch` call (one
classifier product per batch); the decision policy is hot-reloaded from `user_config` via `reconfigure`.
The ingress reaches it through `RemoteModeration`, the backend interface `ModerationService` expects.
"""

from __future__ import annotations

from typing import Any

from ray import serve

from moderation import Listing, ModerationResult, Policy
from serving.services import build_services
from serving.settings import Settings

__all__ = ["ModerationDeployment", "RemoteModeration"]


@serve.deployment(name="Moderation", max_ongoing_requests=256, graceful_shutdown_wait_loop_s=0.5)
class ModerationDeployment:
    def __init__(self, settings: dict[str, Any]) -> None:
        self.moderator = build_services(Settings(**settings)).moderator

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """`user_config: {policy: {...}}` replaces the decision policy without a restart."""
        if user_config.get("policy"):
            self.moderator.set_policy(Policy.model_validate(user_config["policy"]))

    def info(self) -> dict[str, Any]:
        return {"engine": self.moderator.engine, "versions": self.moderator.versions}

    @serve.batch(max_batch_size=512, batch_wait_timeout_s=0.002)
    async def _moderate_batched(self, requests: list[list[Listing]]) -> list[list[ModerationResult]]:
        flat = [listing for request in requests for listing in request]
        results = self.moderator.moderate_batch(flat)
        out, start = [], 0
        for request in requests:
            out.append(results[start : start + len(request)])
            start += len(request)
        return out

    async def moderate(self, listings: list[Listing]) -> list[ModerationResult]:
        return await self._moderate_batched(listings)

    def register_image(self, brand: str, data: bytes, kind: str) -> tuple[str, int]:
        if self.moderator.images is None:
            raise RuntimeError("this moderation service has no image registry")
        image_id = self.moderator.images.register(brand, data, kind)
        return image_id, len(self.moderator.images)


class RemoteModeration:
    """`ModerationBackend` over a `Moderation` deployment handle."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    async def moderate(self, listings: list[Listing]) -> list[ModerationResult]:
        return await self._handle.moderate.remote(listings)

    async def register_image(self, brand: str, data: bytes, kind: str) -> tuple[str, int]:
        return await self._handle.register_image.remote(brand, data, kind)
