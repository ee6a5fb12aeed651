"""`/v1/translate`: note-aware translation with the merchant's glossary and do-not-translate terms.

LibreTranslate's own endpoints (`/translate`, `/detect`, `/languages`) are in `libretranslate.py`; this one carries
what they cannot: whole notes, glossaries, inline terms, the Taiwan / Hong Kong variants, and the honest report of
what was re-inserted or is missing.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from generation.translate.detect import Detection
from generation.translate.languages import load_languages
from generation.translate.masking import Term
from generation.translate.service import (
    HASHTAG_PATTERN,
    LINES_PATTERN,
    TEXT_PATTERN,
    LanguageOut,
    NoteOut,
    TextOut,
    TranslationService,
)
from serving.auth import Principal
from serving.protocol import ErrorEnvelope
from serving.routes.deps import get_services, get_translation, require
from serving.services import Services

__all__ = ["router", "TranslateIn", "terms_for"]

MAX_TEXTS = 128
MAX_TERMS = 500

merchant = require("merchant")
_ERRORS = {status: {"model": ErrorEnvelope} for status in (401, 403, 413, 422, 503)}
router = APIRouter(prefix="/v1/translate", tags=["translate"], responses=_ERRORS)

_CODES = load_languages().spellings()
# What the service translates: not blank, no control or bidi-override characters (documented as a pattern; the
# service's own check answers, naming the text).
Text = Annotated[str, Field(json_schema_extra={"pattern": TEXT_PATTERN})]


class InlineTerm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=100)
    target: str | None = Field(None, max_length=100, description="None: keep the source term as it is.")
    case_sensitive: StrictBool = False


class NoteIn(BaseModel):
    """A note to translate (a `NoteDraft` from /v1/copy/notes): its other fields come back as they are."""

    model_config = ConfigDict(extra="allow")

    titles: list[Text] = Field(default_factory=list)
    body: str = Field("", json_schema_extra={"pattern": LINES_PATTERN}, description="Lines; blank ones are kept.")
    hashtags: list[Annotated[str, Field(json_schema_extra={"pattern": HASHTAG_PATTERN})]] = Field(
        default_factory=list, description="With or without the leading `#`."
    )


# Exactly one of `text` and `note` (a null one is not given).
_ONE_KIND = {
    "oneOf": [{"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in ("text", "note")]
}


class TranslateIn(BaseModel):
    """Texts (one or a batch) or a whole note, from `source` (or `auto`) to `target`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_ONE_KIND)

    text: Text | Annotated[list[Text], Field(min_length=1, max_length=MAX_TEXTS)] | None = Field(
        None, description="A text or a list of texts (a batch, <= 128)."
    )
    note: NoteIn | None = Field(None, description="A NoteDraft (titles, body, hashtags) to translate whole.")
    source: str = Field(
        "auto",
        json_schema_extra={"enum": ["auto", *_CODES]},
        description="A language code as LibreTranslate spells it (en, zh-Hans...; any case), or auto.",
    )
    target: str = Field(
        json_schema_extra={"enum": _CODES}, description="A language code (en, zh-Hans, zh-Hant, ja, ...; any case)."
    )
    format: Literal["text", "html"] = "text"
    variant: Literal["tw", "hk"] | None = Field(None, description="Traditional Chinese of Taiwan or Hong Kong.")
    glossary_id: str | None = Field(None, description="One of your glossaries (`/v1/glossaries`).")
    terms: list[InlineTerm] = Field(default_factory=list, max_length=MAX_TERMS, description="Terms for this call.")
    dnt: list[str] = Field(default_factory=list, max_length=MAX_TERMS, description="Do-not-translate terms.")

    @model_validator(mode="after")
    def _one_kind(self) -> TranslateIn:
        if (self.text is None) == (self.note is None):
            raise ValueError("give either `text` (a text or a list) or `note`")
        if isinstance(self.text, list) and not 1 <= len(self.text) <= MAX_TEXTS:
            raise ValueError(f"text: give 1-{MAX_TEXTS} texts")
        return self


class TranslateOut(BaseModel):
    translations: list[TextOut] | None = None
    note: NoteOut | None = None


class DetectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=5000)


def terms_for(body: TranslateIn, services: Services, principal: Principal) -> list[Term]:
    """The glossary's terms for the target language, then the request's own."""
    terms: list[Term] = []
    if body.glossary_id:
        owner = None if principal.is_admin else principal.key_id
        glossary = services.glossaries.require(owner, body.glossary_id)
        target = services.translation.languages.code(body.target, "target")
        # a term for the target language overrides an every-language term with the same source
        terms += [Term(t.source, t.target, t.case_sensitive, t.kind) for t in glossary.terms_for(target)]
    terms += [Term(t.source, t.target, t.case_sensitive) for t in body.terms]
    terms += [Term(s) for s in body.dnt if s.strip()]
    return terms


@router.post(
    "", response_model=TranslateOut, response_model_exclude_none=True, responses={404: {"model": ErrorEnvelope}}
)
def translate(
    body: TranslateIn,
    principal: Principal = Depends(merchant),
    services: Services = Depends(get_services),
    translation: TranslationService = Depends(get_translation),
) -> TranslateOut:
    """Texts come back in order, each naming its source language, engine and model, the protected terms it had to
    re-insert and any still missing. A note comes back with the same shape (titles, body lines, hashtags)."""
    terms = terms_for(body, services, principal)
    if body.note is not None:
        note = body.note.model_dump()
        return TranslateOut(note=translation.translate_note(note, body.source, body.target, terms, body.variant))
    texts = [body.text] if isinstance(body.text, str) else list(body.text or [])
    outs = translation.translate_texts(texts, body.source, body.target, terms, body.variant, body.format)
    return TranslateOut(translations=outs)


@router.get("/languages", response_model=list[LanguageOut])
def languages(
    _: Principal = Depends(merchant), translation: TranslationService = Depends(get_translation)
) -> list[LanguageOut]:
    """Every language and the targets this deployment can reach from it (OpenCC and the configured models)."""
    return translation.language_list()


@router.post("/detect", response_model=list[Detection])
def detect(
    body: DetectIn, _: Principal = Depends(merchant), translation: TranslationService = Depends(get_translation)
) -> list[Detection]:
    """The likeliest languages of a text, best first, with confidence 0-100."""
    return translation.detect(body.text)
