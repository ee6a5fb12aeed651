"""Slideshow video speed: x real time for a 15 s 1080x1920 30 fps slideshow of 6 photos, against MoviePy 2.x.

Both make the same slideshow in the same process from the same photos: a cover still, each photo zooming slowly
(Ken Burns) with 0.4 s crossfades, a caption per photo in Noto Sans CJK, H.264 yuv420p at CRF 20. MoviePy is
the plain way to write it (ImageClip + resized(zoom) + CompositeVideoClip + TextClip + crossfades,
write_videofile); it runs once with the same x264 preset as ours (the render pipelines compared) and once with
its default preset "medium". Ours runs 3 times (median). Then a 60 s video in a child process gives our peak
memory (max RSS), and PyAV reads every output back (size, fps, codec, duration within 0.1 s).

    .venv/bin/python benchmarks/bench_video.py [--quick]       # MoviePy comes with `pip install -e '.[bench]'`
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generation.image.fonts import Fonts  # noqa: E402
from generation.image.testing import product_shot  # noqa: E402
from generation.video.encode import X264_PRESET  # noqa: E402
from generation.video.schema import SlideshowSpec  # noqa: E402
from generation.video.service import VideoService  # noqa: E402

TITLE = "夏天通勤必备的清爽防晒"
LINES = ["清爽不油腻 一抹成膜", "SPF50+ 不泛白", "敏感肌也能用", "通勤党闭眼入"]
TAGS = ["防晒", "通勤", "夏日好物"]


def photos() -> list[bytes]:
    """Six merchant-like photos: 3:4 and square product shots on studio white and on a busy table."""
    portrait, square = (1500, 2000), (1600, 1600)
    kinds = [("bottle", "white", portrait), ("box", "busy", portrait), ("jar", "white", square),
             ("bottle", "busy", portrait), ("box", "white", square), ("jar", "busy", portrait)]  # fmt: skip
    out = []
    for i, (kind, bg, size) in enumerate(kinds):
        rgb = product_shot(kind, bg, size=size, seed=i).rgb
        out.append(
            cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()
        )
    return out


def check(path: Path, duration: float, width: int = 1080, height: int = 1920, fps: int = 30) -> str:
    with av.open(str(path)) as container:
        v = container.streams.video[0]
        got = float(v.duration * v.time_base) if v.duration else float(container.duration / 1e6)
        ok = (v.width, v.height, v.codec_context.name) == (width, height, "h264") and abs(got - duration) <= 0.1
        ok = ok and v.average_rate == fps
        verdict = "ok" if ok else "WRONG"
        return f"{v.codec_context.name} {v.width}x{v.height} {float(v.average_rate):g} fps {got:.2f} s {verdict}"


def ours(
    service: VideoService, data: list[bytes], out: Path, duration: float = 15.0, preset: str | None = None
) -> float:
    spec = SlideshowSpec(title=TITLE, lines=LINES, hashtags=TAGS, duration=duration, seed=7, crf=20)
    start = time.perf_counter()
    inputs = service.check(data, spec)
    if preset is not None:
        service.slideshow.preset = preset
    try:
        service.render(inputs, out)
    finally:
        service.slideshow.preset = X264_PRESET
    return time.perf_counter() - start


def moviepy_slideshow(data: list[bytes], out: Path, preset: str, duration: float = 15.0) -> float:
    """The same slideshow the plain MoviePy 2.x way."""
    from moviepy import CompositeVideoClip, ImageClip, TextClip, concatenate_videoclips, vfx

    start = time.perf_counter()
    w, h, fade, cover_s = 1080, 1920, 0.4, 1.2
    font = Fonts().regular.path
    images = [cv2.cvtColor(cv2.imdecode(np.frombuffer(d, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for d in data]
    per = (duration - cover_s) / len(images) + fade
    clips = []
    cover = ImageClip(images[0]).resized(height=h).with_position("center")
    title = TextClip(font=font, text=TITLE, font_size=90, color="white", stroke_color="black", stroke_width=3)
    clips.append(CompositeVideoClip([cover, title.with_position(("center", 300))], size=(w, h))
                 .with_duration(cover_s + fade))  # fmt: skip
    for i, image in enumerate(images):
        d = per if i < len(images) - 1 else duration - cover_s - (len(images) - 1) * (per - fade)
        scale = max(w / image.shape[1], h / image.shape[0])
        photo = (ImageClip(image).with_duration(d).resized(lambda t, s=scale, d=d: s * (1 + 0.12 * t / d))
                 .with_position("center"))  # fmt: skip
        caption = TextClip(font=font, text=LINES[i % len(LINES)], font_size=60, color="white", bg_color="black")
        slide = CompositeVideoClip([photo, caption.with_duration(d).with_position((70, 1300))], size=(w, h))
        clips.append(slide.with_duration(d).with_effects([vfx.CrossFadeIn(fade)]))
    video = concatenate_videoclips(clips, method="compose", padding=-fade).with_duration(duration)
    video.write_videofile(str(out), fps=30, codec="libx264", preset=preset, ffmpeg_params=["-crf", "20",
                          "-pix_fmt", "yuv420p"], audio=False, threads=os.cpu_count(), logger=None)  # fmt: skip
    return time.perf_counter() - start


def peak_memory_60s(data: list[bytes]) -> float:
    """Max RSS (MiB) of a fresh process that reads 6 JPEG files and makes a 60 s 1080x1920 slideshow (its own
    high-water mark: imports, fonts, the composer, the photos, the frames in flight and the encoder)."""
    code = (
        "import resource, sys; sys.path.insert(0, %r)\n"
        "from pathlib import Path\n"
        "from benchmarks.bench_video import ours\n"
        "from generation.video.service import VideoService\n"
        "data = [p.read_bytes() for p in sorted(Path(%r).glob('*.jpg'))]\n"
        "ours(VideoService(), data, Path(%r), duration=60.0)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for i, photo in enumerate(data):
            (Path(tmp) / f"{i}.jpg").write_bytes(photo)
        out = Path(tmp) / "long.mp4"
        root = str(Path(__file__).resolve().parents[1])
        done = subprocess.run([sys.executable, "-c", code % (root, tmp, str(out))], check=True, capture_output=True)
        print(f"  60 s video: {check(out, 60.0)}, {out.stat().st_size / 2**20:.1f} MiB")
        return int(done.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run of each, no 60 s memory run")
    args = parser.parse_args()
    data = photos()
    service = VideoService()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ours(service, data, folder / "warm.mp4", duration=6.0)  # fonts, tokenizer, first cut-out
        runs = [ours(service, data, folder / "ours.mp4") for _ in range(1 if args.quick else 3)]
        t_ours = statistics.median(runs)
        print(f"ours ({X264_PRESET}, CRF 20): median {t_ours:.2f} s for 15 s -> {15 / t_ours:.2f}x real time "
              f"(runs {', '.join(f'{r:.2f}' for r in runs)}); {check(folder / 'ours.mp4', 15.0)}, "
              f"{(folder / 'ours.mp4').stat().st_size / 2**20:.1f} MiB")  # fmt: skip
        if not args.quick:
            t_sf = ours(service, data, folder / "ours-superfast.mp4", preset="superfast")
            print(f"ours (superfast, CRF 20): {t_sf:.2f} s -> {15 / t_sf:.2f}x real time, "
                  f"{(folder / 'ours-superfast.mp4').stat().st_size / 2**20:.1f} MiB")  # fmt: skip
        try:
            import moviepy  # noqa: F401
        except ImportError:
            print("MoviePy is not installed: pip install -e '.[bench]' for the baseline")
            return
        for preset in [X264_PRESET] + ([] if args.quick else ["medium"]):
            t_mp = moviepy_slideshow(data, folder / f"moviepy-{preset}.mp4", preset)
            print(f"MoviePy 2.x ({preset}, CRF 20): {t_mp:.2f} s -> {15 / t_mp:.2f}x real time; "
                  f"{check(folder / f'moviepy-{preset}.mp4', 15.0)}; ours is {t_mp / t_ours:.1f}x faster")  # fmt: skip
    if not args.quick:
        print(f"peak memory (max RSS of the process) making a 60 s video: {peak_memory_60s(data):.0f} MiB")


if __name__ == "__main__":
    main()
