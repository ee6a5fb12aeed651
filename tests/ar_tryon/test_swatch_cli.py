"""`notestudio tryon shade-from-swatch`: the measured shade as JSON; no swatch is one line + exit 2."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image
from skimage import data
from skimage.color import deltaE_ciede2000
from typer.testing import CliRunner

from ar_tryon.swatch import hex_to_lab
from cli.main import app
from tests.ar_tryon.swatch_render import COOL, PAPER, jpeg, render_swatch

runner = CliRunner()


def test_prints_the_shade_json(tmp_path):
    photo = tmp_path / "swatch.jpg"
    photo.write_bytes(jpeg(render_swatch("#7D2550", PAPER, "shimmer", COOL, seed=6)))
    result = runner.invoke(
        app, ["tryon", "shade-from-swatch", "--photo", str(photo), "--name", "Berry", "--kind", "blush"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["swatch"]["finish"] == "shimmer" and out["swatch"]["white_balanced"] is True
    assert deltaE_ciede2000(np.array(hex_to_lab("#7D2550")), np.array(out["swatch"]["lab"])) <= 5
    assert out["shade"] == {"name": "Berry", "hex": out["swatch"]["hex"], "kind": "blush", "finish": "shimmer"}


def test_no_swatch_is_one_line_and_exit_2(tmp_path):
    photo = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(photo)
    for args in (
        ["--photo", str(photo)],
        ["--photo", str(tmp_path / "missing.jpg")],
        ["--photo", str(photo), "--background", "x"],
    ):
        result = runner.invoke(app, ["tryon", "shade-from-swatch", *args])
        assert result.exit_code == 2, result.output
        assert result.output.strip().startswith("error:") and len(result.output.strip().splitlines()) == 1
