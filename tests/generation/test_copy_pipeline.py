"""`CopyService` end to end (template and tiny LLM writers) and the `notestudio copy` command."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from generation.copy.compliance import CompliancePass
from generation.copy.request import NoteRequest
from generation.copy.service import CopyService
from moderation import Moderator

PRODUCT = {"product": "山茶集轻薄水感防晒霜", "category": "防晒", "selling_points": ["清爽不油腻", "不泛白"], "seed": 1}


@pytest.fixture(scope="module")
def compliance() -> CompliancePass:
    return CompliancePass(Moderator.from_files())


@pytest.fixture(scope="module")
def llm_service(tiny_models, compliance):
    from models.loader import load_engine

    engine = load_engine(tiny_models["text"])
    yield CopyService(engine, compliance)
    engine.close()


def test_template_drafts_are_honest_and_checked(compliance):
    result = asyncio.run(CopyService(None, compliance).notes(NoteRequest(**{**PRODUCT, "n": 3})))
    drafts = result.drafts
    assert result.engine == "template" and result.model is None
    assert len(drafts) == 3 and [d.variant for d in drafts] == [0, 1, 2]
    assert {d.engine for d in drafts} == {"template"} and {d.model for d in drafts} == {None}
    assert all(d.compliance.status in {"clean", "rewritten"} and d.moderation["decision"] == "pass" for d in drafts)
    assert len({d.body for d in drafts}) == 3 and all(d.filled == [] for d in drafts)


def test_each_variant_seed_reproduces_it_alone(compliance):
    service = CopyService(None, compliance)
    drafts = asyncio.run(service.notes(NoteRequest(**{**PRODUCT, "n": 3, "seed": 40}))).drafts
    assert [d.seed for d in drafts] == [40, 41, 42]
    [again] = asyncio.run(service.notes(NoteRequest(**{**PRODUCT, "n": 1, "seed": drafts[2].seed}))).drafts
    assert again.body == drafts[2].body and again.titles == drafts[2].titles


def test_llm_variant_seed_reproduces_it_alone_in_a_batch_too(llm_service):
    request = NoteRequest(**{**PRODUCT, "n": 2, "seed": 5, "length": "short"})
    drafts = asyncio.run(llm_service.notes(request)).drafts
    assert [d.seed for d in drafts] == [5, 6]
    [single] = asyncio.run(llm_service.notes(request.variant(1, 5))).drafts
    assert (single.titles, single.body, single.hashtags) == (drafts[1].titles, drafts[1].body, drafts[1].hashtags)
    batch = asyncio.run(llm_service.batch([{**PRODUCT, "seed": 6, "length": "short"}], n=1))
    [from_batch] = batch.results[0].drafts
    assert (from_batch.titles, from_batch.body) == (single.titles, single.body)


def test_llm_raw_output_is_schema_valid_before_any_filling(llm_service):
    """The model's own answer (constrained decoding) already has 3 titles and 5-8 hashtags: nothing filled."""
    from generation.copy.schema import HASHTAGS_MAX, HASHTAGS_MIN

    request = NoteRequest(**{**PRODUCT, "length": "short", "n": 2})
    written = asyncio.run(llm_service.writer.write_many([(request, 11), (request, 12)]))
    for note in written:
        raw = json.loads(note.raw, strict=False)
        assert len(raw["titles"]) == 3 and HASHTAGS_MIN <= len(raw["hashtags"]) <= HASHTAGS_MAX
        assert note.filled == [] or set(note.filled) <= {"titles", "hashtags"}
        # Filling is reported exactly when the raw answer lacked distinct, non-blank items.
        distinct_titles = {t.strip()[:20] for t in raw["titles"] if t.strip()}
        assert ("titles" in note.filled) == (len(distinct_titles) < 3)


def test_filled_fields_are_reported():
    from generation.copy.llm import tidy
    from generation.copy.schema import NoteContent

    request = NoteRequest(product="防晒霜", category="防晒", selling_points=["清爽"])
    content, filled = tidy(NoteContent(["好用", "好用"], ["第一段", "第二段"], ["防晒"]), request)
    assert filled == ["titles", "hashtags"] and len(content.titles) == 3 and len(content.hashtags) >= 5
    complete = NoteContent(["一", "二", "三"], ["第一段"], ["a", "b", "c", "d", "e"])
    assert tidy(complete, request)[1] == []


def test_llm_batch_of_many_products_reports_progress(llm_service, tiny_models):
    records = [{**PRODUCT, "seed": i, "length": "short"} for i in range(3)] + [{"product": ""}]
    seen: list[tuple[int, int]] = []
    result = asyncio.run(llm_service.batch(records, on_progress=lambda done, total: seen.append((done, total))))
    assert [len(i.drafts or []) for i in result.results] == [1, 1, 1, 0] and seen[-1] == (3, 3)
    assert result.failed == 1 and result.results[3].error["param"] == "products.3.product"
    for item in result.results[:3]:
        [draft] = item.drafts
        assert draft.engine == "transformers" and draft.model == tiny_models["text"].name
        assert len(draft.titles) == 3 and 5 <= len(draft.hashtags) <= 8
        assert (draft.compliance.status == "flagged") == (draft.moderation["decision"] != "pass")


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NOTESTUDIO_COPY_MODEL", raising=False)
    return tmp_path


def test_cli_writes_jsonl_for_a_jsonl_of_products(cli_env):
    from cli.main import app

    products = cli_env / "skus.jsonl"
    lines = [PRODUCT, {"product": ""}, {**PRODUCT, "product": "Linen dress", "language": "en", "category": "dress"}]
    products.write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in lines), encoding="utf-8")
    out = cli_env / "notes.jsonl"
    result = CliRunner().invoke(app, ["copy", "--product", str(products), "-n", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["index"] for r in rows] == [0, 1, 2]
    assert len(rows[0]["drafts"]) == 2 and rows[0]["drafts"][0]["engine"] == "template"
    assert rows[1]["error"]["param"] == "product"


def test_cli_single_json_to_stdout_and_missing_file(cli_env):
    from cli.main import app

    product = cli_env / "p.json"
    product.write_text(json.dumps(PRODUCT, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(app, ["copy", "--product", str(product)])
    assert result.exit_code == 0
    assert json.loads(result.stdout.strip().splitlines()[0])["drafts"][0]["titles"]
    missing = CliRunner().invoke(app, ["copy", "--product", str(cli_env / "nope.json")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_bidi_controls_never_reach_a_note(compliance):
    """U+202E in a product name was echoed into generated titles (it flips how the text displays)."""
    tricky = {**PRODUCT, "product": "山茶集\u202e霜晒防\u202c轻薄水感", "brand": "\u2066山茶集\u2069", "n": 2}
    drafts = asyncio.run(CopyService(None, compliance).notes(NoteRequest(**tricky))).drafts
    for draft in drafts:
        text = "".join([*draft.titles, draft.body, *draft.hashtags])
        assert not any(ch in text for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), text
