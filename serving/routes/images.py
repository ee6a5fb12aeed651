"""`/v1/images/*`: covers from a merchant's photos (one at once, many as a job) and product cut-outs."""

from __future__ import annotations

import base64
import zipfile
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from generation.image.schema import CoverInfo, CoverSpec, SceneRequest
from generation.image.service import ImageService, TemplateOut
from serving.auth import Principal
from serving.jobs import JobContext
from serving.protocol import ErrorEnvelope, JobOut
from serving.routes.deps import get_images, require, require_images
from serving.runtime import Runtime, get_runtime
from serving.services import Services

__all__ = ["router", "JOBS", "JOB_KIND", "SCENES_KIND"]

JOB_KIND = "images.covers"
SCENES_KIND = "images.scenes"
MAX_BATCH_ITEMS = 200

merchant = require("merchant")
merchant_images = require_images("merchant")  # the key's image slots and a pixel budget
_ERRORS = {status: {"model": ErrorEnvelope} for status in (401, 403, 413, 422, 429)}
_IMAGE = {200: {"content": {"image/png": {}, "image/jpeg": {}, "application/json": {}}}}

router = APIRouter(prefix="/v1/images", tags=["images"], responses=_ERRORS)


class CoverForm(CoverSpec):
    """The cover's fields as multipart form fields beside the photo files (repeat `points`)."""

    model_config = ConfigDict(extra="ignore")  # the photo files travel in the same form

    output: Literal["png", "jpeg", "json"] = Field("png", description="png / jpeg (the image) or json.")

    def spec(self) -> CoverSpec:
        return CoverSpec(**self.model_dump(exclude={"output"}))


class CoverOut(BaseModel):
    info: CoverInfo
    media_type: str
    image_base64: str


class CoversIn(BaseModel):
    """Composer covers — one (answered at once) or many (a job: progress per cover, artifacts, a ZIP) — or
    one diffusion `scene` (always a job: progress per denoising step)."""

    # Exactly one of `items` and `scene` (a null one is not given), as `_one_kind` checks.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [{"required": [k], "properties": {k: {"not": {"type": "null"}}}} for k in ("items", "scene")]
        },
    )

    items: list[dict[str, Any]] | None = Field(
        None, min_length=1, max_length=MAX_BATCH_ITEMS, description="Each {spec, photos: [base64...], id?}."
    )
    scene: SceneRequest | None = Field(None, description="A diffusion request (needs a configured image model).")
    output: Literal["png", "jpeg"] = Field("jpeg", description="Format of the covers (jpeg: what feeds serve).")
    webhook_url: HttpUrl | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> CoversIn:
        if (self.items is None) == (self.scene is None):
            raise ValueError("give either `items` (composer covers) or `scene` (a diffusion request)")
        return self


@router.get("/templates", response_model=list[TemplateOut])
def templates(_: Principal = Depends(merchant), images: ImageService = Depends(get_images)) -> list[TemplateOut]:
    """The cover templates: name, display name, what it looks like, how many photos it takes."""
    return images.templates()


@router.post("/covers", responses=_IMAGE, response_model=None)
def cover(
    photo: Annotated[list[UploadFile], File(description="1-4 product photos (repeat the field).")],
    params: Annotated[CoverForm, Form()],
    _: Principal = Depends(merchant_images),
    images: ImageService = Depends(get_images),
) -> Response | CoverOut:
    """One cover, made now by the composer. 422 names the field (a title too long for any template, an
    unknown template, an unreadable photo); 413 for a photo above 40 MP."""
    rendered = images.cover([p.file.read() for p in photo], params.spec(), params.output, "photo")
    if params.output == "json":
        return CoverOut(
            info=rendered.info,
            media_type=rendered.media_type,
            image_base64=base64.b64encode(rendered.data).decode("ascii"),
        )
    headers = {"X-NoteStudio-Template": rendered.info.template, "X-NoteStudio-Seed": str(rendered.info.seed)}
    return Response(rendered.data, media_type=rendered.media_type, headers=headers)


@router.post("/cutout", responses={200: {"content": {"image/png": {}}}}, response_class=Response)
def cutout(
    photo: Annotated[UploadFile, File(description="A product photo.")],
    mask: Annotated[UploadFile | None, File(description="Optional mask (white = product).")] = None,
    _: Principal = Depends(merchant_images),
    images: ImageService = Depends(get_images),
) -> Response:
    """The product cut out of its photo: an RGBA PNG."""
    return Response(images.cutout(photo.file.read(), mask.file.read() if mask else None), media_type="image/png")


@router.post("", responses={200: {"model": CoverOut}, 202: {"model": JobOut}}, response_model=None)
def covers(
    body: CoversIn,
    principal: Principal = Depends(merchant_images),
    runtime: Runtime = Depends(get_runtime),
    images: ImageService = Depends(get_images),
) -> CoverOut | JSONResponse:
    """One item answers at once (200, the cover inline); several run as an `images.covers` job (202): poll
    `GET /v1/jobs/{id}` for progress per cover, download `cover-NNNN.jpg` artifacts or `covers.zip`. A
    `scene` runs as an `images.scenes` job (503 at once when no image model is configured)."""
    webhook = str(body.webhook_url) if body.webhook_url else None
    if body.scene is not None:
        images.scenes()  # no model configured: a 503 with the fix now, not a failed job later
        job = runtime.submit(SCENES_KIND, {"scene": body.scene.model_dump(mode="json")}, principal.key_id, webhook)
        return JSONResponse(JobOut.from_job(job).model_dump(mode="json"), status_code=202)
    assert body.items is not None
    if len(body.items) == 1 and body.webhook_url is None:
        rendered = images.item(body.items[0], "items.0", body.output)
        return CoverOut(
            info=rendered.info,
            media_type=rendered.media_type,
            image_base64=base64.b64encode(rendered.data).decode("ascii"),
        )
    params = {"items": body.items, "output": body.output}
    job = runtime.submit(JOB_KIND, params, principal.key_id, webhook)
    return JSONResponse(JobOut.from_job(job).model_dump(mode="json"), status_code=202)


def run_covers_job(services: Services, ctx: JobContext) -> dict[str, Any]:
    """Job `images.covers`: every item in order (progress per cover; a cancel stops between covers); each
    cover is an artifact as soon as it exists, and `covers.zip` holds them all at the end."""
    items: list[Any] = ctx.params["items"]
    ctx.report(0.0, f"making {len(items)} covers")

    def progress(done: int, total: int) -> None:
        ctx.report(done / max(1, total), f"{done}/{total} covers")

    result = services.images.batch(items, ctx.write_artifact, ctx.params.get("output", "jpeg"), on_progress=progress)
    names = [r["artifact"] for r in result.results if "artifact" in r]
    with ctx.writing("covers.zip") as path, zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in names:  # JPEG/PNG are compressed already
            archive.write(ctx.artifact(name), name)
    return {**result.model_dump(mode="json"), "artifacts": [*names, "covers.zip"]}


def run_scenes_job(services: Services, ctx: JobContext) -> dict[str, Any]:
    """Job `images.scenes`: one diffusion request; progress per denoising step, a cancel stops between steps;
    each image (and cover) is an artifact as soon as it exists."""
    request = SceneRequest.model_validate(ctx.params["scene"])
    ctx.report(0.0, f"{request.mode}: loading the image model")
    steps_done = [0]
    total = [1]

    def on_step(step: int, steps: int) -> None:
        steps_done[0] += 1
        total[0] = max(total[0], steps * request.n)
        ctx.report(min(0.99, steps_done[0] / total[0]), f"{request.mode}: step {step}/{steps}")

    # `ctx.report` raises once a cancel was requested: the engine stops after the step in flight.
    result = services.images.scenes()(request, ctx.write_artifact, on_step=on_step)
    names = [n for image in result["images"] for n in (image["artifact"], image.get("cover")) if n]
    return {**result, "artifacts": names}


JOBS = {JOB_KIND: run_covers_job, SCENES_KIND: run_scenes_job}
