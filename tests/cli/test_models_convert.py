"""`notestudio models convert`: a translation model to CTranslate2, the registry entry printed, one-line errors."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from models import ModelRegistry, load_engine, testing

runner = CliRunner()


@pytest.fixture(scope="module")
def registry_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("convert-cli")
    specs = [testing.build_tiny_opus_marian(root / "marian"), testing.build_tiny_marian(root / "plain")]
    path = root / "models.yaml"
    path.write_text(yaml.safe_dump({"models": [spec.model_dump(mode="json") for spec in specs]}))
    return path


def convert(*args: str):
    return runner.invoke(app, ["models", "convert", *args])


def test_help():
    result = convert("--help")
    assert result.exit_code == 0 and "--quantization" in result.output and "--force" in result.output


def test_prints_an_entry_that_loads_and_translates(registry_file, tmp_path):
    out = tmp_path / "opus-ct2"
    result = convert("tiny-opus-marian", "--out", str(out), "--registry", str(registry_file))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"# converted to {out}")
    [entry] = yaml.safe_load(result.stdout)
    assert entry["name"] == "tiny-opus-marian-ct2" and entry["engine"] == "ctranslate2"
    assert entry["source"] == str(out) and entry["options"]["compute_type"] == "int8"
    assert entry["options"]["pairs"] == [["zh-Hans", "en"]]
    # the printed entry is a valid registry entry
    registry = tmp_path / "models.yaml"
    registry.write_text(yaml.safe_dump({"models": [entry]}))
    engine = load_engine(ModelRegistry.from_yaml(registry).get("tiny-opus-marian-ct2"))
    assert engine.translate(["价格：99元，包邮"], "zh-Hans", "en", max_new_tokens=4)[0]


def test_quantization_and_force(registry_file, tmp_path):
    out = tmp_path / "f32"
    args = ["tiny-opus-marian", "--out", str(out), "--registry", str(registry_file)]
    assert convert(*args, "--quantization", "float32").exit_code == 0
    again = convert(*args)
    assert again.exit_code == 2
    assert again.output.count("\n") == 1 and "already exists; pass force=True (--force)" in again.output
    forced = convert(*args, "--quantization", "int8_float32", "--force")
    assert forced.exit_code == 0, forced.output
    assert yaml.safe_load(forced.stdout)[0]["options"]["compute_type"] == "int8_float32"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["absent"], "unknown model 'absent'"),
        (["tiny-marian"], "<pad> is the last token"),
    ],
)
def test_errors_are_one_line_exit_2(registry_file, tmp_path, args, message):
    result = convert(*args, "--out", str(tmp_path / "out"), "--registry", str(registry_file))
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and message in result.output and result.output.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_bad_quantization_is_a_usage_error(registry_file, tmp_path):
    result = convert("tiny-opus-marian", "--out", str(tmp_path / "o"), "--quantization", "int4")
    assert result.exit_code == 2 and "int4" in result.output
