"""`notestudio image cover|cutout|covers|templates` as a user runs them."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from generation.image.testing import iou, product_shot


@pytest.fixture
def photo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shot = product_shot("jar", "white", size=(600, 800), seed=5)
    path = tmp_path / "jar.png"
    cv2.imwrite(str(path), cv2.cvtColor(shot.rgb, cv2.COLOR_RGB2BGR))
    return path, shot


def test_cover_prints_what_made_it_and_is_reproducible(photo, tmp_path):
    path, _ = photo
    args = ["image", "cover", "-p", str(path), "-t", "秋冬保湿面霜推荐", "--price", "129", "--seed", "4"]
    first = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "a.png")])
    assert first.exit_code == 0, first.output
    line = json.loads(first.stdout.strip().splitlines()[-1])
    assert line["engine"] == "composer" and line["seed"] == 4 and (line["width"], line["height"]) == (1242, 1660)
    again = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "b.png"), "--template", line["template"]])
    assert again.exit_code == 0 and (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_cutout_and_errors_are_one_line_exit_2(photo, tmp_path):
    path, shot = photo
    result = CliRunner().invoke(app, ["image", "cutout", "-p", str(path), "-o", str(tmp_path / "cut.png")])
    assert result.exit_code == 0, result.output
    rgba = cv2.imread(str(tmp_path / "cut.png"), cv2.IMREAD_UNCHANGED)
    assert rgba.shape[2] == 4 and iou(rgba[..., 3], shot.mask) >= 0.9
    jpeg = CliRunner().invoke(app, ["image", "cutout", "-p", str(path), "-o", str(tmp_path / "cut.jpg")])
    assert jpeg.exit_code == 2 and "PNG" in jpeg.output
    bad = CliRunner().invoke(app, ["image", "cover", "-p", str(path), "-t", "x", "--template", "nope", "-o", "c.png"])
    assert bad.exit_code == 2 and "template" in bad.output and "Traceback" not in bad.output


def test_covers_for_a_jsonl_of_products(photo, tmp_path):
    path, _ = photo
    lines = [
        {"id": "a", "title": "好物分享", "photos": [path.name], "seed": 1},
        {"id": "b", "title": "", "photos": [path.name]},
        {"id": "c", "title": "第二款", "photos": [path.name], "preset": "9:16"},
    ]
    products = tmp_path / "products.jsonl"
    products.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    result = CliRunner().invoke(app, ["image", "covers", "-i", str(products), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in result.stdout.strip().splitlines() if x.startswith("{")]
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    assert rows[1]["error"]["param"] == "items.1.spec.title"
    cover = cv2.imread(str(tmp_path / "out" / rows[2]["artifact"]))
    assert cover.shape[:2] == (1920, 1080) and np.ptp(cover) > 0


def test_templates_are_listed():
    result = CliRunner().invoke(app, ["image", "templates", "--json"])
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)) >= 6


def test_scene_with_a_tiny_diffusion_model(photo, tmp_path, tiny_registry_file, tiny_models, monkeypatch):
    monkeypatch.setenv("NOTESTUDIO_MODELS", str(tiny_registry_file))
    path, _ = photo
    args = ["image", "scene", "--mode", "outpaint", "-p", str(path), "--prompt", "studio", "--preset", "9:16"]
    args += ["--steps", "2", "--seed", "3", "--model", tiny_models["diffusion"].name, "-o", str(tmp_path / "out")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["engine"] == "diffusers" and line["images"][0]["seed"] == 3
    assert cv2.imread(str(tmp_path / "out" / "scene-00.png")).shape[:2] == (1920, 1080)
    missing = CliRunner().invoke(app, ["image", "scene", "--mode", "text2img", "--prompt", "x", "-o", "o"])
    assert missing.exit_code == 2 and "NOTESTUDIO_IMAGE_MODEL" in missing.output
