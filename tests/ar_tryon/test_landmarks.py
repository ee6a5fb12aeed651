"""Landmarks on real photos: 478 points, small faces in big frames, several faces, transforms, pose, masks."""

from __future__ import annotations

import numpy as np
import pytest

from ar_tryon.landmarks import (
    FaceLandmarker,
    FaceLandmarkerOptions,
    PoseIndex,
    PoseLandmarker,
    SelfieSegmenter,
)
from ar_tryon.makeup.regions import LIPS_OUTER
from tests.ar_tryon.conftest import VARIANTS, astronaut, place


@pytest.fixture(scope="module")
def landmarker():
    with FaceLandmarker(FaceLandmarkerOptions(max_num_faces=4, smoothing=None)) as lm:
        yield lm


def mouth_centre(face) -> np.ndarray:
    return face.xy[LIPS_OUTER].mean(axis=0)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_one_face_with_478_points_in_every_variant(landmarker, photo, name):
    faces = landmarker.process_image(VARIANTS[name](photo))
    assert len(faces) == 1
    assert faces[0].points.shape == (478, 3)


@pytest.mark.parametrize(("width", "height", "scale"), [(1280, 720, 1.0), (1920, 1080, 0.8), (1920, 1080, 0.5)])
def test_small_face_in_a_big_frame_maps_back_to_frame_pixels(landmarker, photo, width, height, scale):
    reference = mouth_centre(landmarker.process_image(photo)[0])
    frame, (x, y) = place(photo, width, height, scale)
    face = landmarker.process_image(frame)[0]
    expected = reference * scale + np.array([x, y])
    assert np.linalg.norm(mouth_centre(face) - expected) < 3.0 + 4 * (1 - scale)


def test_mirrored_photo_gives_mirrored_landmarks(landmarker, photo):
    w = photo.shape[1]
    a = mouth_centre(landmarker.process_image(photo)[0])
    b = mouth_centre(landmarker.process_image(np.ascontiguousarray(photo[:, ::-1]))[0])
    assert abs(a[0] - (w - 1 - b[0])) < 3 and abs(a[1] - b[1]) < 3


def test_several_faces_largest_first_and_largest_only_by_default(photo):
    import cv2

    frame = np.full((720, 1280, 3), 90, np.uint8)
    frame[100:612, 40:552] = photo
    small = cv2.resize(photo, (300, 300), interpolation=cv2.INTER_AREA)
    frame[200:500, 800:1100] = small
    with FaceLandmarker(FaceLandmarkerOptions(max_num_faces=4, smoothing=None)) as many:
        faces = many.process_image(frame)
    assert len(faces) == 2 and faces[0].area > faces[1].area
    assert faces[0].box[0] < 552 and faces[1].box[0] > 800
    with FaceLandmarker(FaceLandmarkerOptions(max_num_faces=1, smoothing=None)) as one:
        only = one.process_image(frame)
    assert len(only) == 1 and only[0].box[0] < 552


def test_no_face_gives_an_empty_list(landmarker):
    assert landmarker.process_image(np.full((480, 640, 3), 128, np.uint8)) == []


def test_options_ranges_are_checked():
    with pytest.raises(ValueError, match="max_num_faces"):
        FaceLandmarkerOptions(max_num_faces=0)
    with pytest.raises(ValueError, match="crop_scale"):
        FaceLandmarkerOptions(crop_scale=9)


def test_video_mode_tracks_a_small_face_without_redetecting(photo):
    frame, _ = place(photo, 1280, 720)
    with FaceLandmarker() as lm:
        counts = [len(lm.process_frame(frame, t / 30)) for t in range(5)]
        assert counts == [1] * 5
        assert lm.process_frame(np.full_like(frame, 90), 5 / 30) == []


def test_pose_finds_the_shoulders_and_segmentation_the_person():
    img = astronaut()
    with PoseLandmarker() as pose:
        body = pose.process_image(img)
    assert body is not None
    assert body.visible(PoseIndex.LEFT_SHOULDER) and body.visible(PoseIndex.RIGHT_SHOULDER)
    # The astronaut faces the camera: her right shoulder is on the image's left.
    assert body.xy(PoseIndex.RIGHT_SHOULDER)[0] < body.xy(PoseIndex.LEFT_SHOULDER)[0]
    with SelfieSegmenter() as seg:
        mask = seg.process_image(img)
    assert mask.shape == img.shape[:2] and mask.dtype == np.float32
    face_centre = (170, 230)  # (row, col) between the eyes
    assert mask[face_centre] > 0.5 and mask[40, 20] < 0.5  # person vs the flag in the corner
