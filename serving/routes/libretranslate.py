"""LibreTranslate's API, field for field: `POST /translate`, `POST /detect`, `GET /languages`.

Existing LibreTranslate clients and integrations work unchanged: JSON or form bodies, `q` a string or a list,
`source` a code or `auto`, `format` text/html, `alternatives`, the key as `api_key` in the body (or our
`Authorization: Bearer` / `X-API-Key` headers), language codes as LibreTranslate spells them (`zh-Hans`, `zh-Hant`;
its older `zh` / `zt` too). Answers and errors have its shapes: `{"translatedText": ..., "detectedLanguage": {...}}`,
`[{"confidence": 90.0, "language": "en"}]`, and `{"error": "..."}` with 400 (bad request, unsupported language or
pair, text over the limit), 403 (invalid key) or 429 (rate limit) — not our envelope.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from common.errors import InputError, ServiceError
from generation.translate.languages import load_languages
from generation.translate.service import DEFAULT_CHAR_LIMIT, TEXT_PATTERN, LanguageOut, TranslationService
from serving.errors import ApiError
from serving.openapi import key_security
from serving.routes.deps import get_translation
from serving.runtime import Runtime, get_runtime

__all__ = ["router", "LibreTranslateError", "TranslateResult", "DetectedLanguage"]

MAX_ALTERNATIVES = 3
MAX_BATCH = 128


class LibreTranslateError(BaseModel):
    """LibreTranslate's error body (not our envelope): 400 bad request, unsupported language or pair, text over the
    limit, or no key; 403 invalid key; 429 rate limit."""

    error: str


class DetectedLanguage(BaseModel):
    confidence: float = Field(description="0-100")
    language: str


class TranslateResult(BaseModel):
    """`translatedText` (a list when `q` is), `detectedLanguage` with `source: auto`, `alternatives` when asked."""

    translatedText: str | list[str]  # noqa: N815 - LibreTranslate's field names
    detectedLanguage: DetectedLanguage | list[DetectedLanguage] | None = None  # noqa: N815
    alternatives: list[str] | list[list[str]] | None = None


def _request_body(*, batch: bool, translate: bool) -> dict[str, Any]:
    """What `POST /translate` / `/detect` read, as JSON or as a form (the handlers read the body themselves)."""
    codes = load_languages().spellings()
    # To translate: not blank, no control or bidi-override characters (what the service accepts).
    text = {
        "type": "string",
        "minLength": 1,
        "maxLength": DEFAULT_CHAR_LIMIT,
        **({"pattern": TEXT_PATTERN} if translate else {}),  # detection takes any text
        "description": f"At most NOTESTUDIO_TRANSLATE_CHAR_LIMIT characters ({DEFAULT_CHAR_LIMIT} by default).",
    }
    texts = {"type": "array", "items": text, "minItems": 1, "maxItems": MAX_BATCH}
    fields: dict[str, Any] = {"q": {"anyOf": [text, texts]} if batch else text}
    if translate:
        fields["source"] = {"type": "string", "enum": ["auto", *codes], "description": "A language code, or auto."}
        fields["target"] = {"type": "string", "enum": codes}
        fields["format"] = {"type": "string", "enum": ["text", "html"], "default": "text"}
        fields["alternatives"] = {"type": "integer", "minimum": 0, "maximum": MAX_ALTERNATIVES, "default": 0}
    fields["api_key"] = {"type": "string", "description": "The key, when not in the Authorization / X-API-Key header."}
    required = ["q", "source", "target"] if translate else ["q"]
    schema = {"type": "object", "properties": fields, "required": required}
    form = {**schema, "properties": {**fields, "q": text}}
    return {
        "required": True,
        "content": {"application/json": {"schema": schema}, "application/x-www-form-urlencoded": {"schema": form}},
    }


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": LibreTranslateError, "description": description}
    for status, description in (
        (400, "Bad request: a missing or bad field, an unsupported language or pair, text over the limit, no key"),
        (403, "Invalid API key"),
        (429, "Over the key's rate limit"),
    )
}
# The key in the Authorization / X-API-Key header, or as `api_key` in the body.
_KEYED = {"security": key_security("merchant")}

router = APIRouter(tags=["libretranslate"])


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _fields(request: Request) -> dict[str, Any]:
    """The request's fields, from a JSON body or a form (what LibreTranslate accepts)."""
    if request.headers.get("content-type", "").split(";")[0].strip() == "application/json":
        try:
            data = json.loads(await request.body() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _Refused(400, "Invalid JSON format") from None
        if not isinstance(data, dict):
            raise _Refused(400, "Invalid JSON format")
        return data
    form = await request.form()
    return {key: form.get(key) for key in form.keys()}


async def _authorize(request: Request, fields: dict[str, Any], runtime: Runtime) -> None:
    """The key from the headers or the body's `api_key`; LibreTranslate's answers when it is missing or wrong."""
    header = request.headers.get("authorization", "")
    key = header[7:].strip() if header[:7].lower() == "bearer " else request.headers.get("x-api-key", "").strip()
    key = key or str(fields.get("api_key") or "").strip()
    if not key:
        raise _Refused(400, "Please contact the server operator to get an API key")
    principal = runtime.keys.lookup(key)
    if principal is None or not principal.allows("merchant"):
        raise _Refused(403, "Invalid API key")
    try:
        await runtime.rate_limiter.check(principal)
    except ApiError as exc:
        raise _Refused(429, f"Slowdown: {exc.message}") from None


async def _handle(request: Request, runtime: Runtime, work) -> JSONResponse:
    try:
        fields = await _fields(request)
        await _authorize(request, fields, runtime)
        return JSONResponse(await run_in_threadpool(work, fields))
    except _Refused as exc:
        return _error(exc.status, exc.message)
    except InputError as exc:
        return _error(400, f"Invalid request: {exc.message}")
    except ServiceError as exc:  # a pair nothing serves, a model that cannot load
        return _error(400 if exc.status == 503 else exc.status, exc.message)


def _texts(fields: dict[str, Any], is_form: bool) -> tuple[list[str], bool]:
    q = fields.get("q")
    if not q:
        raise _Refused(400, "Invalid request: missing q parameter")
    if isinstance(q, list):
        if not all(isinstance(t, str) for t in q):
            raise _Refused(400, "Invalid request: q must be a string or a list of strings")
        if len(q) > MAX_BATCH:
            raise _Refused(400, f"Invalid request: request ({len(q)}) exceeds text limit ({MAX_BATCH})")
        return list(q), True
    if not isinstance(q, str):
        raise _Refused(400, "Invalid request: q must be a string or a list of strings")
    return ["\n".join(q.splitlines()) if is_form else q], False


@router.post(
    "/translate",
    responses={200: {"model": TranslateResult}, **_ERRORS},
    openapi_extra={**_KEYED, "requestBody": _request_body(batch=True, translate=True)},
)
async def translate(
    request: Request,
    runtime: Runtime = Depends(get_runtime),
    translation: TranslationService = Depends(get_translation),
) -> JSONResponse:
    """Translate text (LibreTranslate `POST /translate`)."""
    is_form = "application/json" not in request.headers.get("content-type", "")

    def work(fields: dict[str, Any]) -> dict[str, Any]:
        texts, batch = _texts(fields, is_form)
        for name in ("source", "target"):
            if not fields.get(name):
                raise _Refused(400, f"Invalid request: missing {name} parameter")
        try:
            alternatives = max(0, int(fields.get("alternatives") or 0))
        except (TypeError, ValueError):
            raise _Refused(400, "Invalid request: alternatives parameter is not a number") from None
        if alternatives > MAX_ALTERNATIVES:
            raise _Refused(400, f"Invalid request: alternatives parameter must be <= {MAX_ALTERNATIVES}")
        fmt = fields.get("format") or "text"
        if fmt not in ("text", "html"):
            raise _Refused(400, f"{fmt} format is not supported")
        source = str(fields["source"])
        limit = translation.char_limit
        for text in texts:
            if limit >= 0 and len(text) > limit:
                raise _Refused(400, f"Invalid request: request ({len(text)}) exceeds text limit ({limit})")
        for name, code in (("source", source), ("target", str(fields["target"]))):
            if not (name == "source" and code.lower() == "auto"):
                try:
                    translation.languages.code(code, name)
                except InputError:
                    raise _Refused(400, f"{code} is not supported") from None
        if source.lower() == "auto":  # LibreTranslate detects once for the whole request
            sample = "\n".join(texts)
            detected = translation.detect(sample, top=1)
            found = detected[0] if detected else None
            source = found.language if found else "en"
            language = {"confidence": found.confidence if found else 0.0, "language": source}
        else:
            language = None
        outs = translation.translate_texts(texts, source, str(fields["target"]), fmt=fmt, param="q")
        translated = [o.text for o in outs]
        result: dict[str, Any] = {"translatedText": translated if batch else translated[0]}
        if language is not None:
            result["detectedLanguage"] = [language] * len(texts) if batch else language
        if alternatives > 0:  # our engines give one hypothesis: no alternatives to offer
            result["alternatives"] = [[] for _ in texts] if batch else []
        return result

    return await _handle(request, runtime, work)


@router.post(
    "/detect",
    responses={200: {"model": list[DetectedLanguage]}, **_ERRORS},
    openapi_extra={**_KEYED, "requestBody": _request_body(batch=False, translate=False)},
)
async def detect(
    request: Request,
    runtime: Runtime = Depends(get_runtime),
    translation: TranslationService = Depends(get_translation),
) -> JSONResponse:
    """Detect the language of a text (LibreTranslate `POST /detect`)."""

    def work(fields: dict[str, Any]) -> list[dict[str, Any]]:
        q = fields.get("q")
        if not q or not isinstance(q, str):
            raise _Refused(400, "Invalid request: missing q parameter")
        limit = translation.char_limit
        if limit >= 0 and len(q) > limit:
            raise _Refused(400, f"Invalid request: request ({len(q)}) exceeds text limit ({limit})")
        return [{"confidence": d.confidence, "language": d.language} for d in translation.detect(q)]

    return await _handle(request, runtime, work)


@router.get("/languages", responses={200: {"model": list[LanguageOut]}})
async def languages(translation: TranslationService = Depends(get_translation)) -> JSONResponse:
    """Every language and its reachable targets (LibreTranslate `GET /languages`; no key needed, as there)."""
    listed = await run_in_threadpool(translation.language_list)
    return JSONResponse([item.model_dump() for item in listed])
