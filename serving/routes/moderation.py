"""`/v1/moderation/*`: listings (batch), text, images, decisions and appeals, brand image registry."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from moderation import Listing, ModerationResult
from serving.auth import Principal
from serving.errors import ApiError
from serving.handlers.moderation import decode_base64_image
from serving.protocol import ErrorEnvelope
from serving.protocol.moderation import (
    AppealIn,
    BrandImageIn,
    BrandImageOut,
    DecisionOut,
    ImagesIn,
    ListingsIn,
    ListingsOut,
    ModerationOut,
    TextIn,
)
from serving.routes.deps import any_key, require
from serving.runtime import Runtime, get_runtime

platform_key = require("platform")
admin_key = require("admin")

router = APIRouter(
    prefix="/v1/moderation",
    tags=["moderation"],
    responses={401: {"model": ErrorEnvelope}, 403: {"model": ErrorEnvelope}, 422: {"model": ErrorEnvelope}},
)

_DECISION_ID = Path(pattern=r"^[0-9a-f]{32}$", description="decision_id from a moderation result")


def _out(result: ModerationResult) -> ModerationOut:
    return ModerationOut.model_validate(result.to_dict())


@router.post("/listings", response_model=ListingsOut)
async def moderate_listings(
    body: ListingsIn, principal: Principal = Depends(platform_key), runtime: Runtime = Depends(get_runtime)
) -> Response:
    """Up to 256 listings; each result (or per-record error) in input order, with a `decision_id`.

    The hot path of the platform: results are plain dicts serialized once with orjson (the schema above
    documents them; `ModerationResult.to_dict` builds exactly that shape).
    """
    slots = await runtime.moderation.moderate_records(body.listings, principal.key_id)
    results = [s.to_dict() if isinstance(s, ModerationResult) else s for s in slots]
    return Response(orjson.dumps({"results": results}), media_type="application/json")


@router.post("/text", response_model=ModerationOut)
async def moderate_text(
    body: TextIn, principal: Principal = Depends(platform_key), runtime: Runtime = Depends(get_runtime)
) -> ModerationOut:
    """One free text (a comment, a note body)."""
    listing = Listing(id=body.id, body=body.text, category=body.category)
    return _out(await runtime.moderation.moderate_one(listing, body.model_dump(), principal.key_id))


@router.post("/images", response_model=ModerationOut)
async def moderate_images(
    body: ImagesIn, principal: Principal = Depends(platform_key), runtime: Runtime = Depends(get_runtime)
) -> ModerationOut:
    """Images alone: matched against the brand-protection registry."""
    images = [decode_base64_image(image, f"images.{i}") for i, image in enumerate(body.images)]
    listing = Listing(id=body.id, images=images)
    return _out(await runtime.moderation.moderate_one(listing, body.model_dump(), principal.key_id))


@router.get("/decisions/{decision_id}", response_model=DecisionOut, responses={404: {"model": ErrorEnvelope}})
def get_decision(
    decision_id: str = _DECISION_ID, _: Principal = Depends(any_key), runtime: Runtime = Depends(get_runtime)
) -> DecisionOut:
    record = runtime.moderation.audit.get(decision_id)
    if record is None:
        raise ApiError(404, f"no decision {decision_id}", "decision_id")
    return DecisionOut(**record)


@router.post("/decisions/{decision_id}/appeal", response_model=DecisionOut, responses={404: {"model": ErrorEnvelope}})
def appeal_decision(
    body: AppealIn,
    decision_id: str = _DECISION_ID,
    _: Principal = Depends(any_key),
    runtime: Runtime = Depends(get_runtime),
) -> DecisionOut:
    """Mark a decision for human review (merchants appeal; the original decision is kept)."""
    record = runtime.moderation.audit.appeal(decision_id, body.reason)
    if record is None:
        raise ApiError(404, f"no decision {decision_id}", "decision_id")
    return DecisionOut(**record)


@router.post("/brands/{brand}/images", response_model=BrandImageOut, status_code=201)
async def register_brand_image(
    body: BrandImageIn,
    brand: str = Path(min_length=1, max_length=100),
    _: Principal = Depends(admin_key),
    runtime: Runtime = Depends(get_runtime),
) -> BrandImageOut:
    """Register an official product image or logo of `brand` (brand-protection registry)."""
    data = decode_base64_image(body.image, "image")
    image_id, count = await runtime.moderation.backend.register_image(brand, data, body.kind)
    return BrandImageOut(brand=brand, image_id=image_id, registered_images=count)
