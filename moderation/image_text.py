"""Text inside listing images: OCR (RapidOCR's PP-OCRv4 ONNX models) and QR codes (OpenCV).

Sellers who cannot write a phone number or a WeChat id in the title put it on a photo, or a QR code to scan.
`ImageTextReader` reads every line of text (with its box) and every QR payload of an image; `ImageTextSignals`
runs the same text rules as the title and body on that text and turns QR codes into `diversion.qr` hits.

Speed: OCR reads an image scaled to `ocr.max_side` (960 px long side, `data/image_policy.yaml`; small images are
upscaled, at most 2x), so every ordinary photo costs about the same: see benchmarks/bench_image_text.py.
Long strips are read in tiles instead of being squeezed. The OCR engine is loaded once per process and thread
count, on first use (about 0.3 s), under a lock.

Install: `rapidocr-onnxruntime` ships its models inside the wheel (nothing is downloaded at run time) but requires
`opencv-python`, which writes the same `cv2` module as mediapipe's `opencv-contrib-python`; it is installed with
`--no-deps` (the Makefile does) and its real requirements (onnxruntime, pyclipper, shapely, ...) are ours.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from moderation.image_policy import ImagePolicy
from moderation.image_registry import ImageError, decode_image
from moderation.types import Evidence, Hit

__all__ = [
    "RAPIDOCR_INSTALL",
    "Box",
    "ImageText",
    "ImageTextReader",
    "ImageTextSignals",
    "QRCode",
    "TextHits",
    "TextLine",
    "as_rgb",
]

#: How to install the OCR engine without replacing mediapipe's cv2 (the Makefile's install step does this).
RAPIDOCR_INSTALL = "pip install --no-deps rapidocr-onnxruntime==1.4.4"

#: (x0, y0, x1, y1) in pixels of the image as given, x1/y1 exclusive.
Box = tuple[int, int, int, int]
#: `text_hits(field, text)`: the text rules (lexicon + contact details) the caller runs on titles and bodies.
TextHits = Callable[[str, str], list[Hit]]

# Fewer pixels than this on the short side (after scaling) cannot hold a legible line or a QR code.
_MIN_SIDE = 16


@dataclass(frozen=True)
class TextLine:
    """One recognised line; `start`/`end` index it in `ImageText.text`."""

    text: str
    score: float
    box: Box
    start: int
    end: int


@dataclass(frozen=True)
class QRCode:
    payload: str
    box: Box


@dataclass(frozen=True)
class ImageText:
    """What one image reads: its lines (top to bottom), their joined text and the decoded QR codes."""

    width: int
    height: int
    text: str
    lines: tuple[TextLine, ...] = ()
    qr_codes: tuple[QRCode, ...] = ()

    def lines_at(self, start: int, end: int) -> tuple[TextLine, ...]:
        """The lines that a `[start, end)` span of `text` touches (evidence -> where it is on the image)."""
        return tuple(line for line in self.lines if line.start < end and start < line.end)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 grey (H, W), (H, W, 1), RGB or RGBA -> RGB (H, W, 3); alpha is dropped as `decode_image` drops it.

    Raises:
        ValueError: `image` is not a uint8 array of one of those shapes.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError(f"image must be a uint8 numpy array, got {type(image).__name__} {getattr(image, 'dtype', '')}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return np.repeat(image.reshape(image.shape[0], image.shape[1], 1), 3, axis=2)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return np.ascontiguousarray(image[:, :, :3])
    raise ValueError(f"image must be HxW, HxWx1, HxWx3 or HxWx4, got shape {image.shape}")


@dataclass(frozen=True)
class _Tile:
    pixels: np.ndarray  # BGR, scaled
    scale: float  # scaled / original
    x: int  # offset of the tile in the scaled image
    y: int


def _tiles(
    bgr: np.ndarray, max_side: int, max_upscale: float, long_aspect: float, max_tiles: int, overlap: float
) -> list[_Tile]:
    """The image scaled for reading: one piece `max_side` on its long side (small images upscaled at most
    `max_upscale` times), or, for a long strip, the short side at most `max_side` (never upscaled) and up to
    `max_tiles` overlapping square-ish pieces along the long side. An image too thin to hold a character after
    scaling gives no piece."""
    height, width = bgr.shape[:2]
    long_side, short_side = max(height, width), min(height, width)
    if long_side <= long_aspect * short_side:
        scale = min(max_upscale, max_side / long_side)
    else:
        # a strip's text is sized for its own width: it is never upscaled (more tiles, same legibility)
        scale = min(1.0, max_side / short_side, max_side * max_tiles * (1 - overlap) / long_side)
    if scale != 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    if min(bgr.shape[:2]) < _MIN_SIDE:
        return []
    height, width = bgr.shape[:2]
    long_side = max(height, width)
    if long_side <= max_side * (1 + overlap):
        return [_Tile(bgr, scale, 0, 0)]
    step = int(max_side * (1 - overlap))
    starts = list(range(0, long_side - max_side, step)) + [long_side - max_side]
    if height >= width:
        return [_Tile(bgr[s : s + max_side], scale, 0, s) for s in starts]
    return [_Tile(bgr[:, s : s + max_side], scale, s, 0) for s in starts]


def _to_box(points: np.ndarray, tile: _Tile, width: int, height: int) -> Box:
    """Tile points (any polygon) -> axis-aligned box in original pixels, clipped to the image."""
    xs = (points[:, 0] + tile.x) / tile.scale
    ys = (points[:, 1] + tile.y) / tile.scale
    x0, y0 = int(np.clip(np.floor(xs.min()), 0, width)), int(np.clip(np.floor(ys.min()), 0, height))
    x1, y1 = int(np.clip(np.ceil(xs.max()), 0, width)), int(np.clip(np.ceil(ys.max()), 0, height))
    return x0, y0, x1, y1


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box: a line read twice in two overlapping tiles is one line."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return iw * ih / max(1, smaller)


_ENGINES: dict[int | None, Any] = {}
_ENGINES_LOCK = threading.Lock()


def _ocr_engine(threads: int | None) -> Any:
    """The RapidOCR engine for this thread count, built once per process (its ONNX sessions are thread-safe)."""
    engine = _ENGINES.get(threads)
    if engine is not None:
        return engine
    with _ENGINES_LOCK:
        engine = _ENGINES.get(threads)
        if engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:
                raise ImportError(
                    f"OCR of listing images needs RapidOCR ({exc}); install it with `{RAPIDOCR_INSTALL}` "
                    "(--no-deps keeps mediapipe's opencv-contrib-python as the only cv2; `make install` does it)"
                ) from exc
            # The image is scaled before it gets here: the detector must not scale it again. Its default ("min"
            # side to 736) blows a thin banner up to tens of thousands of pixels; "max" only rounds to 32.
            kwargs: dict[str, Any] = {"det_limit_type": "max"}
            if threads is not None:
                kwargs |= {"intra_op_num_threads": threads, "inter_op_num_threads": 1}
            engine = RapidOCR(**kwargs)
            _ENGINES[threads] = engine
    return engine


class ImageTextReader:
    """Reads the text lines (with boxes) and QR codes of images.

    Args:
        policy: image thresholds; default `data/image_policy.yaml`.
        threads: onnxruntime intra-op threads of the OCR engine; None lets onnxruntime use every core.
    """

    def __init__(self, policy: ImagePolicy | None = None, threads: int | None = None) -> None:
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1 or None, got {threads}")
        self.policy = policy or ImagePolicy.load()
        self.threads = threads

    def read(self, image: np.ndarray) -> ImageText:
        """Text lines and QR codes of one image (uint8 grey, RGB or RGBA array)."""
        # 1. check the input and bring it to BGR, as OpenCV and RapidOCR want it
        rgb = as_rgb(image)
        height, width = rgb.shape[:2]
        if min(height, width) < _MIN_SIDE:
            return ImageText(width, height, "")
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        # 2. OCR on the scaled image (tiles for long strips), lines mapped back to original pixels
        ocr = self.policy.ocr
        raw: list[tuple[str, float, Box]] = []
        for tile in _tiles(bgr, ocr.max_side, ocr.max_upscale, ocr.long_image_aspect, ocr.max_tiles, ocr.tile_overlap):
            result, _ = _ocr_engine(self.threads)(tile.pixels)
            for points, text, score in result or ():
                if float(score) >= ocr.min_line_score and text.strip():
                    box = _to_box(np.asarray(points, np.float32), tile, width, height)
                    raw.append((text.strip(), float(score), box))
        lines = self._merge(raw)
        # 3. QR codes on their own scale (small codes need more pixels than text)
        qr_codes = self._qr_codes(bgr, width, height)
        # 4. one text per image: rules see the lines joined, evidence offsets index it
        joined, placed, cursor = [], [], 0
        for text, score, box in lines:
            placed.append(TextLine(text, round(score, 4), box, cursor, cursor + len(text)))
            joined.append(text)
            cursor += len(text) + len(ocr.line_separator)
        return ImageText(width, height, ocr.line_separator.join(joined), tuple(placed), qr_codes)

    def read_bytes(self, data: bytes) -> ImageText:
        """`read` on encoded bytes (decoded by `decode_image`, which rejects bombs and non-images).

        Raises:
            ImageError: the bytes are not a usable image.
        """
        return self.read(decode_image(data))

    @staticmethod
    def _merge(raw: list[tuple[str, float, Box]]) -> list[tuple[str, float, Box]]:
        """Drop a line read again in the overlap of two tiles (keep the longer reading), order top to bottom."""
        kept: list[tuple[str, float, Box]] = []
        for line in sorted(raw, key=lambda item: (-len(item[0]), -item[1])):
            if all(_overlap(line[2], other[2]) < 0.6 for other in kept):
                kept.append(line)
        return sorted(kept, key=lambda item: (item[2][1], item[2][0]))

    def _qr_codes(self, bgr: np.ndarray, width: int, height: int) -> tuple[QRCode, ...]:
        ocr, qr = self.policy.ocr, self.policy.qr
        found: dict[str, QRCode] = {}
        detector = cv2.QRCodeDetectorAruco()  # cheap to build; instances are not shared between threads
        for tile in _tiles(bgr, qr.max_side, 1.0, ocr.long_image_aspect, ocr.max_tiles, ocr.tile_overlap):
            gray = cv2.cvtColor(tile.pixels, cv2.COLOR_BGR2GRAY)
            ok, payloads, points, _ = detector.detectAndDecodeMulti(gray)
            if not ok or points is None:
                continue
            for payload, corners in zip(payloads, points, strict=True):
                # A finder pattern that does not decode is not evidence of anything; only payloads count.
                if payload and payload not in found:
                    found[payload] = QRCode(payload, _to_box(np.asarray(corners, np.float32), tile, width, height))
        return tuple(found.values())


def _quote(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ImageTextSignals:
    """Listing images -> hits of the text rules on their OCR text, plus `diversion.qr` for QR codes.

    Evidence of a text hit has `field="images[i]"` and `start`/`end` in the OCR text of image i
    (`ImageText.text`); where it is on the image goes into the reasons: `images[0] box [x0,y0,x1,y1] reads "..."`.
    Hits keep their code and score; their source becomes `image:ocr` (the text classifier never saw this
    text, so it must not veto it) or `image:qr`.

    Args:
        text_hits: the text rules, `text_hits(field, text) -> list[Hit]` (lexicon + contact details).
        reader: the image reader; default one with the shipped policy and onnxruntime's default threads.
    """

    def __init__(self, text_hits: TextHits, reader: ImageTextReader | None = None) -> None:
        if not callable(text_hits):
            raise ValueError(f"text_hits must be callable(field, text) -> list[Hit], got {type(text_hits).__name__}")
        self.text_hits = text_hits
        self.reader = reader or ImageTextReader()

    def __call__(self, images: Sequence[bytes | np.ndarray]) -> tuple[list[Hit], list[str]]:
        """Hits and human-readable reasons for a listing's images (bytes, or arrays already decoded).

        An image that cannot be decoded gives no hit and a reason saying so: upstream validation should have
        refused it, and one bad image must not hide what the others show.
        """
        hits: list[Hit] = []
        reasons: list[str] = []
        for index, image in enumerate(images):
            field = f"images[{index}]"
            # 1. read the image
            try:
                read = (
                    self.reader.read_bytes(image) if isinstance(image, bytes | bytearray) else self.reader.read(image)
                )
            except ImageError as exc:
                reasons.append(f"{field} not read for text: {exc}")
                continue
            # 2. the text rules on what it reads, evidence located on the image
            if read.text:
                for hit in self.text_hits(field, read.text):
                    hits.append(Hit(hit.code, hit.score, hit.evidence, "image:ocr"))
                    for evidence in hit.evidence:
                        for line in read.lines_at(evidence.start, evidence.end):
                            reason = f'{field} box {list(line.box)} reads "{_quote(line.text)}"'
                            if reason not in reasons:
                                reasons.append(reason)
            # 3. QR codes: any code is a way off the platform; a link or app scheme is the strongest one
            if read.qr_codes:
                qr = self.reader.policy.qr
                score = max(qr.link_score if qr.is_link(code.payload) else qr.score for code in read.qr_codes)
                evidence = tuple(Evidence(field, 0, 0, code.payload) for code in read.qr_codes)
                hits.append(Hit("diversion.qr", score, evidence, "image:qr"))
                reasons += [f'{field} box {list(c.box)} holds a QR code: "{_quote(c.payload)}"' for c in read.qr_codes]
        return hits, reasons
