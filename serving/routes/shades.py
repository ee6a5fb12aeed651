"""`/v1/tryon/shades`: the built-in shade catalog (read-only) and each merchant's own shades (CRUD), and swatch
photos measured into shades.

A merchant shade belongs to the API key that added it: another key gets 404 for it (never 403, which would say it
exists). Its id (`ms_...`) works at once wherever a makeup request names shades (`shade` of `/v1/tryon/makeup`
and `/v1/tryon/frames`) for that key, through any replica: shades live in the database. The built-in catalog is
read-only: PATCH or DELETE of a built-in SKU is a 403 naming `shade_id`. At most 500 shades per key: one more
is a 409.

`POST /v1/tryon/shades` takes JSON (`name`, `hex`, `kind`, `finish`) or a multipart form with a swatch `photo`
(`name`, `kind`, optional `finish`, `background`): the colour is measured and the finish guessed from the photo
(422 naming `photo` when it shows no swatch). `POST /v1/tryon/swatch` measures a photo without storing anything.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, File, Form, Path, Request, UploadFile
from fastapi.responses import Response
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.formparsers import MultiPartException

from ar_tryon.schema import (
    SHADE_ID_PATTERN,
    MerchantShadeIn,
    MerchantShadePatch,
    ShadeListOut,
    ShadeOut,
    SwatchOut,
    SwatchRequest,
    SwatchShadeForm,
)
from ar_tryon.service import TryOnService
from common.errors import InputError
from serving.auth import Principal
from serving.errors import ApiError
from serving.protocol import ErrorEnvelope
from serving.routes.deps import get_tryon, require, require_images

__all__ = ["router"]

merchant = require("merchant")
merchant_images = require_images("merchant")  # the key's image slots and a pixel budget
_ERRORS = {status: {"model": ErrorEnvelope} for status in (401, 403, 422, 429)}
router = APIRouter(prefix="/v1/tryon", tags=["tryon"], responses=_ERRORS)

_ID = Path(pattern=SHADE_ID_PATTERN, description="A built-in SKU (`LIP-102`) or an id of this key's own shades.")
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _schema(model: type) -> dict[str, Any]:
    return model.model_json_schema(ref_template="#/components/schemas/{model}")  # type: ignore[attr-defined]


def _swatch_form_schema() -> dict[str, Any]:
    schema = _schema(SwatchShadeForm)
    schema["properties"] = {
        "photo": {
            "type": "string",
            "contentMediaType": "application/octet-stream",
            "description": "Photo of the swatch on plain paper or skin (PNG, JPEG, WebP).",
        },
        **schema["properties"],
    }
    schema["required"] = ["photo", *schema.get("required", [])]
    schema.pop("title", None)
    return schema


_CREATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _schema(MerchantShadeIn)},
            "multipart/form-data": {"schema": _swatch_form_schema()},
        },
    }
}


async def _shade_body(request: Request) -> MerchantShadeIn | tuple[SwatchShadeForm, bytes]:
    """The JSON shade, or the swatch form and its photo's bytes (415 for any other body)."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == "application/json":
        try:
            raw = await request.json()
        except ValueError as exc:
            raise ApiError(400, f"request body is not valid JSON: {exc}", "body") from None
        return MerchantShadeIn.model_validate(raw)  # a ValidationError is a 422 naming the field
    if media_type in _FORM_TYPES:
        try:
            form = await request.form()
        except (MultiPartException, ValueError) as exc:
            raise ApiError(400, f"the form could not be read: {exc}", "body") from None
        photo = form.get("photo")
        if not isinstance(photo, StarletteUpload):
            raise InputError("photo: a swatch photo file is required in a form (or send JSON with hex)", "photo")
        fields = {name: value for name, value in form.items() if name != "photo" and isinstance(value, str)}
        return SwatchShadeForm.model_validate(fields), await photo.read()  # a ValidationError: 422 naming it
    raise ApiError(415, "Content-Type: send application/json (a colour) or multipart/form-data (a photo)", "body")


@router.get("/shades", response_model=ShadeListOut)
def list_shades(principal: Principal = Depends(merchant), tryon: TryOnService = Depends(get_tryon)) -> ShadeListOut:
    """The built-in catalog (`source: builtin`), then this key's own shades (`source: merchant`)."""
    return tryon.shades(principal.key_id)


@router.post(
    "/shades",
    status_code=201,
    response_model=ShadeOut,
    openapi_extra=_CREATE_BODY,
    responses={status: {"model": ErrorEnvelope} for status in (409, 413, 415)},
)
async def create_shade(
    request: Request, principal: Principal = Depends(merchant_images), tryon: TryOnService = Depends(get_tryon)
) -> ShadeOut:
    """A new shade of this key (201): JSON with its colour, or a form with a swatch `photo` (measured: colour and,
    unless `finish` is given, the finish guess). 409 beyond 500 shades; 422 naming `photo` when it shows no swatch."""
    body = await _shade_body(request)
    if isinstance(body, MerchantShadeIn):
        return await anyio.to_thread.run_sync(tryon.add_shade, principal.key_id, body)
    form, photo = body
    return await anyio.to_thread.run_sync(tryon.add_shade_from_swatch, principal.key_id, photo, form)


@router.post("/swatch", response_model=SwatchOut, responses={413: {"model": ErrorEnvelope}})
def measure_swatch(
    photo: Annotated[UploadFile, File(description="Photo of the swatch on plain paper or skin.")],
    params: Annotated[SwatchRequest, Form()],
    _: Principal = Depends(merchant_images),
    tryon: TryOnService = Depends(get_tryon),
) -> SwatchOut:
    """Measure a swatch photo without storing it: colour (hex, CIELAB), finish guess, confidence. 422 naming
    `photo` when it shows no swatch (no plain background, nothing one clear colour)."""
    return tryon.swatch(photo.file.read(), params)


@router.get("/shades/{shade_id}", response_model=ShadeOut)
def get_shade(
    shade_id: str = _ID, principal: Principal = Depends(merchant), tryon: TryOnService = Depends(get_tryon)
) -> ShadeOut:
    return tryon.shade(principal.key_id, shade_id)


@router.patch("/shades/{shade_id}", response_model=ShadeOut)
def update_shade(
    body: MerchantShadePatch,
    shade_id: str = _ID,
    principal: Principal = Depends(merchant),
    tryon: TryOnService = Depends(get_tryon),
) -> ShadeOut:
    """Change a shade of this key (absent fields stay). 403 naming `shade_id` for a built-in SKU."""
    return tryon.update_shade(principal.key_id, shade_id, body)


@router.delete("/shades/{shade_id}", status_code=204, response_class=Response)
def delete_shade(
    shade_id: str = _ID, principal: Principal = Depends(merchant), tryon: TryOnService = Depends(get_tryon)
) -> Response:
    """Delete a shade of this key. 403 naming `shade_id` for a built-in SKU."""
    tryon.delete_shade(principal.key_id, shade_id)
    return Response(status_code=204)
