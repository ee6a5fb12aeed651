"""`VideoService`: short vertical videos from a merchant's photos and note.

Photos and audio arrive as bytes (uploads, files, base64 in JSON) and are checked here — decoded with the
shared bomb-checked image decoder, the audio track decoded as far as the video needs — so every entry point
refuses the same bad input with the same 4xx naming the field, before any job is queued.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import InputError, ModelUnavailableError
from common.images import MAX_PIXELS, check_pixels, decode_image
from generation.image.composer import Composer
from generation.video.audio import AudioTrack, load_audio
from generation.video.clip import ClipMaker, StepCallback
from generation.video.schema import MAX_PHOTOS, ClipSpec, SlideshowSpec, VideoInfo
from generation.video.slideshow import FrameCallback, Slideshow

__all__ = ["VideoService", "VideoInputs"]


@dataclass
class VideoInputs:
    """Decoded, checked inputs of one video."""

    photos: list[np.ndarray]
    audio: AudioTrack | None
    spec: SlideshowSpec
    seed: int


class VideoService:
    """Slideshows (no weights) and, with a configured image-to-video model, clips. One instance serves many
    videos; each video runs on the caller's thread.

    Args:
        composer: the covers' composer (its cut-out cache and fonts are shared).
        clip_engine: builds the image-to-video engine (called once, on the first clip); None: not configured.
    """

    def __init__(
        self,
        composer: Composer | None = None,
        clip_engine: Callable[[], object] | None = None,
        max_pixels: int = MAX_PIXELS,
    ) -> None:
        self._composer = composer
        self._slideshow: Slideshow | None = None
        self._clip_engine = clip_engine
        self._clips: ClipMaker | None = None
        self._lock = threading.Lock()
        self.max_pixels = max_pixels

    @property
    def slideshow(self) -> Slideshow:
        with self._lock:  # fonts and the tokenizer load once, on the first video
            if self._slideshow is None:
                self._slideshow = Slideshow(self._composer)
            return self._slideshow

    def check(
        self,
        photos: Sequence[bytes],
        spec: SlideshowSpec,
        audio: bytes | None = None,
        photos_param: str = "photos",
    ) -> VideoInputs:
        """Decode and check everything a video needs; `InputError` naming the field otherwise."""
        if not photos:
            raise InputError(f"{photos_param}: give 1-{MAX_PHOTOS} product photos", photos_param)
        if len(photos) > MAX_PHOTOS:
            raise InputError(f"{photos_param}: at most {MAX_PHOTOS} photos, got {len(photos)}", photos_param)
        named = [(f"{photos_param}.{i}", data) for i, data in enumerate(photos)]
        check_pixels(named, self.max_pixels)  # every header first: a 413 before any photo is decoded
        arrays = [decode_image(data, param, self.max_pixels).rgb for param, data in named]
        track = None
        if audio is not None:
            track = load_audio(audio, spec.duration, spec.audio_start, spec.audio_fade)
        seed = spec.seed if spec.seed is not None else secrets.randbelow(2**31)
        return VideoInputs(arrays, track, spec, seed)

    def render(self, inputs: VideoInputs, out: Path, on_frame: FrameCallback | None = None) -> VideoInfo:
        """Make the video into `out` (write to a temporary name and rename: see `JobContext.writing`)."""
        return self.slideshow(inputs.photos, inputs.spec, out, inputs.seed, inputs.audio, on_frame)

    def make(
        self,
        photos: Sequence[bytes],
        spec: SlideshowSpec,
        out: Path,
        audio: bytes | None = None,
        on_frame: Callable[[int, int], None] | None = None,
    ) -> VideoInfo:
        """`check` then `render`."""
        return self.render(self.check(photos, spec, audio), out, on_frame)

    # -- image-to-video ---------------------------------------------------------------------------------------
    @property
    def clips_available(self) -> bool:
        return self._clip_engine is not None

    def clips(self) -> ClipMaker:
        """The image-to-video side; its engine loads on the first clip.

        Raises:
            ModelUnavailableError: no video model is configured (503 with the fix).
        """
        if self._clip_engine is None:
            raise ModelUnavailableError(
                "no image-to-video model is configured: set NOTESTUDIO_VIDEO_MODEL (video_model) to a registry "
                "image-to-video model (Wan / CogVideoX / SVD, diffusers) whose weights are on this machine (see "
                "`notestudio models check`); the slideshow engine needs none",
                "engine",
            )
        with self._lock:
            if self._clips is None:
                self._clips = ClipMaker(self._clip_engine())
            return self._clips

    def check_clip(self, photos: Sequence[bytes], audio: bytes | None, spec: SlideshowSpec) -> np.ndarray:
        """The one photo a clip animates, decoded; the audio track checked. `InputError` naming the field."""
        if len(photos) != 1:
            raise InputError(f"photos: image-to-video animates one photo, got {len(photos)}", "photos")
        photo = decode_image(photos[0], "photos.0", self.max_pixels).rgb
        if audio is not None:
            load_audio(audio, 1.0, spec.audio_start, spec.audio_fade)
        return photo

    def make_clip(
        self,
        photo: bytes,
        clip: ClipSpec,
        spec: SlideshowSpec,
        out: Path,
        audio: bytes | None = None,
        on_step: StepCallback | None = None,
        on_frame: FrameCallback | None = None,
    ) -> VideoInfo:
        """A clip from one photo into `out` (write to a temporary name and rename: see `JobContext.writing`)."""
        rgb = self.check_clip([photo], audio, spec)
        maker = self.clips()
        seed = spec.seed if spec.seed is not None else secrets.randbelow(2**31)

        def track(seconds: float) -> AudioTrack | None:
            return None if audio is None else load_audio(audio, seconds, spec.audio_start, spec.audio_fade)

        return maker(rgb, clip, out, seed, spec.crf, track, on_step, on_frame)
