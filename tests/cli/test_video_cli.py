"""`notestudio video slideshow|clip` as a user runs them."""

from __future__ import annotations

import json

import av
import cv2
import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from generation.image.testing import product_shot

SMALL = ["--width", "360", "--fps", "12", "--duration", "6"]


@pytest.fixture
def photos(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = []
    for i, kind in enumerate(["jar", "box"]):
        path = tmp_path / f"{kind}.jpg"
        cv2.imwrite(
            str(path), cv2.cvtColor(product_shot(kind, "white", size=(600, 800), seed=i).rgb, cv2.COLOR_RGB2BGR)
        )
        paths.append(str(path))
    return paths


def test_slideshow_from_a_note_file(photos, tmp_path):
    note = {"titles": ["秋冬保湿面霜推荐"], "selling_points": ["一抹化水", "不黏腻"], "hashtags": ["#面霜", "保湿"]}
    (tmp_path / "note.json").write_text(json.dumps({"drafts": [note]}, ensure_ascii=False))
    out = tmp_path / "out" / "v.mp4"
    args = ["video", "slideshow", "-p", photos[0], "-p", photos[1], "--note", "note.json", "--seed", "2", *SMALL]
    result = CliRunner().invoke(app, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["engine"] == "slideshow" and line["seed"] == 2 and line["frames"] == 72 and line["out"] == str(out)
    with av.open(str(out)) as container:
        assert (container.streams.video[0].width, container.streams.video[0].height) == (360, 640)
    assert [p.name for p in out.parent.iterdir()] == ["v.mp4"]  # no partial left beside it


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--duration", "600"], "duration"),
        (["--caption", "x" * 50], "lines.0"),
        (["--audio", "missing.mp3"], "--audio"),
        (["-p", "nope.jpg"], "--photo"),
        (["--note", "bad.json"], "--note"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(photos, tmp_path, extra, message):
    (tmp_path / "bad.json").write_text("{not json")
    result = CliRunner().invoke(app, ["video", "slideshow", "-p", photos[0], *SMALL, *extra, "-o", "v.mp4"])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "v.mp4").exists()


def test_clip_needs_a_model_and_runs_a_tiny_one(photos, tmp_path, monkeypatch):
    result = CliRunner().invoke(app, ["video", "clip", "-p", photos[0], "-o", "c.mp4"])
    assert result.exit_code == 2 and "NOTESTUDIO_VIDEO_MODEL" in result.output
    pytest.importorskip("ftfy", reason="Wan pipelines clean prompts with ftfy")
    from models import testing

    spec = testing.build_tiny_wan_i2v_pipeline(tmp_path / "wan", options={"long_side": 112, "num_frames": 5})
    (tmp_path / "models.yaml").write_text(yaml.safe_dump({"models": [spec.model_dump(mode="json")]}))
    monkeypatch.setenv("NOTESTUDIO_MODELS", str(tmp_path / "models.yaml"))
    args = ["video", "clip", "-p", photos[0], "--prompt", "turns", "--steps", "2", "--seed", "1", "--model", spec.name]
    result = CliRunner().invoke(app, [*args, "-o", "c.mp4"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["model"] == spec.name and line["frames"] == 5 and line["height"] == 112
