"""`ModerationService`: the moderation capability — listings in batches, free text, images, decisions,
appeals and the brand image registry — with its audit trail.

Where the moderator runs is the backend's business: `LocalModeration` runs it in this process on one
coalescing worker thread (bigger batches under load, no GIL thrash, the event loop stays free); a Ray
deployment handle can stand in for it with the same two coroutines (see `serving/deployments`). The
service itself validates records one by one (a bad record becomes an error entry, the others are
moderated), writes every decision to the audit log with the key that asked and the merchant the listing
names, and answers decision lookups and appeals for those keys alone (others get the 404 of an unknown id).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

import anyio

from common.coalescing import CoalescingWorker
from common.errors import InputError
from common.text import replace_unencodable
from moderation.audit import AppealLimitError, AuditLog, Viewer, input_hash
from moderation.moderator import Moderator
from moderation.policy import Policy
from moderation.schema import (
    BrandImageIn,
    BrandImageOut,
    DecisionOut,
    ImagesIn,
    ListingIn,
    TextIn,
    decode_base64_image,
    read_images,
)
from moderation.types import Listing, ModerationResult

__all__ = ["ModerationService", "ModerationBackend", "LocalModeration", "RecordSlot"]

#: A batch entry: a result, or `{"id", "error": {...}}` for a record that could not be read.
RecordSlot = ModerationResult | dict[str, Any]


class ModerationBackend(Protocol):
    """Runs the moderator somewhere (this process, or a Ray deployment)."""

    async def moderate(self, listings: list[Listing]) -> list[ModerationResult]: ...

    async def register_image(self, brand: str, data: bytes, kind: str) -> tuple[str, int]: ...


class LocalModeration:
    """In-process backend: one coalescing worker thread runs the moderator (built on first use)."""

    def __init__(self, build: Callable[[], Moderator]) -> None:
        self._build = build
        self._moderator: Moderator | None = None
        self._lock = threading.Lock()
        self._worker = CoalescingWorker(lambda listings: self.moderator().moderate_batch(listings), name="moderation")

    def moderator(self) -> Moderator:
        with self._lock:
            if self._moderator is None:
                self._moderator = self._build()
            return self._moderator

    def warm_up(self) -> None:
        """Build the moderator now, in the background, so no request pays for loading or training."""
        threading.Thread(target=self.moderator, name="moderation-warm-up", daemon=True).start()

    async def moderate(self, listings: list[Listing]) -> list[ModerationResult]:
        return await self._worker.submit(listings)

    async def register_image(self, brand: str, data: bytes, kind: str) -> tuple[str, int]:
        registry = self.moderator().images
        if registry is None:
            raise InputError("this moderation service has no brand image registry", "brand", status=409)
        image_id = await anyio.to_thread.run_sync(registry.register, brand, data, kind)
        return image_id, len(registry)


class ModerationService:
    """Moderation with an audit trail.

    Args:
        backend: where the moderator runs.
        audit: the decision log (None: results carry no `decision_id`; library use without a database).
    """

    def __init__(self, backend: ModerationBackend, audit: AuditLog | None) -> None:
        self.backend = backend
        self.audit = audit
        # Audit rows of concurrent requests go to the database in one transaction, from one thread.
        self._audit_writer = CoalescingWorker(self._record, name="moderation-audit") if audit else None

    # -- configuration ---------------------------------------------------------------------------------
    @property
    def local(self) -> LocalModeration | None:
        return self.backend if isinstance(self.backend, LocalModeration) else None

    def set_policy(self, policy: dict[str, Any]) -> None:
        """Hot reload (Ray Serve `reconfigure`); only an in-process moderator holds a policy here."""
        if self.local is None:
            raise ValueError("moderation runs in its own deployment: set its user_config instead")
        self.local.moderator().set_policy(Policy.model_validate(policy))

    def versions(self) -> dict[str, str]:
        return self.local.moderator().versions if self.local else {}

    # -- moderation ------------------------------------------------------------------------------------
    async def moderate_records(self, records: list[Any], api_key: str, param: str = "listings") -> list[RecordSlot]:
        """Results in input order; a bad record becomes an error entry and the rest are moderated. Records with
        images are read in a worker thread (decoding is CPU work; the event loop keeps answering)."""
        if any(isinstance(record, dict) and record.get("images") for record in records):
            slots, valid = await anyio.to_thread.run_sync(_read_records, records, param)
        else:
            slots, valid = _read_records(records, param)
        if valid:
            results = await self._moderate(
                [listing for _, listing, _, _ in valid], [d for _, _, d, _ in valid], api_key, [m for *_, m in valid]
            )
            for (index, *_), result in zip(valid, results, strict=True):
                slots[index] = result
        return [slot for slot in slots if slot is not None]

    async def moderate_text(self, request: TextIn, api_key: str) -> ModerationResult:
        """One free text (a comment, a note body)."""
        listing = Listing(id=request.id, body=request.text, category=request.category)
        [result] = await self._moderate([listing], [input_hash(request.model_dump())], api_key, [request.merchant_id])
        return result

    async def moderate_images(self, request: ImagesIn, api_key: str) -> ModerationResult:
        """Images alone: matched against the brand-protection registry (read in a worker thread)."""
        pairs = [(f"images.{i}", image) for i, image in enumerate(request.images)]
        images = await anyio.to_thread.run_sync(read_images, pairs)
        listing = Listing(id=request.id, images=images)
        [result] = await self._moderate([listing], [input_hash(request.model_dump())], api_key, [request.merchant_id])
        return result

    async def _moderate(
        self, listings: list[Listing], digests: list[str], api_key: str, merchant_ids: list[str | None]
    ) -> list[ModerationResult]:
        results = await self.backend.moderate(listings)
        if self._audit_writer is not None:
            rows = zip(results, digests, merchant_ids, strict=True)
            await self._audit_writer.submit([(r, d, api_key, m) for r, d, m in rows])
        return results

    def _record(self, items: list[tuple[ModerationResult, str, str, str | None]]) -> list[str]:
        by_key: dict[str, list[tuple[ModerationResult, str, str | None]]] = {}
        for result, digest, api_key, merchant_id in items:
            by_key.setdefault(api_key, []).append((result, digest, merchant_id))
        for api_key, entries in by_key.items():
            pairs = [(result, digest) for result, digest, _ in entries]
            self.audit.record_many(pairs, api_key, [m for _, _, m in entries])  # type: ignore[union-attr]
        return [result.decision_id or "" for result, *_ in items]

    # -- decisions -------------------------------------------------------------------------------------
    def decision(self, decision_id: str, viewer: Viewer) -> DecisionOut:
        """A recorded decision as `viewer` may see it; 404 `InputError` when unknown or not `viewer`'s to see."""
        record = self.audit.get(decision_id, viewer) if self.audit else None
        if record is None:
            raise _no_decision(decision_id)
        return DecisionOut(**record)

    def appeal(self, decision_id: str, reason: str, viewer: Viewer) -> DecisionOut:
        """Add `viewer`'s appeal (earlier ones are kept) and mark the decision for human review.

        404 `InputError` when unknown or not `viewer`'s to see (the same keys may read and appeal), 409 when
        `viewer` has appealed it `MAX_APPEALS_PER_KEY` times.
        """
        try:
            record = self.audit.appeal(decision_id, reason, viewer) if self.audit else None
        except AppealLimitError as exc:
            raise InputError(f"decision_id: {exc}", "decision_id", status=409) from None
        if record is None:
            raise _no_decision(decision_id)
        return DecisionOut(**record)

    async def register_brand_image(self, brand: str, request: BrandImageIn) -> BrandImageOut:
        """Register an official product image or logo of `brand` (brand-protection registry)."""
        data = await anyio.to_thread.run_sync(decode_base64_image, request.image, "image")
        image_id, count = await self.backend.register_image(brand, data, request.kind)
        return BrandImageOut(brand=brand, image_id=image_id, registered_images=count)


def _read_records(
    records: list[Any], param: str
) -> tuple[list[RecordSlot | None], list[tuple[int, Listing, str, str | None]]]:
    """Each record validated (images decoded): an error entry in its slot, or (index, listing, input hash,
    merchant id) among the valid ones."""
    slots: list[RecordSlot | None] = [None] * len(records)
    valid: list[tuple[int, Listing, str, str | None]] = []
    for index, record in enumerate(records):
        where = f"{param}.{index}"
        try:
            wire = ListingIn.parse(record, where)
            listing = wire.to_listing(where)
        except InputError as exc:
            record_id = record.get("id") if isinstance(record, dict) else None
            if isinstance(record_id, str):
                record_id = replace_unencodable(record_id)
            slots[index] = {"id": record_id if isinstance(record_id, str | int) else None, "error": exc.to_dict()}
            continue
        valid.append((index, listing, input_hash(record), wire.merchant_id))
    return slots, valid


def _no_decision(decision_id: str) -> InputError:
    """The answer for an unknown decision and for another key's alike: existence is not disclosed."""
    return InputError(f"decision_id: no decision {decision_id}", "decision_id", status=404)
