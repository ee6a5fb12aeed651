"""`/v1/glossaries`: a merchant's glossaries and do-not-translate lists (create, import, read, replace, patch, delete).

A glossary belongs to the API key that created it: another key gets 404 for it (never 403, which would say it
exists), and an admin key reads every key's glossaries but changes only its own.

Limits: at most 2000 terms in a glossary — more is a 422 naming `terms` (`add` for a patch, `file` for an
import); at most 50 glossaries per key — one more is a 409 (`conflict`: delete one first); an imported file is
at most 2 MiB — more is a 413 naming `file`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Path, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from common.errors import InputError
from generation.translate.glossary import (
    MAX_FILE_BYTES,
    GlossaryIn,
    GlossaryOut,
    GlossaryPatch,
    GlossarySummary,
    parse_glossary,
)
from generation.translate.glossary_store import GlossaryStore
from serving.auth import Principal
from serving.protocol import ErrorEnvelope
from serving.routes.deps import get_glossaries, require

__all__ = ["router", "GlossaryListOut"]

merchant = require("merchant")
_ERRORS = {status: {"model": ErrorEnvelope} for status in (401, 403, 404, 422)}
router = APIRouter(prefix="/v1/glossaries", tags=["glossaries"], responses=_ERRORS)

_ID = Path(pattern=r"^[0-9a-f]{32}$", description="Glossary id returned when it was created.")


class GlossaryListOut(BaseModel):
    glossaries: list[GlossarySummary]


def _reader(principal: Principal) -> str | None:
    """Whose glossaries a key reads: its own; an admin's, everyone's."""
    return None if principal.is_admin else principal.key_id


def _found(glossary: GlossaryOut | None, glossary_id: str) -> GlossaryOut:
    if glossary is None:
        raise InputError(f"glossary_id: no glossary {glossary_id}", "glossary_id", status=404)
    return glossary


@router.post("", status_code=201, response_model=GlossaryOut, responses={409: {"model": ErrorEnvelope}})
def create_glossary(
    body: GlossaryIn, principal: Principal = Depends(merchant), store: GlossaryStore = Depends(get_glossaries)
) -> GlossaryOut:
    """A new glossary of this key (201). 422 names the term (`terms.3.source`: empty, a control character, a
    duplicate of an earlier term with the same language); 409 when the key has 50 glossaries."""
    return store.create(principal.key_id, body)


@router.post(
    "/import",
    status_code=201,
    response_model=GlossaryOut,
    responses={409: {"model": ErrorEnvelope}, 413: {"model": ErrorEnvelope}},
)
def import_glossary(
    file: Annotated[
        UploadFile, File(description="CSV or TSV (source,target,target_lang,kind,case_sensitive) or JSON.")
    ],
    name: Annotated[str | None, Form(description="The glossary's name (default: the JSON's, or the file's).")] = None,
    file_format: Annotated[
        Literal["csv", "tsv", "json"] | None,
        Form(alias="format", description="Default: from the file's extension, else from its content."),
    ] = None,
    principal: Principal = Depends(merchant),
    store: GlossaryStore = Depends(get_glossaries),
) -> GlossaryOut:
    """A new glossary from a file (201). 422 names the line and column (`file.line.3.target_lang`) or the JSON
    field (`file.terms.2.source`); 413 for a file over 2 MiB."""
    data = file.file.read(MAX_FILE_BYTES + 1)
    glossary = parse_glossary(data, file_format=file_format, filename=file.filename, name=name, param="file")
    return store.create(principal.key_id, glossary)


@router.get("", response_model=GlossaryListOut)
def list_glossaries(
    principal: Principal = Depends(merchant), store: GlossaryStore = Depends(get_glossaries)
) -> GlossaryListOut:
    """This key's glossaries (an admin's: every key's), newest first, without their terms."""
    return GlossaryListOut(glossaries=store.list(_reader(principal)))


@router.get("/{glossary_id}", response_model=GlossaryOut)
def get_glossary(
    glossary_id: str = _ID, principal: Principal = Depends(merchant), store: GlossaryStore = Depends(get_glossaries)
) -> GlossaryOut:
    return _found(store.get(_reader(principal), glossary_id), glossary_id)


@router.put("/{glossary_id}", response_model=GlossaryOut)
def replace_glossary(
    body: GlossaryIn,
    glossary_id: str = _ID,
    principal: Principal = Depends(merchant),
    store: GlossaryStore = Depends(get_glossaries),
) -> GlossaryOut:
    """The name and every term replaced (validated as on create)."""
    return _found(store.replace(principal.key_id, glossary_id, body), glossary_id)


@router.patch("/{glossary_id}", response_model=GlossaryOut)
def patch_glossary(
    body: GlossaryPatch,
    glossary_id: str = _ID,
    principal: Principal = Depends(merchant),
    store: GlossaryStore = Depends(get_glossaries),
) -> GlossaryOut:
    """Terms removed (`remove`: source and target_lang; 422 naming `remove.N` when there is no such term), then
    terms added at the end (`add`; 422 naming `add.N.source` for a term the glossary has already)."""
    return _found(store.patch(principal.key_id, glossary_id, body), glossary_id)


@router.delete("/{glossary_id}", status_code=204, response_class=Response)
def delete_glossary(
    glossary_id: str = _ID, principal: Principal = Depends(merchant), store: GlossaryStore = Depends(get_glossaries)
) -> Response:
    if not store.delete(principal.key_id, glossary_id):
        _found(None, glossary_id)
    return Response(status_code=204)
