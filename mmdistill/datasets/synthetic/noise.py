"""Vectorised procedural noise used by the stuff textures and the region layouts."""
from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=64)
def _smoothstep_interpolation(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) matrix that resamples n_in grid values to n_out pixels with smoothstep weights."""
    pos = (np.arange(n_out) + 0.5) * (n_in - 1) / n_out
    lo = np.minimum(np.floor(pos).astype(np.int64), n_in - 2)
    frac = pos - lo
    frac = frac * frac * (3.0 - 2.0 * frac)
    weights = np.zeros((n_out, n_in), dtype=np.float32)
    rows = np.arange(n_out)
    weights[rows, lo] = 1.0 - frac
    weights[rows, lo + 1] = frac
    return weights


def value_noise(rng: np.random.Generator, height: int, width: int, cells_y: int, cells_x: int) -> np.ndarray:
    """Smooth value noise in [0, 1] of shape (height, width) with about cells_y x cells_x features."""
    grid = rng.random((max(cells_y, 1) + 1, max(cells_x, 1) + 1), dtype=np.float32)
    return _smoothstep_interpolation(height, grid.shape[0]) @ grid @ _smoothstep_interpolation(
        width, grid.shape[1]).T


@lru_cache(maxsize=64)
def pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Read-only float (y, x) coordinate arrays of shape (height, width)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    yy.setflags(write=False)
    xx.setflags(write=False)
    return yy, xx


def rotated_coords(yy: np.ndarray, xx: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates (u along the direction `angle`, v across it)."""
    cos, sin = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    return xx * cos + yy * sin, -xx * sin + yy * cos
