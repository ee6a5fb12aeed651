"""Image-to-video clips (`engine: "i2v"`): a diffusion model animates the hero photo; the frames go through the
same encoder as the slideshows (H.264 yuv420p, faststart, the audio track as AAC).

The engine (`models.engines.diffusers_video`: Wan, CogVideoX, SVD) picks a 9:16-compatible size its latents
accept and fits the photo without distortion; the clip is encoded at that size and at the model's own fps,
because resampling a generated clip would only invent pixels and frames the model did not make.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from generation.video.audio import AudioTrack
from generation.video.encode import VideoWriter
from generation.video.render import to_i420
from generation.video.schema import ClipSpec, VideoInfo

__all__ = ["ClipMaker", "StepCallback", "AudioLoader"]

#: `on_step(step, steps)` after each denoising step; it may raise to stop (a job's cancel).
StepCallback = Callable[[int, int], None]
#: Loads the audio track for a clip once its length is known (None: no audio).
AudioLoader = Callable[[float], AudioTrack | None]


class ClipMaker:
    """Runs an image-to-video engine and encodes its frames."""

    def __init__(self, engine) -> None:  # an `ImageToVideoEngine`; not imported here (torch loads with it)
        self.engine = engine

    def frames_for(self, duration: float | None) -> int | None:
        """The frame count closest to `duration` seconds that the model makes (None: its default)."""
        if duration is None:
            return None
        return self.engine.frame_rule.nearest(round(duration * self.engine.default_fps))

    def __call__(
        self,
        photo: np.ndarray,
        spec: ClipSpec,
        out: Path,
        seed: int,
        crf: int = 20,
        audio: AudioLoader | None = None,
        on_step: StepCallback | None = None,
        on_frame: Callable[[int, int], None] | None = None,
    ) -> VideoInfo:
        clip = self.engine.image_to_video(
            photo,
            prompt=spec.prompt if self.engine.takes_prompt else "",
            negative_prompt=spec.negative_prompt if self.engine.takes_prompt else "",
            num_frames=self.frames_for(spec.duration),
            aspect=(9, 16),
            long_side=spec.long_side,
            fit=spec.fit,
            num_inference_steps=spec.steps,
            guidance_scale=spec.guidance,
            seed=seed,
            on_step=on_step,
        )
        warnings = []
        if spec.prompt and not self.engine.takes_prompt:
            warnings.append(f"prompt: {clip.model} takes no text; the prompt was not used")
        track = audio(clip.duration) if audio is not None else None
        height, width = clip.frames[0].shape[:2]
        with VideoWriter(out, width, height, clip.fps, crf, track) as writer:
            for index, frame in enumerate(clip.frames):
                writer.write(to_i420(frame))
                if on_frame is not None:
                    on_frame(index + 1, clip.num_frames)
        return VideoInfo(
            engine=clip.engine,
            model=clip.model,
            width=width,
            height=height,
            fps=clip.fps,
            frames=clip.num_frames,
            duration=clip.duration,
            audio=track is not None,
            seed=clip.seed,
            bytes=Path(out).stat().st_size,
            warnings=warnings,
            steps=clip.num_inference_steps,
            pipeline=clip.pipeline,
        )
