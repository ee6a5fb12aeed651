"""`ModerationService`: the moderator in its own Ray Serve deployment, batched across requests.

Requests from many ingress replicas are merged by `@serve.batch` into one `moderate_batch` call (one
classifier product per batch); the decision policy is hot-reloaded from `user_config` via `reconfigure`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ray import serve

from moderation import Listing, ModerationResult, Moderator, Policy

__all__ = ["ModerationService", "build_moderator"]


def build_moderator(data_dir: Path, classifier_model: str | None = None, registry: str | None = None) -> Moderator:
    """The moderator a service replica runs: shipped data, and either the linear classifier (trained once
    into `data_dir`) or, when `classifier_model` names a registry model, a fine-tuned transformer."""
    images_dir = data_dir / "brand-images"
    if classifier_model:
        from models import ModelRegistry, load_engine
        from moderation import TransformerClassifier

        engine = load_engine(ModelRegistry.from_yaml(registry).get(classifier_model))
        moderator = Moderator.from_files(images_dir=images_dir)
        moderator.classifier = TransformerClassifier(engine)
        return moderator
    return Moderator.from_files(classifier_path=data_dir / "models" / "moderation-linear.pkl", images_dir=images_dir)


@serve.deployment(name="Moderation", max_ongoing_requests=256)
class ModerationService:
    def __init__(self, data_dir: str, classifier_model: str | None = None, registry: str | None = None) -> None:
        self.moderator = build_moderator(Path(data_dir), classifier_model, registry)

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
