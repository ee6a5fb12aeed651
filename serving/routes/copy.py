"""`/v1/copy/*`: note copy for one product (JSON or SSE stream) and for many products as a job."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from serving.auth import Principal
from serving.handlers.copy import JOB_KIND, copy_service, note_request
from serving.protocol import ErrorEnvelope, JobOut
from serving.protocol.copy import NoteDraftOut, NoteRequestIn, NotesBatchIn, NotesOut
from serving.routes.deps import require
from serving.runtime import Runtime, get_runtime

__all__ = ["router"]

merchant_key = require("merchant")
_ERRORS = {status: {"model": ErrorEnvelope} for status in (401, 403, 422, 502, 503)}

router = APIRouter(prefix="/v1/copy", tags=["copy"], responses=_ERRORS)


@router.post(
    "/notes",
    response_model=NotesOut,
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE with `stream: true`"}},
)
def write_notes(
    body: NoteRequestIn, _: Principal = Depends(merchant_key), runtime: Runtime = Depends(get_runtime)
) -> NotesOut | StreamingResponse:
    """`n` notes for one product, each through the compliance pass. `stream: true` answers with server-sent
    events: `token` ({variant, text}) as text is written, `draft` per variant, then `done`."""
    request = note_request(body.library_fields())
    service = copy_service(runtime)
    if body.stream:
        service.pipeline()  # load errors are a JSON 503 before the stream starts
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(service.stream(request), media_type="text/event-stream", headers=headers)
    drafts = service.notes(request)
    pipeline = service.pipeline()
    return NotesOut(
        drafts=[NoteDraftOut.from_draft(d) for d in drafts], engine=pipeline.engine_name, model=pipeline.model_name
    )


@router.post("/notes/batch", response_model=JobOut, status_code=202)
def write_notes_batch(
    body: NotesBatchIn, principal: Principal = Depends(merchant_key), runtime: Runtime = Depends(get_runtime)
) -> JobOut:
    """Notes for many products as a `copy.notes` job: poll `GET /v1/jobs/{id}` for progress; the result lists
    drafts (or an error) per product in input order, and `notes.jsonl` holds the same for download."""
    params = {"products": body.products, "n": body.n}
    webhook = str(body.webhook_url) if body.webhook_url else None
    return JobOut.from_job(runtime.submit(JOB_KIND, params, principal.key_id, webhook))
