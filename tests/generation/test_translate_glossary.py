"""Glossaries: the models (limits, duplicates, languages, control characters), the CSV/TSV/JSON parser (errors
naming the line and column), and the store (owners, 404-not-403, patch, limits) on SQLite, and on PostgreSQL
when NOTESTUDIO_TEST_POSTGRES_URL is set (`make test` sets it)."""

from __future__ import annotations

import json
import os
from datetime import UTC

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from common.errors import InputError, from_validation_error
from generation.translate.glossary import (
    MAX_FILE_BYTES,
    MAX_TERMS,
    GlossaryIn,
    GlossaryPatch,
    GlossaryTerm,
    TermKey,
    parse_glossary,
    read_glossary,
)
from generation.translate.glossary_store import MAX_GLOSSARIES, GlossaryStore


def invalid(data: dict) -> InputError:
    with pytest.raises(ValidationError) as caught:
        GlossaryIn.model_validate(data)
    return from_validation_error(caught.value)


def parse_error(data: bytes | str, **kwargs) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_glossary(data, **kwargs)
    return caught.value


# -- models ------------------------------------------------------------------------------------------------------
def test_terms_are_cleaned_and_languages_normalized():
    glossary = GlossaryIn(
        name="  Spring line ",
        terms=[
            {"source": " NoteStudio ", "kind": "brand"},
            {"source": "口红", "target": "lipstick", "target_lang": "EN"},
            {"source": "口红", "target": "唇膏", "target_lang": "zh_TW"},
            {"source": "面霜", "target": "   ", "target_lang": "zh"},
        ],
    )
    assert glossary.name == "Spring line"
    brand, english, traditional, blank = glossary.terms
    assert (brand.source, brand.target, brand.target_lang, brand.dnt) == ("NoteStudio", None, None, True)
    assert english.target_lang == "en" and traditional.target_lang == "zh-Hant"
    assert blank.target is None and blank.target_lang == "zh-Hans"  # a blank target: do not translate
    assert [t.model_dump()["source"] for t in glossary.terms] == ["NoteStudio", "口红", "口红", "面霜"]


@pytest.mark.parametrize(
    ("terms", "param", "message"),
    [
        ([{"source": "Apple"}, {"source": "APPLE", "target": "x"}], "terms.1.source", "same as terms.0"),
        ([{"source": "a", "target_lang": "zh"}, {"source": "A", "target_lang": "zh-CN"}], "terms.1.source", "zh-Hans"),
        ([{"source": "   "}], "terms.0.source", "at least 1 character"),
        ([{"source": "a\x07b"}], "terms.0.source", "control character"),
        ([{"source": "ok", "target": "line\nbreak"}], "terms.0.target", "U+000A"),
        ([{"source": "x" * 101}], "terms.0.source", "at most 100"),
        ([{"source": "ok", "target_lang": "klingon"}], "terms.0.target_lang", "not a supported language"),
        ([{"source": "ok", "kind": "colour"}], "terms.0.kind", "'brand'"),
        ([{"source": "ok", "targt": "typo"}], "terms.0.targt", "Extra inputs"),
    ],
)
def test_bad_terms_name_the_field(terms, param, message):
    error = invalid({"name": "g", "terms": terms})
    assert error.param == param and message in error.message, error.message


def test_duplicates_respect_case_sensitivity_and_language():
    GlossaryIn(
        name="g",
        terms=[
            {"source": "SKU-a", "case_sensitive": True},
            {"source": "SKU-A", "case_sensitive": True},  # both case-sensitive: two terms
            {"source": "Apple"},
            {"source": "Apple", "target": "苹果", "target_lang": "zh-Hans"},  # a language's own term
        ],
    )
    error = invalid({"name": "g", "terms": [{"source": "SKU-a", "case_sensitive": True}, {"source": "sku-A"}]})
    assert error.param == "terms.1.source"


def test_name_and_term_count_limits():
    assert invalid({"name": "", "terms": []}).param == "name"
    assert invalid({"name": "n" * 81}).param == "name"
    error = invalid({"name": "big", "terms": [{"source": f"t{i}"} for i in range(MAX_TERMS + 1)]})
    assert error.param == "terms" and str(MAX_TERMS) in error.message
    assert len(GlossaryIn(name="full", terms=[{"source": f"t{i}"} for i in range(MAX_TERMS)]).terms) == MAX_TERMS


def test_terms_for_a_language_prefer_its_own_terms():
    from generation.translate.glossary import GlossaryOut

    now = __import__("datetime").datetime.now(UTC)
    glossary = GlossaryOut(
        id="0" * 32,
        owner_key="k",
        name="g",
        term_count=4,
        created_at=now,
        updated_at=now,
        terms=[
            GlossaryTerm(source="Lipstick", target="口红"),
            GlossaryTerm(source="lipstick", target="唇膏", target_lang="zh-Hant"),
            GlossaryTerm(source="NoteStudio", kind="brand"),
            GlossaryTerm(source="cream", target="crème", target_lang="fr"),
        ],
    )
    assert [(t.source, t.target) for t in glossary.terms_for("zh-TW")] == [
        ("lipstick", "唇膏"),
        ("NoteStudio", None),
    ]
    assert [t.target for t in glossary.terms_for("zh")] == ["口红", None]
    sent = GlossaryIn(name="g", terms=glossary.terms)
    assert sent.terms_for("zh-Hant") == glossary.terms_for("zh-Hant")
    assert TermKey(source="LIPSTICK").matches(glossary.terms[0])


# -- files -------------------------------------------------------------------------------------------------------
def test_csv_with_header_quotes_bom_and_blank_lines():
    data = (
        "\ufeffsource,target,target_lang,kind,case_sensitive\n"
        'NoteStudio,,,brand,\n"Hello, world",你好,zh,term,no\n\nSKU-2291,,,sku,yes\n'
    ).encode()
    glossary = parse_glossary(data, filename="spring.csv")
    assert glossary.name == "spring"
    assert [(t.source, t.target, t.target_lang, t.kind, t.case_sensitive) for t in glossary.terms] == [
        ("NoteStudio", None, None, "brand", False),
        ("Hello, world", "你好", "zh-Hans", "term", False),
        ("SKU-2291", None, None, "sku", True),
    ]


def test_csv_without_header_columns_in_any_order_and_gb18030():
    assert [t.source for t in parse_glossary("a,b\nc\n", name="n").terms] == ["a", "c"]
    reordered = parse_glossary("kind,source\nbrand,Acme\n", name="n")
    assert reordered.terms[0].kind == "brand" and reordered.terms[0].source == "Acme"
    excel = parse_glossary("口红,lipstick,en\n".encode("gb18030"), filename="excel.csv")
    assert excel.terms[0].source == "口红" and excel.terms[0].target == "lipstick"


def test_tsv_and_format_detection():
    glossary = parse_glossary("@notestudio\t\t\tmention\nhttps://x.test/a,b\t\t\turl\n", name="t")
    assert [t.kind for t in glossary.terms] == ["mention", "url"]
    assert glossary.terms[1].source == "https://x.test/a,b"  # TSV: commas are text
    assert parse_glossary("a\tb\n", file_format="tsv", name="t").terms[0].target == "b"


@pytest.mark.parametrize(
    ("data", "param", "message"),
    [
        ("a,b\nc,d\ne,f,en,term,yes,extra\n", "glossary.line.3", "6 columns"),
        ('a,b\n"c"x,d\n', "glossary.line.2", "expected"),
        ("a,b\n,d\n", "glossary.line.2.source", "at least 1 character"),
        ("a,b\nc,d,xx\n", "glossary.line.2.target_lang", "not a supported language"),
        ("a,b,,sku,maybe\n", "glossary.line.1.case_sensitive", "not true/false"),
        ("a,b,,colour\n", "glossary.line.1.kind", "'brand'"),
        ("source,target,colour\n", "glossary.line.1", "unknown column 'colour'"),
        ("Apple,x\nbanana,y\nAPPLE,z\n", "glossary.line.3.source", "same as line 1"),
        ("a\x01,b\n", "glossary.line.1.source", "control character"),
    ],
)
def test_malformed_csv_names_the_line(data, param, message):
    error = parse_error(data, file_format="csv", name="g")
    assert error.param == param and message in error.message and error.message.startswith(param), error.message


def test_file_limits_and_unreadable_files():
    too_many = "\n".join(f"t{i}" for i in range(MAX_TERMS + 1))
    error = parse_error(too_many, file_format="csv", name="g")
    assert error.param == "glossary" and f"line {MAX_TERMS + 1}" in error.message
    large = parse_error(b"a," + b"x" * MAX_FILE_BYTES, name="g")
    assert large.status == 413 and large.param == "glossary"
    assert "binary" in parse_error(b"\x89PNG\x00\x00", name="g").message
    assert parse_error("a,b\n", file_format="csv").param == "glossary.name"  # no name, no file name


def test_json_object_and_list():
    obj = {"name": "From JSON", "terms": [{"source": "NoteStudio", "kind": "brand"}]}
    assert parse_glossary(json.dumps(obj), filename="g.json").name == "From JSON"
    assert parse_glossary(json.dumps(obj), filename="g.json", name="Override").name == "Override"
    listed = parse_glossary(
        json.dumps([{"source": "a", "target": "b", "target_lang": "en"}]).encode(), filename="x.json"
    )
    assert listed.name == "x" and listed.terms[0].target_lang == "en"
    sniffed = parse_glossary(json.dumps(obj).encode("utf-16"), filename="upload")  # no extension: content
    assert sniffed.terms[0].source == "NoteStudio"


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ('{"name": "g", "terms": [{"source": "a"}, {"source": "A"}]}', "glossary.terms.1.source"),
        ('[{"source": "a"}, {"target": "b"}]', "glossary.1.source"),
        ('{"name": "g", "terms": [{"source": "a"}],\n "colour": 1}', "glossary.colour"),
        ('{"name": "g",\n "terms": [}', "glossary.line.2"),
        ("3", "glossary"),
    ],
)
def test_malformed_json_names_the_field(data, param):
    assert parse_error(data, file_format="json", filename="g.json").param == param


def test_read_glossary_from_disk(tmp_path):
    path = tmp_path / "brands.tsv"
    path.write_text("source\ttarget\nNoteStudio\t\n", encoding="utf-8")
    assert read_glossary(path).name == "brands"
    with pytest.raises(InputError, match="no file"):
        read_glossary(tmp_path / "missing.csv")


# -- store -------------------------------------------------------------------------------------------------------
STORE_URLS = ["sqlite"] + (
    [os.environ["NOTESTUDIO_TEST_POSTGRES_URL"]] if os.environ.get("NOTESTUDIO_TEST_POSTGRES_URL") else []
)


@pytest.fixture(params=STORE_URLS)
def store(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'notestudio.db'}" if request.param == "sqlite" else request.param
    glossaries = GlossaryStore(url)
    if request.param != "sqlite":  # a shared server: start from empty tables
        with glossaries.engine.begin() as connection:
            connection.execute(text("DELETE FROM glossary_terms"))
            connection.execute(text("DELETE FROM glossaries"))
    yield glossaries
    glossaries.close()


def brands(name: str = "brands", n: int = 3) -> GlossaryIn:
    return GlossaryIn(name=name, terms=[GlossaryTerm(source=f"Brand{i}", kind="brand") for i in range(n)])


def test_store_crud_and_owners(store):
    created = store.create("alice", brands())
    assert created.owner_key == "alice" and created.term_count == 3 and created.created_at.tzinfo is not None
    assert store.get("alice", created.id) == created
    assert store.get("bob", created.id) is None  # not hers: not found
    assert store.get(None, created.id) == created  # admin reads every key's
    with pytest.raises(InputError) as caught:
        store.require("bob", created.id)
    assert caught.value.status == 404 and caught.value.param == "glossary_id"

    assert store.replace("bob", created.id, brands("taken", 1)) is None
    assert store.patch("bob", created.id, GlossaryPatch(add=[GlossaryTerm(source="x")])) is None
    assert store.delete("bob", created.id) is False
    assert store.get("alice", created.id).name == "brands"

    replaced = store.replace("alice", created.id, GlossaryIn(name="renamed", terms=[{"source": "Only"}]))
    assert replaced.name == "renamed" and [t.source for t in replaced.terms] == ["Only"]
    assert replaced.updated_at >= replaced.created_at == created.created_at

    other = store.create("bob", brands("bob's", 0))
    assert [g.id for g in store.list("alice")] == [created.id]
    assert [(g.id, g.term_count) for g in store.list("bob")] == [(other.id, 0)]
    assert {g.id for g in store.list(None)} == {created.id, other.id}

    assert store.delete("alice", created.id) is True
    assert store.get("alice", created.id) is None and store.delete("alice", created.id) is False
    with store.engine.connect() as connection:  # its terms went with it
        left = connection.execute(text("SELECT count(*) FROM glossary_terms WHERE glossary_id = :g"), {"g": created.id})
        assert left.scalar() == 0


def test_store_keeps_term_order_and_fields(store):
    terms = [
        GlossaryTerm(source=f"t{i:04d}", target=f"T{i}", target_lang="en" if i % 2 else None, kind="product")
        for i in range(MAX_TERMS)
    ]
    created = store.create("alice", GlossaryIn(name="full", terms=terms))
    assert store.get("alice", created.id).terms == terms


def test_store_patch(store):
    created = store.create("alice", brands())
    patched = store.patch(
        "alice",
        created.id,
        GlossaryPatch(
            remove=[TermKey(source="BRAND1")], add=[GlossaryTerm(source="new", target="neu", target_lang="de")]
        ),
    )
    assert [t.source for t in patched.terms] == ["Brand0", "Brand2", "new"]
    with pytest.raises(InputError) as missing:
        store.patch("alice", created.id, GlossaryPatch(remove=[TermKey(source="new")]))  # it is the `de` term
    assert missing.value.param == "remove.0"
    with pytest.raises(InputError) as duplicate:
        store.patch("alice", created.id, GlossaryPatch(add=[GlossaryTerm(source="BRAND0")]))
    assert duplicate.value.param == "add.0.source" and "a term the glossary has" in duplicate.value.message
    too_many = [GlossaryTerm(source=f"x{i}") for i in range(MAX_TERMS - 2)]
    with pytest.raises(InputError) as full:
        store.patch("alice", created.id, GlossaryPatch(add=too_many))
    assert full.value.param == "add" and full.value.status == 422
    assert store.get("alice", created.id).term_count == 3  # a refused change changes nothing


def test_store_limits_glossaries_per_key(store):
    for i in range(MAX_GLOSSARIES):
        store.create("alice", brands(f"g{i}", 0))
    with pytest.raises(InputError) as caught:
        store.create("alice", brands("one more", 0))
    assert caught.value.status == 409 and str(MAX_GLOSSARIES) in caught.value.message
    assert store.count("alice") == MAX_GLOSSARIES
    store.create("bob", brands("bob's own", 0))  # the limit is per key
