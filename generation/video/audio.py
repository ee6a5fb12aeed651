"""A merchant's audio track, made ready for the video: decoded, trimmed, faded, at the AAC encoder's rate.

Any format FFmpeg (inside PyAV) reads — MP3, AAC/M4A, WAV, OGG, FLAC — is decoded only as far as the video
needs, resampled to 44.1 kHz stereo float, and faded in and out. A track shorter than the video is followed
by silence (with its own fade-out at its end). Bad tracks are `InputError`s naming the field: unreadable or
corrupt bytes, no audio stream, a start past the track's end.
"""

from __future__ import annotations

import io

import av
import numpy as np

from common.errors import InputError

__all__ = ["AudioTrack", "load_audio", "SAMPLE_RATE", "MAX_AUDIO_BYTES"]

SAMPLE_RATE = 44_100
MAX_AUDIO_BYTES = 32 * 1024 * 1024


class AudioTrack:
    """Stereo float32 samples, shape (2, n), at `SAMPLE_RATE`."""

    def __init__(self, samples: np.ndarray) -> None:
        self.samples = samples

    @property
    def seconds(self) -> float:
        return self.samples.shape[1] / SAMPLE_RATE


def _fade(samples: np.ndarray, start: int, length: int, fade_in: bool) -> None:
    if length <= 0:
        return
    ramp = np.linspace(0.0, 1.0, length, dtype=np.float32)
    ramp = ramp * ramp  # perceptually smoother than linear
    if not fade_in:
        ramp = ramp[::-1]
    samples[:, start : start + length] *= ramp[: samples.shape[1] - start]


def load_audio(data: bytes, duration: float, start: float = 0.0, fade: float = 1.0, param: str = "audio") -> AudioTrack:
    """`duration` seconds of the track from `start`, faded in and out over `fade` seconds.

    Raises:
        InputError: naming `param` (unreadable, corrupt, no audio, too large) or `audio_start`.
    """
    if not data:
        raise InputError(f"{param}: the audio file is empty", param)
    if len(data) > MAX_AUDIO_BYTES:
        raise InputError(f"{param}: {len(data) / 2**20:.1f} MiB, at most {MAX_AUDIO_BYTES // 2**20} MiB", param, 413)
    need = round(duration * SAMPLE_RATE)
    skip = round(start * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    got = 0
    try:
        with av.open(io.BytesIO(data), "r") as container:
            if not container.streams.audio:
                raise InputError(f"{param}: the file has no audio track", param)
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
            position = 0
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    block = out.to_ndarray().reshape(2, -1)
                    begin = max(0, skip - position)
                    position += block.shape[1]
                    if begin < block.shape[1]:
                        chunks.append(block[:, begin:])
                        got += block.shape[1] - begin
                if got >= need:
                    break
    except InputError:
        raise
    except (av.error.FFmpegError, ValueError, EOFError, OSError) as exc:
        raise InputError(f"{param}: not a readable audio file ({type(exc).__name__}: {exc})", param) from None
    if not chunks:
        if skip > 0:
            raise InputError(f"audio_start: {start:g} s is past the end of the track", "audio_start")
        raise InputError(f"{param}: the audio track holds no sound", param)
    samples = np.concatenate(chunks, axis=1)[:, :need].astype(np.float32, copy=True)
    if not np.isfinite(samples).all():
        raise InputError(f"{param}: the audio track decodes to invalid samples", param)
    fade_n = round(fade * SAMPLE_RATE)
    length = samples.shape[1]
    _fade(samples, 0, min(fade_n, length // 2), fade_in=True)
    _fade(samples, max(0, length - min(fade_n, length // 2)), min(fade_n, length // 2), fade_in=False)
    if length < need:  # a short track: silence after it
        samples = np.concatenate([samples, np.zeros((2, need - length), np.float32)], axis=1)
    return AudioTrack(samples)
