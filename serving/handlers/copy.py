"""Copy handler: wire requests -> `NoteRequest` -> `CopyPipeline`, single, streamed (SSE) or as a batch job.

Which writer serves copy is configuration: `Settings.copy_model` names a registry text-generation model
(transformers, vLLM or an OpenAI-compatible server); unset, the template engine answers and says so. The
pipeline and its engine are built once per runtime, on first use; the compliance pass shares the
moderator of the moderation routes when it runs in this process.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from generation.copy.pipeline import CopyPipeline
from generation.copy.request import CopyInputError, NoteRequest
from generation.copy.schema import NoteParseError
from models.engines.base import ChatMessage, Generation, GenerationParams, TextEngine
from models.spec import ModelSpec
from serving.errors import ApiError

if TYPE_CHECKING:
    from serving.jobs import JobContext
    from serving.runtime import Runtime

__all__ = ["CopyService", "HostedTextEngine", "copy_service", "run_batch_job", "note_request", "JOB_KIND"]

JOB_KIND = "copy.notes"
_services: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_services_lock = threading.Lock()


def note_request(fields: dict[str, Any], param_prefix: str = "") -> NoteRequest:
    """Validated library request; `CopyInputError` becomes a 422 naming the field."""
    try:
        return NoteRequest.from_dict(fields)
    except CopyInputError as exc:
        raise ApiError(422, f"{param_prefix}{exc}", param_prefix + exc.param) from None


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


class CopyService:
    """The copy pipeline of one runtime (engine loaded lazily, once)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = weakref.proxy(runtime)
        self._pipeline: CopyPipeline | None = None
        self._lock = threading.Lock()

    def _moderator(self):
        from generation.copy.compliance import shared_moderator
        from serving.handlers.moderation import LocalModeration

        backend = self._runtime.moderation.backend
        if isinstance(backend, LocalModeration):
            return backend.moderator()
        return shared_moderator(self._runtime.settings.data_dir / "models" / "moderation-linear.pkl")

    def pipeline(self) -> CopyPipeline:
        """Built on first use; raises `ModelError` (503 with the fix) when the configured model cannot load."""
        with self._lock:
            if self._pipeline is None:
                from generation.copy.compliance import CompliancePass

                engine = None
                name = self._runtime.settings.copy_model
                if name and name in self._runtime.model_hosts:
                    engine = HostedTextEngine(self._runtime.registry.get(name), self._runtime.model_hosts[name])
                elif name:
                    from models.loader import load_engine

                    engine = load_engine(self._runtime.registry.get(name))
                self._pipeline = CopyPipeline(engine, CompliancePass(self._moderator()))
            return self._pipeline

    def notes(self, request: NoteRequest) -> list:
        try:
            return self.pipeline()(request)
        except NoteParseError as exc:
            message = f"the copy model answered something that is not a note: {exc}"
            raise ApiError(502, message, type="upstream_error") from None

    def stream(self, request: NoteRequest) -> Iterator[str]:
        """SSE: `token` events ({"variant", "text"}) as the writer produces text, a `draft` per variant, `done`.

        The template engine has no tokens: it sends each variant's finished text as one `token` event, so
        clients handle both writers alike. Errors after the stream started arrive as an `error` event.
        """
        from generation.copy.llm import LLMCopyEngine

        pipeline = self.pipeline()
        seed = pipeline.seed_for(request)
        try:
            for variant in range(request.n):
                if isinstance(pipeline.writer, LLMCopyEngine):
                    pieces: list[str] = []
                    for piece in pipeline.writer.stream(request, seed + variant):
                        pieces.append(piece)
                        yield _sse("token", {"variant": variant, "text": piece})
                    from generation.copy.llm import tidy
                    from generation.copy.schema import parse_note_json

                    content = tidy(parse_note_json("".join(pieces)), request)
                else:
                    content = pipeline.writer.write(request, seed + variant)
                    text = "\n".join(content.titles) + "\n\n" + content.body
                    yield _sse("token", {"variant": variant, "text": text})
                draft = pipeline.finish(request, content, variant, seed)
                yield _sse("draft", _draft_dict(draft))
            yield _sse("done", {"engine": pipeline.engine_name, "model": pipeline.model_name})
        except (NoteParseError, ValueError) as exc:
            yield _sse("error", {"type": "upstream_error", "message": str(exc), "param": None})


class HostedTextEngine(TextEngine):
    """A `TextEngine` over a `ModelHost` deployment handle (the model sits on its own GPU replica).

    Calls block on the handle, so they must come from a worker thread (sync routes and jobs do). `ModelHost`
    has no token stream: `stream` yields the whole completion as one piece.
    """

    def __init__(self, spec: ModelSpec, handle: Any) -> None:
        super().__init__(spec)
        self._handle = handle
        self.engine_name = handle.info.remote().result()["engine"]

    def format_chat(self, messages: Sequence[ChatMessage]) -> str:
        return self._handle.format_chat.remote(list(messages)).result()

    def generate(self, prompts: Sequence[str], params: GenerationParams | None = None) -> list[Generation]:
        fields = vars(params or GenerationParams())
        return [Generation(**g) for g in self._handle.generate.remote(list(prompts), fields).result()]

    def stream(self, prompt: str, params: GenerationParams | None = None) -> Iterator[str]:
        yield self.generate([prompt], params)[0].text


def _draft_dict(draft) -> dict[str, Any]:
    from serving.protocol.copy import NoteDraftOut

    return NoteDraftOut.from_draft(draft).model_dump(mode="json")


def copy_service(runtime: Runtime) -> CopyService:
    """The `CopyService` of `runtime` (one per runtime, created on first use)."""
    with _services_lock:
        service = _services.get(runtime)
        if service is None:
            service = _services[runtime] = CopyService(runtime)
        return service


def run_batch_job(runtime: Runtime, ctx: JobContext) -> dict[str, Any]:
    """Job `copy.notes`: every product in order; a bad product is an error entry, the rest are written.

    Progress is reported per product (cancel takes effect between chunks); the full drafts are also written
    as `notes.jsonl` (one product per line) for download.
    """
    products: list[Any] = ctx.params["products"]
    override_n = ctx.params.get("n")
    requests: list[NoteRequest] = []
    slots: list[dict[str, Any]] = [{"index": i} for i in range(len(products))]
    positions: list[int] = []
    for index, record in enumerate(products):
        try:
            fields = dict(record) if isinstance(record, dict) else record
            if override_n is not None and isinstance(fields, dict):
                fields["n"] = override_n
            requests.append(note_request(fields, f"products.{index}."))
            positions.append(index)
        except ApiError as exc:
            slots[index]["error"] = {"type": exc.type, "message": exc.message, "param": exc.param}
    ctx.report(0.0, f"writing notes for {len(requests)} products")
    pipeline = copy_service(runtime).pipeline()

    def progress(done: int, total: int) -> None:
        ctx.report(done / max(1, total), f"{done}/{total} products")

    results = pipeline.many(requests, on_progress=progress)
    for index, drafts in zip(positions, results, strict=True):
        slots[index]["drafts"] = [_draft_dict(d) for d in drafts]
    with ctx.artifact("notes.jsonl").open("w", encoding="utf-8") as sink:
        for slot in slots:
            sink.write(json.dumps(slot, ensure_ascii=False) + "\n")
    flagged = sum(1 for s in slots for d in s.get("drafts", []) if d["compliance"]["status"] == "flagged")
    return {
        "products": len(products),
        "failed": sum(1 for s in slots if "error" in s),
        "flagged_drafts": flagged,
        "engine": pipeline.engine_name,
        "model": pipeline.model_name,
        "results": slots,
        "artifacts": ["notes.jsonl"],
    }
