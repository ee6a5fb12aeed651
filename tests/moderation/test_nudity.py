"""Sexual content in images: NudeNet's real 320n detector on real photos of products and people.

No explicit image is made or shipped. The detector is shown to run and find (non-sexual) body-part classes on
people photos, to agree with NudeNet's own reference code, and to flag none of the ordinary photos; the step
from an exposed-class detection to a hit is tested on synthetic detection records.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from moderation.image_policy import ImagePolicy, NudityPolicy
from moderation.nudity import Detection, NudityDetector, NuditySignals, nudenet_model_path, nudity_hits
from moderation.policy import Policy


@pytest.fixture(scope="module")
def policy() -> NudityPolicy:
    return ImagePolicy.load().nudity


@pytest.fixture(scope="module")
def detector(policy) -> NudityDetector:
    try:
        return NudityDetector(policy)
    except ImportError as exc:
        pytest.skip(f"optional nudity detector not installed: {exc}")


def people_photos() -> dict[str, np.ndarray]:
    """Photos of people that ship with installed packages (skimage; matplotlib's Grace Hopper when present)."""
    photos = {"astronaut": data.astronaut(), "cameraman": data.camera()}
    faces = (data.lfw_subset()[:100] * 255).astype(np.uint8)  # 100 real faces, 25x25 each, as a 10x10 collage
    collage = np.vstack([np.hstack(list(faces[row * 10 : row * 10 + 10])) for row in range(10)])
    photos["faces_collage"] = cv2.resize(collage, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    try:
        from matplotlib import cbook

        with cbook.get_sample_data("grace_hopper.jpg") as handle:
            photos["grace_hopper"] = np.asarray(Image.open(handle).convert("RGB"))
    except (ImportError, OSError):
        pass
    return photos


def product_photos() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    return {
        "coffee": data.coffee(),
        "coffee_1080x1440": cv2.resize(data.coffee(), (1080, 1440)),
        "chelsea": data.chelsea(),
        "rocket": data.rocket(),
        "motorcycle": data.stereo_motorcycle()[0],
        "china": china,
        "flower": flower,
        "hubble": data.hubble_deep_field(),
        "brick": data.brick(),
    }


def test_finds_faces_on_people_photos(detector):
    found = detector.detect(data.astronaut())
    faces = [d for d in found if d.label == "FACE_FEMALE"]
    assert faces and faces[0].score > 0.5
    x0, y0, x1, y1 = faces[0].box  # Eileen Collins' face: around (220, 130) in the 512x512 photo
    assert x0 < 220 < x1 and y0 < 130 < y1 and (x1 - x0) < 200
    assert any(d.label == "FACE_MALE" for d in detector.detect(data.camera()))  # greyscale input


def test_matches_nudenet_reference(detector):
    from nudenet import NudeDetector

    reference = NudeDetector()
    for rgb in (data.astronaut(), data.coffee(), people_photos()["faces_collage"]):
        bgr = cv2.cvtColor(rgb, cv2.COLOR_GRAY2BGR) if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        expected = sorted(
            ((d["class"], round(d["score"], 3), tuple(d["box"])) for d in reference.detect(bgr)), key=lambda r: -r[1]
        )
        ours = [
            (d.label, round(d.score, 3), (d.box[0], d.box[1], d.box[2] - d.box[0], d.box[3] - d.box[1]))
            for d in detector.detect(rgb)
        ]
        assert [r[0] for r in ours] == [r[0] for r in expected]
        for (_, score, box), (_, ref_score, ref_box) in zip(ours, expected, strict=True):
            assert abs(score - ref_score) < 2e-3 and np.allclose(box, ref_box, atol=1)


@pytest.mark.parametrize("group", ["people", "products"])
def test_ordinary_photos_are_not_flagged(detector, group):
    photos = people_photos() if group == "people" else product_photos()
    signals = NuditySignals(detector)
    for name, photo in photos.items():
        hits, reasons = signals([photo])
        assert hits == [] and reasons == [], name


def test_bytes_and_odd_images_never_raise(detector):
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([data.astronaut(), np.full((512, 512), 255, np.uint8)])).save(buffer, "PNG")
    tiny = io.BytesIO()
    Image.new("RGB", (1, 1)).save(tiny, "PNG")
    images = [
        buffer.getvalue(),
        tiny.getvalue(),
        b"not an image",
        np.zeros((1, 1), np.uint8),
        np.zeros((40, 20000, 3), np.uint8),
        np.zeros((9000, 17, 4), np.uint8),
    ]
    hits, reasons = NuditySignals(detector)(images)
    assert hits == []
    assert reasons == [
        "images[1] not checked for nudity: image is 1x1; at least 16x16 is needed",
        "images[2] not checked for nudity: not a readable image (UnidentifiedImageError)",
    ]
    # the RGBA bytes were decoded and run: the same face as the array
    assert [d.label for d in detector.detect(np.asarray(Image.open(buffer)))] == ["FACE_FEMALE"]


def test_exposed_class_detection_maps_to_a_hit(policy):
    sexual = Policy.load().thresholds("sexual")
    detections = [
        Detection("FACE_FEMALE", 0.9, (10, 10, 60, 60)),
        Detection("BUTTOCKS_EXPOSED", 0.8, (100, 200, 180, 260)),
        Detection("FEMALE_BREAST_EXPOSED", 0.6, (80, 100, 140, 160)),
    ]
    hits, reasons = nudity_hits("images[3]", detections, policy)
    assert len(hits) == 1
    hit = hits[0]
    assert hit.code == "sexual.image" and hit.source == "image"
    # the most severe class sets the score (not the detector's confidence); every counted detection is evidence
    assert hit.score == policy.classes["FEMALE_BREAST_EXPOSED"] >= sexual.block
    assert [(e.field, e.start, e.end, e.text) for e in hit.evidence] == [
        ("images[3]", 0, 0, "FEMALE_BREAST_EXPOSED"),
        ("images[3]", 0, 0, "BUTTOCKS_EXPOSED"),
    ]
    assert reasons[0] == "images[3] box [80, 100, 140, 160] shows FEMALE_BREAST_EXPOSED (detector score 0.60)"
    # buttocks alone: a review, not a block
    hits, _ = nudity_hits("images[0]", detections[1:2], policy)
    assert sexual.review <= hits[0].score < sexual.block


def test_covered_parts_faces_and_weak_detections_are_not_hits(policy):
    not_sexual = [
        Detection(label, 0.99, (0, 0, 10, 10)) for label in policy.model_labels if label not in policy.classes
    ]
    assert {"FEMALE_BREAST_COVERED", "FACE_MALE", "MALE_BREAST_EXPOSED", "BELLY_EXPOSED"} <= {
        d.label for d in not_sexual
    }
    weak = [Detection(label, policy.min_score - 0.01, (0, 0, 10, 10)) for label in policy.classes]
    assert nudity_hits("images[0]", not_sexual + weak, policy) == ([], [])
    just_enough = [Detection("MALE_GENITALIA_EXPOSED", policy.min_score, (0, 0, 10, 10))]
    assert nudity_hits("images[0]", just_enough, policy)[0][0].score == policy.classes["MALE_GENITALIA_EXPOSED"]


def test_policy_rejects_unknown_classes():
    raw = ImagePolicy.load().model_dump()
    raw["nudity"]["classes"] = {"NOT_A_CLASS": 0.9}
    with pytest.raises(ValueError, match="NOT_A_CLASS"):
        ImagePolicy.model_validate(raw)


def test_missing_package_says_how_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nudenet" else real(name, *a))
    with pytest.raises(ImportError, match="--no-deps nudenet==3.4.2"):
        nudenet_model_path()
    with pytest.raises(ImportError, match="make install-nsfw"):
        NuditySignals()


def test_model_with_other_classes_is_refused(detector, policy):
    shorter = policy.model_copy(update={"model_labels": policy.model_labels[:-1], "classes": {}})
    with pytest.raises(ValueError, match="predicts 18 classes"):
        NudityDetector(shorter, model_path=detector.model_path).detect(data.astronaut())
