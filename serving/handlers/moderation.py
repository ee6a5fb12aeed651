"""Moderation handler: wire records -> library listings (validated one by one) -> backend -> audit.

The backend is the `ModerationService` deployment behind a Ray handle in production, or an in-process
`Moderator` (tests, single-process runs); both expose the same two coroutines.
"""

from __future__ import annotations

import base64
import binascii
import threading
from pathlib import Path
from typing import Any

import anyio
from pydantic import ValidationError

from moderation import AuditLog, ImageError, Listing, ModerationResult, Moderator, Policy, decode_image, input_hash
from serving.errors import ApiError
from serving.handlers.coalescing import CoalescingWorker
from serving.protocol.moderation import ListingIn

__all__ = ["ModerationHandler", "LocalModeration", "RemoteModeration", "decode_base64_image"]

MAX_IMAGE_BYTES = 10 * 1024 * 1024


def decode_base64_image(value: str, param: str) -> bytes:
    """base64 or a data: URI -> validated image bytes; ApiError(422, param) otherwise."""
    if value.startswith(("http://", "https://")):
        raise ApiError(422, "image URLs are not fetched by this service; send the image as base64", param)
    payload = value.split(",", 1)[1] if value.startswith("data:") else value
    if len(payload) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise ApiError(413, f"image is larger than {MAX_IMAGE_BYTES} bytes", param)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "image is not valid base64", param) from None
    try:
        decode_image(data)
    except ImageError as exc:
        raise ApiError(422, f"image: {exc}", param) from None
    return data


def listing_from_wire(record: dict[str, Any], param: str) -> Listing:
    """Validate one wire record; raises ApiError naming `param.field`."""
    if not isinstance(record, dict):
        raise ApiError(422, "a listing must be a JSON object", param)
    try:
        wire = ListingIn.model_validate(record)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ApiError(422, f"{where}: {first['msg']}", f"{param}.{where}") from None
    if not (wire.title.strip() or wire.body.strip() or wire.images):
        raise ApiError(422, "listing has no title, body or images", param)
    images = [decode_base64_image(image, f"{param}.images.{i}") for i, image in enumerate(wire.images)]
    return Listing(
        id=wire.id,
        title=wire.title,
        body=wire.body,
        price=wire.price,
        brand=wire.brand,
        category=wire.category,
        images=images,
    )


class LocalModeration:
    """In-process backend: one coalescing worker thread runs the moderator (built on first use)."""

    def __init__(self, data_dir: Path, classifier_model: str | None = None, registry: str | None = None) -> None:
        self._args = (data_dir, classifier_model, registry)
        self._moderator: Moderator | None = None
        self._lock = threading.Lock()
        self._worker = CoalescingWorker(lambda listings: self.moderator().moderate_batch(listings), name="moderation")

    def moderator(self) -> Moderator:
        with self._lock:
            if self._moderator is None:
                from serving.deployments.moderation import build_moderator

                self._moderator = build_moderator(*self._args)
            return self._moderator

    def warm_up(self) -> None:
        """Build the moderator now (in the background at start) so no request pays for loading or training."""
        threading.Thread(target=self.moderator, name="moderation-warm-up", daemon=True).start()

    async def moderate(self, listings: list[Listing]) -> list[ModerationResult]:
        return await self._worker.submit(listings)

    async def register_image(self, brand: str, data: bytes, kind: str) -> tuple[str, int]:
        registry = self.moderator().images
        image_id = await anyio.to_thread.run_sync(registry.register, brand, data, kind)
        return image_id, len(registry)


class RemoteModeration:
    """Backend behind a `ModerationService` deployment handle."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    async def moderate(self, listings: list[Listing]) -> list[ModerationResult]:
        return await self._handle.moderate.remote(listings)

    async def register_image(self, brand: str, data: bytes, kind: str) -> tuple[str, int]:
        return await self._handle.register_image.remote(brand, data, kind)


class ModerationHandler:
    def __init__(self, backend: LocalModeration | RemoteModeration, audit: AuditLog) -> None:
        self.backend = backend
        self.audit = audit
        # Audit rows of concurrent requests go to the database in one transaction, from one thread.
        self._audit_writer = CoalescingWorker(lambda pairs: self._record(pairs), name="moderation-audit")

    def set_policy(self, policy: dict[str, Any]) -> None:
        """Hot reload (Ray Serve `reconfigure`); only the in-process backend holds a policy here."""
        if not isinstance(self.backend, LocalModeration):
            raise ValueError("moderation runs in its own deployment: set its user_config instead")
        self.backend.moderator().set_policy(Policy.model_validate(policy))

    def versions(self) -> dict[str, str]:
        if isinstance(self.backend, LocalModeration):
            return self.backend.moderator().versions
        return {}

    def _record(self, pairs: list[tuple[ModerationResult, str, str]]) -> list[str]:
        by_key: dict[str, list[tuple[ModerationResult, str]]] = {}
        for result, digest, api_key in pairs:
            by_key.setdefault(api_key, []).append((result, digest))
        for api_key, items in by_key.items():
            self.audit.record_many(items, api_key)
        return [result.decision_id for result, _, _ in pairs]

    async def moderate_records(self, records: list[dict[str, Any]], api_key: str, param: str = "listings"):
        """Results in input order; a bad record becomes an error entry and the rest are moderated."""
        slots: list[ModerationResult | dict[str, Any] | None] = [None] * len(records)
        valid: list[tuple[int, Listing, str]] = []
        for index, record in enumerate(records):
            try:
                listing = listing_from_wire(record, f"{param}.{index}")
            except ApiError as exc:
                record_id = record.get("id") if isinstance(record, dict) else None
                slots[index] = {
                    "id": record_id if isinstance(record_id, str | int) else None,
                    "error": {"type": exc.type, "message": exc.message, "param": exc.param},
                }
                continue
            valid.append((index, listing, input_hash(record)))
        if valid:
            results = await self.backend.moderate([listing for _, listing, _ in valid])
            await self._audit_writer.submit([(r, v[2], api_key) for r, v in zip(results, valid, strict=True)])
            for (index, _, _), result in zip(valid, results, strict=True):
                slots[index] = result
        return slots

    async def moderate_one(self, listing: Listing, record: dict[str, Any], api_key: str) -> ModerationResult:
        [result] = await self.backend.moderate([listing])
        await self._audit_writer.submit([(result, input_hash(record), api_key)])
        return result
