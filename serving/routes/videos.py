"""`/v1/videos`: short vertical videos from product photos and a note — always a job.

The request is checked before it is queued (every photo decoded, the audio track decoded as far as the video
needs), so bad input is a 4xx naming the field, never a failed job. The job reports progress by frames, a cancel
stops the encoder within a fraction of a second, and `video.mp4` appears only when it is complete.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field, HttpUrl, ValidationError

from common.errors import InputError, from_validation_error
from common.images import decode_base64
from generation.video.audio import MAX_AUDIO_BYTES
from generation.video.schema import MAX_PHOTOS, ClipSpec, SlideshowSpec, captions_from_note
from generation.video.service import VideoService
from serving.auth import Principal
from serving.jobs import JobContext
from serving.protocol import ErrorEnvelope, JobOut
from serving.routes.deps import get_videos, require_images
from serving.runtime import Runtime, get_runtime
from serving.services import Services

__all__ = ["router", "JOBS", "JOB_KIND", "CLIP_KIND", "VideosIn"]

JOB_KIND = "videos.slideshow"
CLIP_KIND = "videos.clip"
ARTIFACT = "video.mp4"
_REPORT_EVERY_S = 0.2  # progress (and the cancel check) at most this often: each report is a database write

merchant = require_images("merchant")  # the key's image slots and a pixel budget
_ERRORS = {status: {"model": ErrorEnvelope} for status in (401, 403, 413, 422, 429)}
router = APIRouter(prefix="/v1/videos", tags=["videos"], responses=_ERRORS)


class VideosIn(SlideshowSpec):
    """A slideshow: the photos (base64), an optional audio track, the words (or a note) and the choices."""

    # `clip` only with engine i2v (else a 422 naming `clip`).
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": ["engine"], "properties": {"engine": {"const": "i2v"}}},
                {"properties": {"clip": {"type": "null"}}},
            ]
        },
    )

    photos: list[str] = Field(min_length=1, max_length=MAX_PHOTOS, description="1-12 base64 product photos.")
    audio: str | None = Field(None, description="base64 audio track (MP3, M4A/AAC, WAV, OGG, FLAC); optional.")
    note: dict[str, Any] | None = Field(
        None,
        description="A note (`NoteDraft` JSON from /v1/copy/notes): its first title, selling points and hashtags "
        "become the captions where `title`, `lines` and `hashtags` are not given.",
    )
    engine: Literal["slideshow", "i2v"] = Field(
        "slideshow", description="slideshow (no weights) or i2v (one photo animated by the configured video model)."
    )
    clip: ClipSpec | None = Field(None, description="The image-to-video choices (engine i2v).")
    webhook_url: HttpUrl | None = None

    def spec(self) -> SlideshowSpec:
        """The slideshow's words and choices (a note fills the words not given)."""
        fields = self.model_dump(include=set(SlideshowSpec.model_fields), exclude_unset=True)
        if self.note is not None:
            for key, value in captions_from_note(self.note).items():
                fields.setdefault(key, value)
        return SlideshowSpec.model_validate(fields)


def _decode(body: VideosIn) -> tuple[list[bytes], bytes | None]:
    photos = [decode_base64(p, f"photos.{i}") for i, p in enumerate(body.photos)]
    audio = decode_base64(body.audio, "audio", MAX_AUDIO_BYTES) if body.audio is not None else None
    return photos, audio


@router.post("", status_code=202, response_model=JobOut, responses={202: {"model": JobOut}})
def create_video(
    body: VideosIn,
    principal: Principal = Depends(merchant),
    runtime: Runtime = Depends(get_runtime),
    videos: VideoService = Depends(get_videos),
) -> JSONResponse:
    """Queue a `videos.slideshow` job (202), or a `videos.clip` job for `engine: i2v` (503 at once when no video
    model is configured). Poll `GET /v1/jobs/{id}` for progress (by frames; by denoising steps for a clip), cancel
    with `POST /v1/jobs/{id}/cancel`, download `GET /v1/jobs/{id}/artifacts/video.mp4`; `webhook_url` is POSTed the
    job when it ends."""
    spec = _spec(body)
    photos, audio = _decode(body)
    webhook = str(body.webhook_url) if body.webhook_url else None
    if body.engine == "i2v":
        if not videos.clips_available:
            videos.clips()  # the 503 with the fix
        videos.check_clip(photos, audio, spec)
        seed = spec.seed if spec.seed is not None else secrets.randbelow(2**31)
        params = {
            "spec": spec.model_copy(update={"seed": seed}).model_dump(mode="json"),
            "clip": (body.clip or ClipSpec()).model_dump(mode="json"),
            "photos": body.photos,
            "audio": body.audio,
        }
        job = runtime.submit(CLIP_KIND, params, principal.key_id, webhook)
        return JSONResponse(JobOut.from_job(job).model_dump(mode="json"), status_code=202)
    if body.clip is not None:
        raise InputError("clip: only for engine i2v", "clip")
    inputs = videos.check(photos, spec, audio)  # every bad field is a 4xx now, not a failed job later
    params = {
        "spec": spec.model_copy(update={"seed": inputs.seed}).model_dump(mode="json"),
        "photos": body.photos,
        "audio": body.audio,
    }
    job = runtime.submit(JOB_KIND, params, principal.key_id, webhook)
    return JSONResponse(JobOut.from_job(job).model_dump(mode="json"), status_code=202)


def _spec(body: VideosIn) -> SlideshowSpec:
    try:
        return body.spec()
    except ValidationError as exc:  # a note whose words do not fit: name the note's field
        raise from_validation_error(exc, prefix="note") from None


def run_video_job(services: Services, ctx: JobContext) -> dict[str, Any]:
    """Job `videos.slideshow`: progress by frames; a cancel stops between frames and leaves no partial file."""
    spec = SlideshowSpec.model_validate(ctx.params["spec"])
    body = VideosIn.model_validate({"photos": ctx.params["photos"], "audio": ctx.params.get("audio")})
    photos, audio = _decode(body)
    ctx.report(0.0, "preparing the cover, captions and audio")
    inputs = services.videos.check(photos, spec, audio)
    last = [0.0]

    def on_frame(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= _REPORT_EVERY_S or done == total:
            last[0] = now
            ctx.report(0.99 * done / total, f"frame {done}/{total}")  # raises once a cancel was requested

    with ctx.writing(ARTIFACT) as path:
        info = services.videos.render(inputs, path, on_frame)
    return {**info.model_dump(mode="json"), "artifacts": [ARTIFACT]}


def run_clip_job(services: Services, ctx: JobContext) -> dict[str, Any]:
    """Job `videos.clip`: load the model (first clip), denoise (progress by steps; a cancel stops after the step in
    flight), encode (progress by frames); no partial file is ever left."""
    spec = SlideshowSpec.model_validate(ctx.params["spec"])
    clip = ClipSpec.model_validate(ctx.params["clip"])
    body = VideosIn.model_validate({"photos": ctx.params["photos"], "audio": ctx.params.get("audio")})
    photos, audio = _decode(body)
    ctx.report(0.0, "loading the image-to-video model")

    def on_step(step: int, steps: int) -> None:
        ctx.report(0.9 * step / max(1, steps), f"step {step}/{steps}")

    last = [0.0]

    def on_frame(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= _REPORT_EVERY_S or done == total:
            last[0] = now
            ctx.report(0.9 + 0.09 * done / total, f"encoding frame {done}/{total}")

    with ctx.writing(ARTIFACT) as path:
        info = services.videos.make_clip(photos[0], clip, spec, path, audio, on_step, on_frame)
    return {**info.model_dump(mode="json"), "artifacts": [ARTIFACT]}


JOBS = {JOB_KIND: run_video_job, CLIP_KIND: run_clip_job}
