"""Merchant glossaries: terms translated a fixed way, and do-not-translate (DNT) terms that come out unchanged.

A glossary is a name and up to `MAX_TERMS` terms. A term maps a `source` string to a `target` in one
language (`target_lang`) or in every language (`target_lang` None); a term without a `target` is
do-not-translate (brand names, product lines, SKUs, @mentions, URLs). For one output language the terms
that name it override the every-language ones with the same source (`terms_for`).

The models are the wire models too (HTTP bodies, `glossary.json` files), so the API, the CLI and the
translation service check a glossary the same way; `parse_glossary` reads the files merchants keep
(CSV, TSV, JSON) and raises `InputError` naming the line and column, or the JSON field.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from common.errors import InputError, from_validation_error
from generation.translate.languages import load_languages

__all__ = [
    "MAX_TERMS",
    "MAX_NAME_CHARS",
    "MAX_SOURCE_CHARS",
    "MAX_TARGET_CHARS",
    "MAX_FILE_BYTES",
    "TERM_KINDS",
    "GlossaryTerm",
    "TermKey",
    "GlossaryIn",
    "GlossaryPatch",
    "GlossarySummary",
    "GlossaryOut",
    "Duplicate",
    "find_duplicate",
    "terms_for",
    "normalize_lang",
    "parse_glossary",
    "read_glossary",
]

MAX_TERMS = 2000
MAX_NAME_CHARS = 80
MAX_SOURCE_CHARS = 100
MAX_TARGET_CHARS = 200
#: Largest glossary file read (2000 terms of ~300 bytes fit several times over).
MAX_FILE_BYTES = 2 * 1024 * 1024
TERM_KINDS = ("brand", "product", "sku", "mention", "url", "price", "term")
TermKind = Literal["brand", "product", "sku", "mention", "url", "price", "term"]
FileFormat = Literal["csv", "tsv", "json"]

#: Columns of a CSV/TSV glossary, in the order of a file without a header row.
COLUMNS = ("source", "target", "target_lang", "kind", "case_sensitive")
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n", ""}


def normalize_lang(value: str) -> str:
    """The translation service's code for a language: `EN` -> `en`, `zh` -> `zh-Hans`, `zh_TW` -> `zh-Hant`.

    Raises:
        ValueError: a language the service does not know (the message lists those it does).
    """
    languages = load_languages()
    try:
        return languages.code(value.strip().replace("_", "-"), "target_lang")
    except InputError:
        known = ", ".join(lang.code for lang in languages)
        raise ValueError(f"{value!r} is not a supported language code; supported: {known}") from None


#: Control characters (Cc) and line/paragraph separators (Zl, Zp): refused anywhere in a name, source or target.
_CONTROL_CHARS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
#: The JSON-schema patterns of what `_clean_text` accepts (lone surrogates, refused too, left out: they are not
#: text a JSON document can carry as UTF-8).
_TEXT_PATTERN = rf"^[^{_CONTROL_CHARS}]*$"
_NOT_BLANK_PATTERN = rf"^[^{_CONTROL_CHARS}]*[^\s{_CONTROL_CHARS}][^{_CONTROL_CHARS}]*$"


def _clean_text(value: str, what: str) -> str:
    """Stripped; no control characters, line/paragraph separators or lone surrogates anywhere inside."""
    value = value.strip()
    for index, char in enumerate(value):
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
            raise ValueError(f"{what} holds a control character or line break (U+{ord(char):04X} at position {index})")
    return value


def _cleaned(what: str, blank_is_none: bool = False) -> BeforeValidator:
    def clean(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        value = _clean_text(value, what)
        return None if blank_is_none and not value else value

    return BeforeValidator(clean)


def _language(value: Any) -> Any:
    if isinstance(value, str):
        return normalize_lang(value) if value.strip() else None
    return value


Source = Annotated[
    str,
    Field(min_length=1, max_length=MAX_SOURCE_CHARS, json_schema_extra={"pattern": _NOT_BLANK_PATTERN}),
    _cleaned("source"),
]
TargetLang = Annotated[
    str | None,
    BeforeValidator(_language),
    Field(
        description="Language code (en, zh-Hans, zh-Hant...; aliases like zh, zh-TW accepted; any case); None (or "
        "blank): every one.",
        json_schema_extra={"enum": [*load_languages().spellings(), "", None]},
    ),
]
Name = Annotated[
    str,
    Field(min_length=1, max_length=MAX_NAME_CHARS, json_schema_extra={"pattern": _NOT_BLANK_PATTERN}),
    _cleaned("name"),
]


class TermKey(BaseModel):
    """Which term: its source and language (None: the every-language term)."""

    model_config = ConfigDict(extra="forbid")

    source: Source
    target_lang: TargetLang = None

    def matches(self, term: GlossaryTerm) -> bool:
        """Same language, and the same source (ignoring case unless the term is case-sensitive)."""
        if self.target_lang != term.target_lang:
            return False
        return self.source == term.source or (not term.case_sensitive and _fold(self.source) == _fold(term.source))


class GlossaryTerm(BaseModel):
    """One term: translate `source` as `target`, or keep it as it is (`target` None: do not translate).

    `source` and `target` are stripped and may hold no control characters; a blank `target` means do not
    translate. `target_lang` None applies the term to every language. Matching ignores case unless
    `case_sensitive`.
    """

    model_config = ConfigDict(extra="forbid")

    source: Source
    target: Annotated[str | None, _cleaned("target", blank_is_none=True)] = Field(
        None,
        max_length=MAX_TARGET_CHARS,
        description="None or blank: do not translate.",
        json_schema_extra={"pattern": _TEXT_PATTERN},
    )
    target_lang: TargetLang = None
    kind: TermKind = "term"
    case_sensitive: StrictBool = False

    @property
    def dnt(self) -> bool:
        """Do not translate: the source comes out unchanged."""
        return self.target is None


def _fold(text: str) -> str:
    return text.casefold()


def _same_source(a: GlossaryTerm, b: GlossaryTerm) -> bool:
    """The same source: equal ignoring case, unless both terms are case-sensitive (then `SKU-a` != `SKU-A`)."""
    if a.case_sensitive and b.case_sensitive:
        return a.source == b.source
    return _fold(a.source) == _fold(b.source)


class Duplicate(NamedTuple):
    """`terms[index]` repeats `terms[earlier]` (or `existing[earlier]` when `existing` is True)."""

    index: int
    earlier: int
    existing: bool

    def describe(self, term: GlossaryTerm, earlier_label: str) -> str:
        return f"duplicate term {term.source!r} for {term.target_lang or 'every language'} (same as {earlier_label})"


def find_duplicate(terms: Sequence[GlossaryTerm], existing: Sequence[GlossaryTerm] = ()) -> Duplicate | None:
    """The first of `terms` with the same language and source (`_same_source`) as an earlier one or one of
    `existing`; None when there is none."""
    seen: dict[tuple[str, str | None], list[tuple[int, bool, GlossaryTerm]]] = {}
    for index, term in enumerate(existing):
        seen.setdefault((_fold(term.source), term.target_lang), []).append((index, True, term))
    for index, term in enumerate(terms):
        key = (_fold(term.source), term.target_lang)
        for earlier, in_existing, other in seen.get(key, []):
            if _same_source(term, other):
                return Duplicate(index, earlier, in_existing)
        seen.setdefault(key, []).append((index, False, term))
    return None


class GlossaryIn(BaseModel):
    """A glossary as a merchant sends it: a name and its terms (no two with the same source and language)."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="What the merchant calls it.")
    terms: list[GlossaryTerm] = Field(default_factory=list, max_length=MAX_TERMS)

    @model_validator(mode="after")
    def _no_duplicates(self) -> GlossaryIn:
        duplicate = find_duplicate(self.terms)
        if duplicate is not None:
            term = self.terms[duplicate.index]
            why = duplicate.describe(term, f"terms.{duplicate.earlier}")
            raise _located("duplicate_term", why, ("terms", duplicate.index, "source"), term.source)
        return self

    def terms_for(self, target_lang: str) -> list[GlossaryTerm]:
        """The terms that apply when translating into `target_lang` (see `terms_for`)."""
        return terms_for(self.terms, target_lang)


class GlossaryPatch(BaseModel):
    """Terms to remove, then terms to add, in one change (the result obeys the same limits as `GlossaryIn`)."""

    model_config = ConfigDict(extra="forbid")

    add: list[GlossaryTerm] = Field(default_factory=list, max_length=MAX_TERMS)
    remove: list[TermKey] = Field(default_factory=list, max_length=MAX_TERMS)


class GlossarySummary(BaseModel):
    """A stored glossary without its terms (listings)."""

    id: str
    owner_key: str = Field(description="Public id of the API key that created it (owns it).")
    name: str
    term_count: int
    created_at: datetime
    updated_at: datetime


class GlossaryOut(GlossarySummary):
    """A stored glossary with its terms, in the order they were given."""

    terms: list[GlossaryTerm]

    def terms_for(self, target_lang: str) -> list[GlossaryTerm]:
        """The terms that apply when translating into `target_lang` (see `terms_for`)."""
        return terms_for(self.terms, target_lang)


def terms_for(terms: Sequence[GlossaryTerm], target_lang: str) -> list[GlossaryTerm]:
    """The terms that apply when translating into `target_lang`: those naming it (exactly: `zh-Hans` terms do not
    apply to `zh-Hant`), then the every-language ones whose source no term naming it has (it overrides them).

    Raises:
        ValueError: `target_lang` is not a language the service knows.
    """
    lang = normalize_lang(target_lang)
    specific = [term for term in terms if term.target_lang == lang]
    general = [term for term in terms if term.target_lang is None and not any(_same_source(term, o) for o in specific)]
    return specific + general


def _located(kind: str, message: str, loc: tuple[Any, ...], value: Any) -> ValidationError:
    """A pydantic error at `loc` (pydantic nests it under the enclosing field when raised in a validator)."""
    error = PydanticCustomError(kind, "{why}", {"why": message})  # as a value: braces in a term stay as they are
    return ValidationError.from_exception_data("GlossaryIn", [InitErrorDetails(type=error, loc=loc, input=value)])


# -- files -----------------------------------------------------------------------------------------------------
def read_glossary(path: str | Path, name: str | None = None) -> GlossaryIn:
    """A glossary file on disk (format from its extension or content; name from the file when not given)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"glossary: no file {path}", "glossary")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InputError(f"glossary: {path} is larger than {MAX_FILE_BYTES // 2**20} MiB", "glossary", status=413)
    return parse_glossary(path.read_bytes(), filename=path.name, name=name)


def parse_glossary(
    data: bytes | str,
    *,
    file_format: FileFormat | None = None,
    filename: str | None = None,
    name: str | None = None,
    param: str = "glossary",
) -> GlossaryIn:
    """Read a glossary file: CSV, TSV or JSON.

    CSV and TSV rows are `source,target,target_lang,kind,case_sensitive` (the last four may be left out or
    blank; blank `target`: do not translate, blank `target_lang`: every language). A first row naming the
    columns (`source` among them) is a header, and then columns may come in any order. TSV is split on tabs, no
    quoting. JSON is a glossary (`{"name", "terms"}`) or a list of terms. Text is UTF-8 (a BOM is fine),
    UTF-16 with a BOM, or GB18030 (what Excel on Chinese Windows saves).

    Args:
        data: the file's bytes (or text).
        file_format: csv, tsv or json; default from `filename`'s extension, else from the content.
        filename: the uploaded file's name: the format, and the glossary's name when none is given.
        name: the glossary's name (overrides a JSON glossary's own).
        param: the field the file arrived in, which error messages start with (`glossary.line.3.target_lang`).

    Raises:
        InputError: 422 naming `<param>.line.N[.column]` (CSV/TSV) or `<param>.<json path>`; 413 for a file
            over `MAX_FILE_BYTES`.
    """
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(f"{param}: file larger than {MAX_FILE_BYTES // 2**20} MiB", param, status=413)
    text = data if isinstance(data, str) else _decode(data, param)
    fmt = file_format or _format_of(filename, text)
    if fmt == "json":
        return _parse_json(text, name, filename, param)
    if fmt not in ("csv", "tsv"):
        raise InputError(f"{param}: unknown format {fmt!r}; use csv, tsv or json", param)
    return _parse_rows(text, fmt, name or _stem(filename), param)


def _decode(data: bytes, param: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data:
        raise InputError(f"{param}: a binary file, not a CSV, TSV or JSON glossary", param)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise InputError(
                f"{param}: not UTF-8 text (byte {utf8_error.start}); save the file as UTF-8", param
            ) from None


def _format_of(filename: str | None, text: str) -> str:
    suffix = Path(filename).suffix.lower().lstrip(".") if filename else ""
    if suffix in ("csv", "tsv", "json"):
        return suffix
    if suffix == "tab":
        return "tsv"
    head = text.lstrip()
    if head[:1] in ("{", "["):
        return "json"
    first_line = head.split("\n", 1)[0]
    return "tsv" if "\t" in first_line else "csv"


def _stem(filename: str | None) -> str | None:
    return Path(filename).stem[:MAX_NAME_CHARS] if filename else None


def _parse_json(text: str, name: str | None, filename: str | None, param: str) -> GlossaryIn:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{param}.line.{exc.lineno}: not valid JSON ({exc.msg})", f"{param}.line.{exc.lineno}"
        ) from None
    if isinstance(value, list):
        if len(value) > MAX_TERMS:
            raise InputError(f"{param}: {len(value)} terms, at most {MAX_TERMS}", param)
        try:
            terms = [GlossaryTerm.model_validate(item) for item in value]
        except ValidationError:
            for index, item in enumerate(value):  # again one by one, to name the term that failed
                try:
                    GlossaryTerm.model_validate(item)
                except ValidationError as exc:
                    raise from_validation_error(exc, f"{param}.{index}") from None
            raise
        value = {"name": name or _stem(filename), "terms": terms}
    elif isinstance(value, dict):
        if name is not None or "name" not in value:
            value = {**value, "name": name or _stem(filename)}
    else:
        raise InputError(f"{param}: JSON must be a glossary object or a list of terms", param)
    if value.get("name") is None:
        raise InputError(f"{param}.name: the glossary needs a name", f"{param}.name")
    try:
        return GlossaryIn.model_validate(value)
    except ValidationError as exc:
        raise from_validation_error(exc, param) from None


def _parse_rows(text: str, fmt: str, name: str | None, param: str) -> GlossaryIn:
    """CSV/TSV rows to terms, each error naming the line (and column) it is on."""
    if fmt == "csv":
        rows: Any = csv.reader(io.StringIO(text, newline=""), strict=True)
    else:
        rows = (line.rstrip("\r").split("\t") for line in text.split("\n"))
    columns: tuple[str, ...] = COLUMNS
    terms: list[GlossaryTerm] = []
    lines: list[int] = []  # the line of each term
    line, first = 0, True
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            where = f"{param}.line.{rows.line_num}"
            raise InputError(f"{where}: {exc}", where) from None
        line = rows.line_num if fmt == "csv" else line + 1
        where = f"{param}.line.{line}"
        if not any(cell.strip() for cell in row):
            continue
        cells = [cell.strip().lower() for cell in row]
        if first and (cells[0] == "source" or ("source" in cells and set(cells) <= set(COLUMNS))):
            columns, first = _header(row, where), False
            continue
        first = False
        if len(row) > len(columns):
            raise InputError(
                f"{where}: {len(row)} columns, at most {len(columns)} ({','.join(columns)}); quote a value "
                f"holding a {'comma' if fmt == 'csv' else 'tab'}",
                where,
            )
        if len(terms) >= MAX_TERMS:
            raise InputError(f"{param}: more than {MAX_TERMS} terms (line {line})", param)
        terms.append(_term(dict(zip(columns, row, strict=False)), where))
        lines.append(line)
    duplicate = find_duplicate(terms)
    if duplicate is not None:
        where = f"{param}.line.{lines[duplicate.index]}.source"
        why = duplicate.describe(terms[duplicate.index], f"line {lines[duplicate.earlier]}")
        raise InputError(f"{where}: {why}", where)
    if not name:
        raise InputError(f"{param}.name: the glossary needs a name", f"{param}.name")
    try:
        return GlossaryIn(name=name, terms=terms)
    except ValidationError as exc:
        raise from_validation_error(exc, param) from None


def _header(row: list[str], where: str) -> tuple[str, ...]:
    names = tuple(cell.strip().lower() for cell in row)
    for index, column in enumerate(names):
        if column not in COLUMNS:
            raise InputError(f"{where}: unknown column {column!r} (columns: {', '.join(COLUMNS)})", where)
        if names.index(column) != index:
            raise InputError(f"{where}: column {column!r} appears twice", where)
    return names


def _term(cells: dict[str, str], where: str) -> GlossaryTerm:
    fields: dict[str, Any] = {key: value for key, value in cells.items() if key != "case_sensitive"}
    if not (fields.get("kind") or "").strip():
        fields.pop("kind", None)
    else:
        fields["kind"] = fields["kind"].strip().lower()
    flag = cells.get("case_sensitive", "").strip().lower()
    if flag not in _TRUE | _FALSE:
        raise InputError(f"{where}.case_sensitive: {flag!r} is not true/false", f"{where}.case_sensitive")
    fields["case_sensitive"] = flag in _TRUE
    try:
        return GlossaryTerm.model_validate(fields)
    except ValidationError as exc:
        raise from_validation_error(exc, where) from None
