"""AR try-on over HTTP: makeup and garments on an uploaded photo, and webcam frames with per-session smoothing.
Shades (the catalog and merchants' own) are in `serving/routes/shades.py`.

Photo handlers are plain `def`: the CPU work (mediapipe, OpenCV) runs in FastAPI's threadpool, not on the
event loop. Webcam frames go to the session's tracker wherever it lives (`services.frames`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import Response

from ar_tryon.schema import FrameRequest, GarmentOut, GarmentRequest, MakeupOut, MakeupRequest, TryOnImage
from ar_tryon.service import TryOnService, session_key
from serving.auth import Principal
from serving.deployments.tryon import FrameProcessor
from serving.protocol import ErrorEnvelope
from serving.routes.deps import get_frames, get_tryon, require, require_images

__all__ = ["router"]

merchant = require("merchant")
merchant_images = require_images("merchant")  # the key's image slots and a pixel budget
_ERRORS = {status: {"model": ErrorEnvelope} for status in (401, 403, 413, 422, 429)}
_IMAGE = {200: {"content": {"image/png": {}, "image/jpeg": {}, "application/json": {}}}}

router = APIRouter(prefix="/v1/tryon", tags=["tryon"], responses=_ERRORS)


def _answer(result: TryOnImage, output: str) -> Response | MakeupOut | GarmentOut:
    if output == "json":
        return result.json_body()
    return Response(result.data, media_type=result.media_type)


@router.post("/makeup", responses=_IMAGE, response_model=None)
def makeup(
    image: Annotated[UploadFile, File(description="Photo: PNG, JPEG or WebP; grayscale and RGBA accepted.")],
    params: Annotated[MakeupRequest, Form()],
    principal: Principal = Depends(merchant_images),
    tryon: TryOnService = Depends(get_tryon),
) -> Response | MakeupOut:
    """Apply shades (built-in SKUs or this key's own shade ids) to the largest face (or all faces). 422 names the
    field: no face, unknown shade, bad image."""
    return _answer(tryon.makeup(image.file.read(), params, owner=principal.key_id), params.output)


@router.post("/frames", responses=_IMAGE, response_model=None)
async def frames(
    frame: Annotated[UploadFile, File(description="One webcam frame (JPEG recommended).")],
    params: Annotated[FrameRequest, Form()],
    principal: Principal = Depends(merchant),
    sessions: FrameProcessor = Depends(get_frames),
) -> Response | MakeupOut:
    """One frame of a stream: faces tracked and smoothed per `session_id`. A frame with no face comes back as is."""
    # Sessions are per API key: one client cannot read or disturb another's stream state, and the key's own
    # shades are found through the session's owner.
    result = await sessions.frame(session_key(principal.key_id, params.session_id), await frame.read(), params)
    return _answer(result, params.output)


@router.post("/garment", responses=_IMAGE, response_model=None)
def garment(
    image: Annotated[UploadFile, File(description="Photo of a person (upper body or full body).")],
    garment: Annotated[UploadFile, File(description="Garment: PNG with alpha, or on a plain background.")],
    params: Annotated[GarmentRequest, Form()],
    _: Principal = Depends(merchant_images),
    tryon: TryOnService = Depends(get_tryon),
) -> Response | GarmentOut:
    """Place a garment from pose landmarks, arms and hair in front. 422 when no body / landmarks are visible."""
    return _answer(tryon.garment(image.file.read(), garment.file.read(), params), params.output)
