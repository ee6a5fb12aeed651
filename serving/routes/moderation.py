"""`/v1/moderation/*`: listings (batch), text, images, decisions and appeals, brand image registry.

A decision is readable, and appealable, by the key that asked for it, by the merchant the listing named
(`merchant_id`) and by admin keys; any other key gets the 404 of an unknown id (a 403 would say it exists).
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from moderation import ModerationResult
from moderation.audit import Viewer
from moderation.service import ModerationService
from serving.auth import Principal
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
from serving.routes.deps import any_key, get_moderation, image_request, require, require_images
from serving.runtime import Runtime, get_runtime

platform_key = require("platform")
platform_images = require_images("platform")
admin_images = require_images("admin")

router = APIRouter(
    prefix="/v1/moderation",
    tags=["moderation"],
    responses={401: {"model": ErrorEnvelope}, 403: {"model": ErrorEnvelope}, 422: {"model": ErrorEnvelope}},
)

_DECISION_ID = Path(pattern=r"^[0-9a-f]{32}$", description="decision_id from a moderation result")


def _out(result: ModerationResult) -> ModerationOut:
    return ModerationOut.model_validate(result.to_dict())


def _viewer(principal: Principal) -> Viewer:
    return Viewer(principal.key_id, admin=principal.is_admin)


@router.post("/listings", response_model=ListingsOut, responses={413: {"model": ErrorEnvelope}})
async def moderate_listings(
    body: ListingsIn,
    principal: Principal = Depends(platform_key),
    service: ModerationService = Depends(get_moderation),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """Up to 256 listings; each result (or per-record error) in input order, with a `decision_id`.

    The hot path of the platform: results are plain dicts serialized once with orjson (the schema above
    documents them; `ModerationResult.to_dict` builds exactly that shape). Listings with images count as an
    image request (the key's image slots, the pixel budget: a record past it is a `payload_too_large` entry).
    """
    if any(isinstance(record, dict) and record.get("images") for record in body.listings):
        with image_request(runtime, principal):
            slots = await service.moderate_records(body.listings, principal.key_id)
    else:
        slots = await service.moderate_records(body.listings, principal.key_id)
    results = [s.to_dict() if isinstance(s, ModerationResult) else s for s in slots]
    return Response(orjson.dumps({"results": results}), media_type="application/json")


@router.post("/text", response_model=ModerationOut)
async def moderate_text(
    body: TextIn, principal: Principal = Depends(platform_key), service: ModerationService = Depends(get_moderation)
) -> ModerationOut:
    """One free text (a comment, a note body)."""
    return _out(await service.moderate_text(body, principal.key_id))


@router.post("/images", response_model=ModerationOut, responses={s: {"model": ErrorEnvelope} for s in (413, 429)})
async def moderate_images(
    body: ImagesIn,
    principal: Principal = Depends(platform_images),
    service: ModerationService = Depends(get_moderation),
) -> ModerationOut:
    """Images alone: matched against the brand-protection registry. 413 (param: the image) for an image above
    40 MP or images above the request's pixel budget, read from their headers before any is decoded."""
    return _out(await service.moderate_images(body, principal.key_id))


@router.get("/decisions/{decision_id}", response_model=DecisionOut, responses={404: {"model": ErrorEnvelope}})
def get_decision(
    decision_id: str = _DECISION_ID,
    principal: Principal = Depends(any_key),
    service: ModerationService = Depends(get_moderation),
) -> DecisionOut:
    """The decision with the appeals this key may see (404 unless it asked, is the listing's merchant, or admin)."""
    return service.decision(decision_id, _viewer(principal))


@router.post(
    "/decisions/{decision_id}/appeal",
    response_model=DecisionOut,
    responses={404: {"model": ErrorEnvelope}, 409: {"model": ErrorEnvelope}},
)
def appeal_decision(
    body: AppealIn,
    decision_id: str = _DECISION_ID,
    principal: Principal = Depends(any_key),
    service: ModerationService = Depends(get_moderation),
) -> DecisionOut:
    """Add an appeal and mark the decision for human review; earlier appeals and the decision are kept.

    The keys that may read the decision may appeal it (404 for others); 409 after 5 appeals by one key.
    """
    return service.appeal(decision_id, body.reason, _viewer(principal))


@router.post("/brands/{brand}/images", response_model=BrandImageOut, status_code=201)
async def register_brand_image(
    body: BrandImageIn,
    brand: str = Path(min_length=1, max_length=100),
    _: Principal = Depends(admin_images),
    service: ModerationService = Depends(get_moderation),
) -> BrandImageOut:
    """Register an official product image or logo of `brand` (brand-protection registry)."""
    return await service.register_brand_image(brand, body)
