"""One-Euro filter (Casiez et al., CHI 2012) over landmark arrays: steady when still, responsive when moving.

A plain low-pass filter either jitters (high cutoff) or lags (low cutoff). The One-Euro filter adapts its
cutoff to the signal's speed: `cutoff = min_cutoff + beta * |speed|`. A still face gets a very low cutoff
(sub-pixel steadiness); a turning head raises it so shades follow without visible lag.

Speeds are measured in pixels per second and are normalised by the face size (`scale`), so the same
parameters work for a small face in a 1080p frame and a close-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["OneEuroOptions", "OneEuroFilter"]


@dataclass(frozen=True)
class OneEuroOptions:
    """Filter parameters.

    Attributes:
        min_cutoff: Hz, in (0, 30]. Cutoff when still; lower = steadier, more lag on slow drifts.
        beta: >= 0. How fast the cutoff rises with speed (speed is in face-sizes per second).
        d_cutoff: Hz, in (0, 30]. Cutoff used to smooth the speed estimate itself.
    """

    min_cutoff: float = 1.0
    beta: float = 20.0
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.min_cutoff <= 30:
            raise ValueError(f"min_cutoff must be in (0, 30] Hz, got {self.min_cutoff}")
        if self.beta < 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")
        if not 0 < self.d_cutoff <= 30:
            raise ValueError(f"d_cutoff must be in (0, 30] Hz, got {self.d_cutoff}")


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters an array of any shape (e.g. 478x3 landmarks) element-wise; state is kept between calls."""

    def __init__(self, options: OneEuroOptions | None = None) -> None:
        self.options = options or OneEuroOptions()
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def reset(self) -> None:
        self._x = self._dx = self._t = None

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        """Filter one sample.

        Args:
            x: the new sample (float array, same shape every call).
            t: its timestamp in seconds (monotonic; a non-increasing timestamp counts as 1/30 s later).
            scale: the object's size in the same units as `x` (e.g. face width in px); speeds are divided by it.
        """
        x = np.asarray(x, dtype=np.float32)
        if self._x is None or self._x.shape != x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x
        dt = t - self._t if self._t is not None and t > self._t else 1.0 / 30.0
        self._t = t
        opts = self.options
        dx = (x - self._x) / dt
        a_d = _alpha(opts.d_cutoff, dt)
        self._dx = self._dx + a_d * (dx - self._dx)
        speed = np.abs(self._dx) / max(scale, 1e-6)
        a = _alpha(opts.min_cutoff + opts.beta * speed, dt)
        self._x = self._x + a * (x - self._x)
        return self._x.copy()
