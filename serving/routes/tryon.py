"""AR try-on over HTTP: makeup and garments on an uploaded photo, and webcam frames with per-session smoothing.

Handlers are plain `def`: the CPU work (mediapipe, OpenCV) runs in FastAPI's threadpool, not on the event
loop. Models live in the process-wide `TryOnService`, built on first use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import Response

from ar_tryon.errors import TryOnError
from ar_tryon.images import encode_image
from ar_tryon.service import TryOnService, shared_service
from serving.auth import Principal
from serving.errors import ApiError
from serving.protocol import ErrorEnvelope
from serving.protocol.tryon import FacesMode, GarmentOut, MakeupOut, OutputFormat, ShadeListOut, ShadeOut
from serving.routes.deps import require

__all__ = ["router", "get_tryon"]

merchant = require("merchant")
_ERRORS = {status: {"model": ErrorEnvelope} for status in (401, 403, 413, 422)}
_IMAGE = {200: {"content": {"image/png": {}, "image/jpeg": {}, "application/json": {}}}}

router = APIRouter(prefix="/v1/tryon", tags=["tryon"], responses=_ERRORS)

Intensity = Annotated[float, Form(ge=0.0, le=1.0, description="Strength of every shade, 0..1.")]
Shades = Annotated[list[str], Form(description="Shade SKUs (repeat the field), one per product.")]
Output = Annotated[OutputFormat, Form(description="png / jpeg (the image) or json (base64 PNG + landmarks).")]
SessionId = Annotated[str, Form(pattern=r"^[A-Za-z0-9_-]{8,64}$", description="Stream id chosen by the client.")]


def get_tryon() -> TryOnService:
    """The try-on service of this process (a dependency, so tests can substitute their own)."""
    return shared_service()


@contextmanager
def _as_api_errors() -> Iterator[None]:
    try:
        yield
    except TryOnError as exc:
        raise ApiError(exc.status, exc.message, exc.param) from None


def _read(upload: UploadFile, param: str) -> bytes:
    data = upload.file.read()
    if not data:
        raise ApiError(422, f"{param}: the uploaded file is empty", param)
    return data


def _image_response(image, output: str) -> Response:
    fmt = "jpeg" if output == "jpeg" else "png"
    return Response(encode_image(image, fmt), media_type=f"image/{fmt}")


@router.get("/shades", response_model=ShadeListOut)
def list_shades(_: Principal = Depends(merchant), tryon: TryOnService = Depends(get_tryon)) -> ShadeListOut:
    """The shade catalog (SKU, name, hex, product, finish)."""
    return ShadeListOut(source=tryon.catalog.source, shades=[ShadeOut.from_shade(s) for s in tryon.catalog])


@router.post("/makeup", responses=_IMAGE, response_model=None)
def makeup(
    image: Annotated[UploadFile, File(description="Photo: PNG, JPEG or WebP; grayscale and RGBA accepted.")],
    shade: Shades,
    intensity: Intensity = 0.8,
    faces: Annotated[FacesMode, Form(description="largest (default) or all faces.")] = "largest",
    output: Output = "png",
    _: Principal = Depends(merchant),
    tryon: TryOnService = Depends(get_tryon),
) -> Response | MakeupOut:
    """Apply shades to the largest face (or all faces). 422 names the field: no face, unknown SKU, bad image."""
    with _as_api_errors():
        look = tryon.look(shade, intensity)
        decoded = tryon.decode(_read(image, "image"), "image")
        result = tryon.makeup_photo(decoded, look, all_faces=faces == "all")
    out = decoded.with_rgb(result.image)
    if output != "json":
        return _image_response(out, output)
    return MakeupOut.from_result(result, encode_image(out), [i.shade for i in look.items], intensity)


@router.post("/frames", responses=_IMAGE, response_model=None)
def frames(
    frame: Annotated[UploadFile, File(description="One webcam frame (JPEG recommended).")],
    session_id: SessionId,
    shade: Shades,
    intensity: Intensity = 0.8,
    timestamp_ms: Annotated[float | None, Form(ge=0, description="Capture time; default: arrival.")] = None,
    output: Output = "jpeg",
    principal: Principal = Depends(merchant),
    tryon: TryOnService = Depends(get_tryon),
) -> Response | MakeupOut:
    """One frame of a stream: faces tracked and smoothed per `session_id`. A frame with no face comes back as is."""
    with _as_api_errors():
        look = tryon.look(shade, intensity)
        decoded = tryon.decode(_read(frame, "frame"), "frame")
        ts = None if timestamp_ms is None else timestamp_ms / 1000.0
        # Sessions are per API key: one client cannot read or disturb another's stream state.
        result = tryon.makeup_frame(f"{principal.key_id}:{session_id}", decoded, look, ts)
    out = decoded.with_rgb(result.image)
    if output != "json":
        return _image_response(out, output)
    # Frames are lossy webcam images already: JSON carries a JPEG (several times faster to encode than PNG).
    jpeg = encode_image(out, "jpeg")
    shades = [i.shade for i in look.items]
    return MakeupOut.from_result(result, jpeg, shades, intensity, session_id, media_type="image/jpeg")


@router.post("/garment", responses=_IMAGE, response_model=None)
def garment(
    image: Annotated[UploadFile, File(description="Photo of a person (upper body or full body).")],
    garment: Annotated[UploadFile, File(description="Garment: PNG with alpha, or on a plain background.")],
    category: Annotated[str, Form(description="upper, lower or dress.")] = "upper",
    output: Output = "png",
    _: Principal = Depends(merchant),
    tryon: TryOnService = Depends(get_tryon),
) -> Response | GarmentOut:
    """Place a garment from pose landmarks, arms and hair in front. 422 when no body / landmarks are visible."""
    with _as_api_errors():
        decoded = tryon.decode(_read(image, "image"), "image")
        piece = tryon.decode(_read(garment, "garment"), "garment")
        result = tryon.garment(decoded, piece, category)
    out = decoded.with_rgb(result.image)
    if output != "json":
        return _image_response(out, output)
    return GarmentOut.from_result(result, encode_image(out), category)
