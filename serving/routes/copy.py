"""`/v1/copy/*`: note copy for one product (JSON or a server-sent event stream) and for many as a job."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from generation.copy.request import NoteRequest
from generation.copy.service import BatchResult, CopyEvent, CopyService, NotesResult
from serving.auth import Principal
from serving.jobs import JobContext
from serving.protocol import ErrorEnvelope, JobOut
from serving.protocol.copy import NoteRequestIn, NotesBatchIn
from serving.routes.deps import get_copy, require
from serving.runtime import Runtime, get_runtime
from serving.services import Services

__all__ = ["router", "JOBS", "JOB_KIND"]

JOB_KIND = "copy.notes"

merchant_key = require("merchant")
_ERRORS = {status: {"model": ErrorEnvelope} for status in (401, 403, 422, 502, 503)}

router = APIRouter(prefix="/v1/copy", tags=["copy"], responses=_ERRORS)


def _sse(event: CopyEvent) -> str:
    name, data = event
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _events(copy: CopyService, request: NoteRequest) -> AsyncIterator[str]:
    """SSE frames; when the client disconnects Starlette cancels this generator and the engine stops."""
    stream = copy.stream(request)
    try:
        async for event in stream:
            yield _sse(event)
    finally:
        await stream.aclose()


@router.post(
    "/notes",
    response_model=NotesResult,
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE with `stream: true`"}},
)
async def write_notes(
    body: NoteRequestIn, _: Principal = Depends(merchant_key), copy: CopyService = Depends(get_copy)
) -> NotesResult | StreamingResponse:
    """`n` notes for one product, each through the compliance pass. `stream: true` answers with server-sent
    events: `token` ({variant, text}) as text is written, `draft` per variant, then `done`."""
    if body.stream:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(_events(copy, body), media_type="text/event-stream", headers=headers)
    return await copy.notes(body)


@router.post("/notes/batch", response_model=JobOut, status_code=202)
def write_notes_batch(
    body: NotesBatchIn, principal: Principal = Depends(merchant_key), runtime: Runtime = Depends(get_runtime)
) -> JobOut:
    """Notes for many products as a `copy.notes` job: poll `GET /v1/jobs/{id}` for progress; the result lists
    drafts (or an error) per product in input order, and `notes.jsonl` holds the same for download."""
    params = {"products": body.products, "n": body.n}
    webhook = str(body.webhook_url) if body.webhook_url else None
    return JobOut.from_job(runtime.submit(JOB_KIND, params, principal.key_id, webhook))


def run_batch_job(services: Services, ctx: JobContext) -> dict[str, Any]:
    """Job `copy.notes`: every product in order (progress per chunk; a cancel takes effect between chunks);
    the full drafts are also written as `notes.jsonl` (one product per line) for download."""
    products: list[Any] = ctx.params["products"]
    ctx.report(0.0, f"writing notes for {len(products)} products")

    def progress(done: int, total: int) -> None:
        ctx.report(done / max(1, total), f"{done}/{total} products")

    result: BatchResult = asyncio.run(services.copy.batch(products, ctx.params.get("n"), on_progress=progress))
    with ctx.artifact("notes.jsonl").open("w", encoding="utf-8") as sink:
        for item in result.results:
            sink.write(item.model_dump_json(exclude_none=True) + "\n")
    return {**result.model_dump(mode="json"), "artifacts": ["notes.jsonl"]}


JOBS = {JOB_KIND: run_batch_job}
