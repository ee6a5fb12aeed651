"""Slideshow videos end to end: what PyAV reads back (size, fps, codec, duration, faststart, AAC), colours,
the product kept in frame, captions inside the safe area, determinism, audio checks, cancel."""

from __future__ import annotations

import io
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from common.errors import InputError
from generation.image.testing import product_shot
from generation.video.audio import SAMPLE_RATE, load_audio
from generation.video.captions import Captioner
from generation.video.schema import SlideshowSpec, captions_from_note
from generation.video.service import VideoService

SMALL = {"width": 360, "fps": 12, "duration": 6.0}


@pytest.fixture(scope="module")
def service():
    return VideoService()


@pytest.fixture(scope="module")
def photos():
    shots = [product_shot(kind, bg, size=(600, 800), seed=i) for i, (kind, bg) in
             enumerate([("bottle", "white"), ("box", "busy"), ("jar", "white")])]  # fmt: skip
    return [cv2.imencode(".png", cv2.cvtColor(s.rgb, cv2.COLOR_RGB2BGR))[1].tobytes() for s in shots]


def _tone(seconds: float, fmt: str = "wav", codec: str = "pcm_s16le") -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=SAMPLE_RATE)
        stream.layout = "stereo"
        t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for pos in range(0, len(wave), 1024):
            chunk = np.ascontiguousarray(np.stack([wave[pos : pos + 1024]] * 2))
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate = SAMPLE_RATE
            frame.pts = pos
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_the_file_is_what_it_says(service, photos, tmp_path):
    words = {"title": "夏日通勤防晒", "lines": ["清爽不油腻", "不泛白"], "hashtags": ["防晒", "通勤"]}
    spec = SlideshowSpec(**words, seed=3, **SMALL)
    out = tmp_path / "v.mp4"
    info = service.make(photos, spec, out, audio=_tone(3.0))
    assert info.engine == "slideshow" and info.model is None and info.audio and info.seed == 3
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: the index first, so it plays while loading
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.name, video.width, video.height) == ("h264", 360, 640)
        assert video.codec_context.pix_fmt == "yuv420p" and video.average_rate == 12
        assert abs(float(video.duration * video.time_base) - 6.0) <= 0.1
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "aac" and abs(float(audio.duration * audio.time_base) - 6.0) <= 0.1
    assert len(_frames(out)) == 72 == info.frames


def test_same_seed_same_video(service, photos, tmp_path):
    spec = SlideshowSpec(title="好物分享", lines=["一", "二二"], seed=11, **SMALL)
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    service.make(photos, spec, a)
    service.make(photos, spec, b)
    assert a.read_bytes() == b.read_bytes()
    c = tmp_path / "c.mp4"
    service.make(photos, spec.model_copy(update={"seed": 12}), c)
    assert c.read_bytes() != a.read_bytes()


def test_colours_survive_the_round_trip(service, tmp_path):
    """A flat photo decodes back to its own colour (BT.601 limited range, tagged as such)."""
    colours = [(200, 40, 40), (30, 150, 60), (40, 60, 190), (240, 240, 235)]
    flats = [cv2.imencode(".png", np.full((640, 360, 3), c[::-1], np.uint8))[1].tobytes() for c in colours]
    out = tmp_path / "flat.mp4"
    spec = SlideshowSpec(transition="cut", seed=1, **SMALL)
    service.make(flats, spec, out)
    frames = _frames(out)
    for k, colour in enumerate(colours):
        middle = frames[round((k + 0.5) * len(frames) / len(colours))]
        got = middle[200:440, 60:300].reshape(-1, 3).mean(axis=0)
        assert np.abs(got - colour).max() <= 6, (colour, got)


def test_the_product_stays_in_frame(service, tmp_path):
    """A magenta product near a photo's corner is whole in every frame of its slide."""
    rng = np.random.default_rng(0)
    photo = rng.integers(60, 120, (1200, 900, 3), dtype=np.uint8)  # a busy grey-ish background
    photo[100:300, 620:820] = (230, 20, 200)
    out = tmp_path / "corner.mp4"
    service.make([cv2.imencode(".png", photo[..., ::-1])[1].tobytes()], SlideshowSpec(seed=2, **SMALL), out)
    frames = _frames(out)
    for frame in frames[6:-6]:
        magenta = (frame[..., 0] > 170) & (frame[..., 1] < 90) & (frame[..., 2] > 140)
        ys, xs = np.nonzero(magenta)
        assert len(xs) > 0
        assert xs.min() > 0 and ys.min() > 0 and xs.max() < frame.shape[1] - 1 and ys.max() < frame.shape[0] - 1
        side = np.sqrt(magenta.sum())
        assert side >= 0.8 * 200 * min(360 / 900, 640 / 1200)  # whole (never cropped to a sliver)


@pytest.mark.parametrize("width", [360, 720, 1080])
def test_captions_sit_inside_the_safe_area(width):
    captioner = Captioner(width, round(width * 16 / 9 / 2) * 2)
    safe = captioner.layout.safe_box(captioner.width, captioner.height)
    texts = ["清爽", "一抹成膜不泛白，敏感肌也能用", "SPF50+ PA++++ 高倍防晒 通勤党必备"]
    texts.append("#防晒 #通勤 #夏日好物 #敏感肌")
    for text in texts:
        picture = captioner.picture(text, "lines.0", hashtags=text.startswith("#"))
        assert safe.contains(picture.box), (text, picture.box, safe)
    with pytest.raises(InputError) as error:
        captioner.picture("很长" * 40, "lines.2")
    assert error.value.param == "lines.2"


def test_a_note_becomes_captions():
    note = {
        "titles": ["夏天通勤必备的清爽防晒☀️", "b", "c"],
        "body": "今天分享一支防晒！\n\n质地清爽，上脸不油腻。\n一抹成膜，不泛白。",
        "hashtags": ["#防晒", "通勤", "夏日好物"],
        "selling_points": ["清爽不油腻"],
    }
    captions = captions_from_note(note)
    assert captions["title"] == "夏天通勤必备的清爽防晒☀️"
    assert captions["lines"][0] == "清爽不油腻" and 2 <= len(captions["lines"]) <= 4
    assert all(len(line) <= 40 for line in captions["lines"])
    assert captions["hashtags"] == ["防晒", "通勤", "夏日好物"]
    SlideshowSpec(**captions)  # always a valid spec


def test_audio_is_trimmed_faded_and_padded():
    track = load_audio(_tone(10.0), duration=6.0, start=2.0, fade=1.0)
    assert track.samples.shape == (2, 6 * SAMPLE_RATE)
    assert abs(track.samples[:, :100]).max() < 0.01 and abs(track.samples[:, -100:]).max() < 0.01  # faded
    short = load_audio(_tone(2.0), duration=6.0)
    assert short.samples.shape[1] == 6 * SAMPLE_RATE and abs(short.samples[:, 3 * SAMPLE_RATE :]).max() == 0


@pytest.mark.parametrize(
    ("data", "kwargs", "param"),
    [
        (b"", {}, "audio"),
        (b"this is not audio at all" * 100, {}, "audio"),
        ("png", {}, "audio"),
        ("tone", {"start": 30.0}, "audio_start"),
    ],
)
def test_bad_audio_is_refused_naming_the_field(data, kwargs, param):
    if data == "png":
        data = cv2.imencode(".png", np.zeros((20, 20, 3), np.uint8))[1].tobytes()
    elif data == "tone":
        data = _tone(2.0)
    with pytest.raises(InputError) as error:
        load_audio(data, duration=6.0, **kwargs)
    assert error.value.param == param


def test_bad_photos_are_refused_naming_the_field(service, photos):
    spec = SlideshowSpec(**SMALL)
    for bad, param in [([], "photos"), (photos * 5, "photos"), ([photos[0], b"junk"], "photos.1")]:
        with pytest.raises(InputError) as error:
            service.check(bad, spec)
        assert error.value.param == param


def test_a_cancel_stops_at_once_and_leaves_no_file(service, photos, tmp_path):
    out = tmp_path / "stop.mp4"

    class Stop(Exception):
        pass

    def on_frame(done: int, total: int) -> None:
        if done == 20:
            raise Stop

    inputs = service.check(photos, SlideshowSpec(seed=1, **SMALL))
    with pytest.raises(Stop):
        service.render(inputs, out, on_frame)
    # the caller owns the file (a job writes to a partial and deletes it); the encoder closed it cleanly
    out.unlink(missing_ok=True)
