"""The slideshow engine (`engine: "slideshow"`, no weights): product photos and a note -> a 9:16 MP4.

The cover (the composer's 9:16 cover of the photos and title) is the first frame and stays a moment; then each
photo pans and zooms with its product kept in frame (`timeline`), crossfading (or cutting) into the next;
captions from the note fade in over the photos inside the platform's safe area (`captions`); the hashtags close
the video. Frames are drawn in I420 (`render`) and streamed to the encoder (`encode`) one by one: memory does
not grow with the length. Same photos, words, audio and seed: the same video.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from generation.image.composer import Composer
from generation.image.schema import CoverSpec
from generation.video.audio import AudioTrack
from generation.video.captions import Captioner
from generation.video.encode import X264_PRESET, VideoWriter
from generation.video.focus import product_box
from generation.video.render import I420, CaptionLayer, Source, blank, to_i420
from generation.video.schema import SlideshowSpec, VideoInfo
from generation.video.timeline import Slide, Timeline, plan

__all__ = ["Slideshow", "FrameCallback"]

#: `on_frame(done, total)` after each frame; it may raise to stop (a job's cancel).
FrameCallback = Callable[[int, int], None]


class Slideshow:
    """Draws and encodes slideshows; one instance serves many videos (it holds the composer and fonts)."""

    engine_name = "slideshow"

    def __init__(self, composer: Composer | None = None, preset: str = X264_PRESET) -> None:
        self.composer = composer or Composer()
        self.typesetter = self.composer.typesetter  # one set of fonts and one segmenter, not a second load
        self.preset = preset

    def __call__(
        self,
        photos: Sequence[np.ndarray],
        spec: SlideshowSpec,
        out: Path,
        seed: int,
        audio: AudioTrack | None = None,
        on_frame: FrameCallback | None = None,
    ) -> VideoInfo:
        """Make the video into `out` (the caller makes the write atomic).

        Raises:
            InputError: the words do not fit (`title`, `lines.N`, `hashtags`), or the cover cannot be made.
        """
        width, height = spec.width, spec.height
        warnings: list[str] = []
        # 1. everything that can fail on the input, before the first frame
        cover_frame, cover_template = self._cover(photos, spec, seed, warnings)
        captioner = Captioner(width, height, self.typesetter)
        texts = [captioner.picture(line, f"lines.{k}") for k, line in enumerate(spec.lines)]
        if spec.hashtag_text:
            texts.append(captioner.picture(spec.hashtag_text, "hashtags", hashtags=True))
        layers = [CaptionLayer(t.rgba, t.x, t.y) for t in texts]
        timeline = plan(
            [(p.shape[1], p.shape[0]) for p in photos],
            [product_box(p) for p in photos],
            (width, height),
            spec.duration,
            spec.fps,
            cover=cover_frame is not None,
            n_lines=len(spec.lines),
            hashtags=bool(spec.hashtag_text),
            transition=spec.transition,
            seed=seed,
        )
        # 2. draw and encode, frame by frame
        with VideoWriter(out, width, height, spec.fps, spec.crf, audio, self.preset) as writer:
            self._render(photos, timeline, cover_frame, layers, writer, on_frame)
        return VideoInfo(
            engine=self.engine_name,
            width=width,
            height=height,
            fps=spec.fps,
            frames=timeline.frames,
            duration=timeline.frames / spec.fps,
            audio=audio is not None,
            seed=seed,
            bytes=Path(out).stat().st_size,
            cover_template=cover_template,
            warnings=warnings,
        )

    def _cover(
        self, photos: Sequence[np.ndarray], spec: SlideshowSpec, seed: int, warnings: list[str]
    ) -> tuple[np.ndarray | None, str | None]:
        """The composer's 9:16 cover as an I420 frame, or None without a title."""
        if not spec.title:
            return None, None
        cover_spec = CoverSpec(
            title=spec.title, price=spec.price, badge=spec.badge, template=spec.template, preset="9:16", seed=seed
        )
        # The hero photo alone unless a template asks for more (a collage): every extra photo is another cut-out.
        count = 1
        if spec.template is not None:
            count = next((t.max_photos for t in self.composer.templates() if t.name == spec.template), 1)
        cover = self.composer(list(photos[: max(1, min(count, len(photos)))]), cover_spec, seed)
        image = cover.image
        if image.shape[1] != spec.width:
            image = cv2.resize(image, (spec.width, spec.height), interpolation=cv2.INTER_AREA)
        removed = self.typesetter.clean(spec.title)[1]
        if removed:
            warnings.append(f"title: left out what the font cannot draw ({removed})")
        return to_i420(image), cover.template

    def _render(
        self,
        photos: Sequence[np.ndarray],
        timeline: Timeline,
        cover: np.ndarray | None,
        layers: list[CaptionLayer],
        writer: VideoWriter,
        on_frame: FrameCallback | None,
    ) -> None:
        width, height = writer.width, writer.height
        frame_a, frame_b = I420(blank(width, height)), I420(blank(width, height))
        sources: dict[int, Source] = {}
        total = timeline.frames

        def draw(slide: Slide, out: I420, t: float) -> None:
            if slide.photo is None:
                assert cover is not None
                np.copyto(out.buffer, cover)
                return
            assert slide.motion is not None
            source = sources.get(slide.photo)
            if source is None:
                source = sources[slide.photo] = Source.prepare(photos[slide.photo], (width, height), slide.motion)
            source.draw(out, slide.motion, slide.progress(t))

        for index in range(total):
            t = index / timeline.fps
            slides, captions = timeline.at(index)
            draw(slides[0][0], frame_a, t)
            if len(slides) == 2:
                draw(slides[1][0], frame_b, t)
                cv2.addWeighted(frame_a.buffer, slides[0][1], frame_b.buffer, slides[1][1], 0, dst=frame_a.buffer)
            for caption, opacity in captions:
                layers[caption.index].blend(frame_a, opacity)
            writer.write(frame_a.buffer)
            for done in [k for k in sources if all(s.end <= t for s in timeline.slides if s.photo == k)]:
                del sources[done]  # a photo whose slide is over is not needed again
            if on_frame is not None:
                on_frame(index + 1, total)
