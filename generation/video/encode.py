"""MP4 out through PyAV: H.264 yuv420p with faststart, and the audio track as AAC, interleaved.

Frames arrive one at a time as I420 buffers (see `generation.video.render`) and go to libx264 on a worker thread
while the caller draws the next one (PyAV leaves the GIL while x264 works): drawing and encoding overlap on two
cores. The queue between them is short, so only a handful of frames ever exist at once, whatever the length.
Audio is encoded in step with the video (up to each frame's time), so the file is interleaved and plays while it
downloads; `movflags=+faststart` puts the index first.

Colour: the buffers are BT.601 limited range (OpenCV's RGB -> I420), and the stream says so, so browsers and
players convert back with the same matrix.
"""

from __future__ import annotations

import queue
import threading
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from generation.video.audio import SAMPLE_RATE, AudioTrack

__all__ = ["VideoWriter", "X264_PRESET"]

#: libx264 speed preset. `benchmarks/bench_video.py` measures the choice: at CRF 20 on 2 cores "ultrafast"
#: reaches the real-time target where "superfast" does not (the files are larger, the quality the same CRF).
X264_PRESET = "ultrafast"
_AAC_FRAME = 1024
_QUEUE = 6


class VideoWriter:
    """Write I420 frames (and an optional audio track) to an MP4 file.

    Use as a context manager: on a clean exit the encoders are flushed and the file is complete; on an error
    the worker stops and the (partial) file is closed — the caller deletes it (see `JobContext.writing`).
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: int,
        crf: int = 20,
        audio: AudioTrack | None = None,
        preset: str = X264_PRESET,
        threads: int = 0,
    ) -> None:
        self.path = Path(path)
        self.width, self.height, self.fps = width, height, fps
        self.container = av.open(str(self.path), "w", format="mp4", options={"movflags": "+faststart"})
        video = self.container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": str(crf), "preset": preset}
        video.thread_count = threads
        cc = video.codec_context
        cc.colorspace, cc.color_range = 6, 1  # smpte170m (BT.601), MPEG (limited)
        cc.color_primaries, cc.color_trc = 6, 6
        self.video = video
        self.audio = audio
        self.audio_stream = None
        self._audio_pos = 0
        if audio is not None:
            stream = self.container.add_stream("aac", rate=SAMPLE_RATE)
            stream.layout = "stereo"
            stream.bit_rate = 128_000
            self.audio_stream = stream
        self.frames = 0
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(_QUEUE)
        self._error: BaseException | None = None
        self._worker = threading.Thread(target=self._encode_loop, name="x264", daemon=True)
        self._worker.start()

    # -- caller side ---------------------------------------------------------------------------------------
    def write(self, buffer: np.ndarray) -> None:
        """Queue one I420 frame (the buffer is copied: the caller may reuse it)."""
        if self._error is not None:
            raise RuntimeError(f"the video encoder failed: {self._error}") from self._error
        self._queue.put(buffer.copy())
        self.frames += 1

    def close(self, ok: bool = True) -> None:
        """Flush (when `ok`) and close the file."""
        self._queue.put(None)
        self._worker.join()
        try:
            if ok and self._error is None:
                for packet in self.video.encode():
                    self.container.mux(packet)
                if self.audio_stream is not None:
                    self._encode_audio(self.audio.samples.shape[1] if self.audio else 0, flush=True)
        finally:
            self.container.close()
        if ok and self._error is not None:
            raise RuntimeError(f"the video encoder failed: {self._error}") from self._error

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is not None:
            self._drain()
        self.close(ok=kind is None)

    # -- worker side ---------------------------------------------------------------------------------------
    def _drain(self) -> None:
        """Empty the queue so a worker blocked on a full queue sees the end at once (a cancel)."""
        self._error = self._error or RuntimeError("stopped")
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def _encode_loop(self) -> None:
        index = 0
        while (buffer := self._queue.get()) is not None:
            if self._error is not None:
                continue
            try:
                frame = av.VideoFrame.from_ndarray(buffer, format="yuv420p")
                frame.pts = index
                frame.time_base = Fraction(1, self.fps)
                for packet in self.video.encode(frame):
                    self.container.mux(packet)
                index += 1
                if self.audio_stream is not None:
                    self._encode_audio(round(index * SAMPLE_RATE / self.fps))
            except BaseException as exc:  # reported to the caller on its next write or on close
                self._error = exc

    def _encode_audio(self, until: int, flush: bool = False) -> None:
        """Encode audio samples up to sample `until` in whole AAC frames (and the rest when flushing)."""
        assert self.audio is not None and self.audio_stream is not None
        samples = self.audio.samples
        until = min(until, samples.shape[1])
        while self._audio_pos + _AAC_FRAME <= until or (flush and self._audio_pos < until):
            end = min(self._audio_pos + _AAC_FRAME, samples.shape[1])
            chunk = np.ascontiguousarray(samples[:, self._audio_pos : end])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate = SAMPLE_RATE
            frame.pts = self._audio_pos
            frame.time_base = Fraction(1, SAMPLE_RATE)
            for packet in self.audio_stream.encode(frame):
                self.container.mux(packet)
            self._audio_pos = end
        if flush:
            for packet in self.audio_stream.encode():
                self.container.mux(packet)
