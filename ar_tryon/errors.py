"""Errors of the try-on library: each names the argument at fault so HTTP and CLI can point at it.

They subclass `InputError` (a `ValueError`) because every one of them is a problem with the caller's input
(no face in the photo, an unknown shade, an unreadable file), which the CLI turns into one line + exit 2 and
the HTTP layer into a 4xx with `param` set.
"""

from __future__ import annotations

from common.errors import InputError
from common.images import ImageError, ImageTooLargeError  # shared by every capability; re-exported here

__all__ = ["TryOnError", "ImageError", "ImageTooLargeError", "NoFaceError", "NoBodyError", "UnknownShadeError"]


class TryOnError(InputError):
    """Base class. `status` is the HTTP status a service should answer with; `param` the offending argument."""


class NoFaceError(TryOnError):
    """No face was found; the message says what usually helps."""


class NoBodyError(TryOnError):
    """No person / pose was found, or the landmarks a garment needs are not visible."""


class UnknownShadeError(TryOnError):
    """A SKU that is not in the shade catalog."""
