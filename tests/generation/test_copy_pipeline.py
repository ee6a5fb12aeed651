"""`CopyPipeline` end to end (template and tiny LLM writers) and the `notestudio copy` command."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from generation.copy.pipeline import CopyPipeline
from generation.copy.request import NoteRequest

PRODUCT = {"product": "山茶集轻薄水感防晒霜", "category": "防晒", "selling_points": ["清爽不油腻", "不泛白"], "seed": 1}


def test_template_pipeline_drafts_are_honest_and_checked():
    drafts = CopyPipeline()(NoteRequest(**{**PRODUCT, "n": 3}))
    assert len(drafts) == 3 and [d.variant for d in drafts] == [0, 1, 2]
    assert {d.engine for d in drafts} == {"template"} and {d.model for d in drafts} == {None}
    assert all(d.compliance.status in {"clean", "rewritten"} and d.moderation["decision"] == "pass" for d in drafts)
    assert len({d.body for d in drafts}) == 3


def test_llm_pipeline_batches_many_products(tiny_models):
    from models.loader import load_engine

    engine = load_engine(tiny_models["text"])
    pipeline = CopyPipeline(engine)
    requests = [NoteRequest(**{**PRODUCT, "seed": i, "length": "short"}) for i in range(3)]
    seen: list[tuple[int, int]] = []
    results = pipeline.many(requests, on_progress=lambda done, total: seen.append((done, total)))
    assert [len(r) for r in results] == [1, 1, 1] and seen[-1] == (3, 3)
    for [draft] in results:
        assert draft.engine == "transformers" and draft.model == tiny_models["text"].name
        assert len(draft.titles) == 3 and 5 <= len(draft.hashtags) <= 8
        assert draft.compliance.status in {"clean", "rewritten", "flagged"}


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
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
