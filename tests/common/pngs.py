"""PNGs for limit tests: real ones of many pixels and few bytes, and headers that claim any size."""

from __future__ import annotations

import base64
import functools
import io
import zlib

from PIL import Image

__all__ = ["big_png", "forged_png", "b64"]


@functools.cache
def big_png(width: int, height: int) -> bytes:
    """A real, decodable 1-bit PNG: 39.7 MP (7300x5440) is about 5 KB, and 120 MB once decoded to RGB."""
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def forged_png(width: int, height: int) -> bytes:
    """A 10x10 PNG whose header claims `width` x `height` (valid checksum); its pixels cannot be decoded."""
    data = bytearray(big_png(10, 10))
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
