"""`notestudio tryon`: writes images, lists shades, and bad input is one line + exit code 2."""

from __future__ import annotations

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def test_makeup_writes_before_after_and_landmarks(tmp_path, photo):
    src = tmp_path / "in.jpg"
    Image.fromarray(photo).save(src)
    out, marks = tmp_path / "out.png", tmp_path / "marks.json"
    args = ["tryon", "makeup", "-i", str(src), "-o", str(out), "-s", "LIP-102", "--before-after", "--landmarks"]
    result = runner.invoke(app, [*args, str(marks)])
    assert result.exit_code == 0, result.output
    assert np.asarray(Image.open(out)).shape == (512, 1024, 3) and marks.stat().st_size > 1000


def test_shades_json():
    result = runner.invoke(app, ["tryon", "shades", "--json", "--product", "lips"])
    assert result.exit_code == 0 and '"LIP-102"' in result.output and "BLS-" not in result.output


def test_errors_are_one_line_and_exit_2(tmp_path, photo):
    src = tmp_path / "in.png"
    Image.fromarray(photo).save(src)
    cases = [
        ["-i", str(tmp_path / "missing.png"), "-s", "LIP-102"],
        ["-i", str(src), "-s", "LIP-999"],
        ["-i", str(src), "-s", "LIP-102", "--intensity", "2"],
    ]
    for extra in cases:
        result = runner.invoke(app, ["tryon", "makeup", "-o", str(tmp_path / "o.png"), *extra])
        assert result.exit_code == 2, result.output
        assert result.output.strip().startswith("error:") and len(result.output.strip().splitlines()) == 1
