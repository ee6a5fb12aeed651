"""`notestudio translate` as a user runs it: texts, a note, a JSONL file with a bad line, a glossary, errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cli.main import app


def _lines(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.strip().splitlines() if line.startswith("{")]


def test_texts_with_a_glossary_and_a_variant(tmp_path):
    (tmp_path / "g.csv").write_text("source,target,target_lang,kind\n雅诗兰黛,,,brand\n", encoding="utf-8")
    args = ["translate", "--text", "雅诗兰黛 软件", "--text", "鼠标", "--to", "zh-Hant", "--variant", "tw"]
    result = CliRunner().invoke(app, [*args, "--glossary", str(tmp_path / "g.csv")])
    assert result.exit_code == 0, result.output
    assert [r["text"] for r in _lines(result)] == ["雅诗兰黛 軟體", "滑鼠"]


def test_a_note_and_a_jsonl_file(tmp_path):
    note = {"titles": ["夏日防晒"], "body": "1. 软件\n\n✅ 鼠标", "hashtags": ["防晒"]}
    (tmp_path / "note.json").write_text(json.dumps({"drafts": [note]}, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(app, ["translate", "--note", str(tmp_path / "note.json"), "--to", "zh-Hant"])
    assert result.exit_code == 0, result.output
    assert _lines(result)[0]["note"]["body"] == "1. 軟件\n\n✅ 鼠標"
    (tmp_path / "in.jsonl").write_text('{"text": "软件"}\nnot json\n{"text": ""}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["translate", "-i", str(tmp_path / "in.jsonl"), "--to", "zh-Hant", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows[0]["text"] == "軟件" and "error" in rows[1] and rows[2]["error"]["param"] == "text"


def test_errors_are_one_line_and_exit_2(tmp_path):
    cases = [
        ["translate", "--to", "en"],
        ["translate", "--text", "hi", "--to", "qq"],
        ["translate", "--text", "hello there", "--from", "en", "--to", "ja"],
        ["translate", "--text", "hi", "--to", "en", "--glossary", str(tmp_path / "missing.csv")],
    ]
    for args in cases:
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2 and "error:" in result.output and "Traceback" not in result.output, args
