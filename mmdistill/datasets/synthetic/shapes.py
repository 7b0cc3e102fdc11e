"""Thing shapes as polygons, rasterised to binary masks, and the thing appearances painted on them."""
from __future__ import annotations

from functools import cache

import numpy as np
from PIL import Image, ImageDraw

from .noise import pixel_grid, rotated_coords
from .vocabulary import APPEARANCE_RGB


def _regular(n: int, radius: float = 1.0, start: float = -np.pi / 2) -> np.ndarray:
    angles = start + 2 * np.pi * np.arange(n) / n
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _star() -> np.ndarray:
    points = _regular(10)
    points[1::2] *= 0.45
    return points


def _heart() -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    points = np.stack([x, y], axis=1)
    points -= (points.max(0) + points.min(0)) / 2
    return points / np.abs(points).max()


def _cross(arm: float = 0.34) -> np.ndarray:
    a = arm
    return np.array([(-a, -1), (a, -1), (a, -a), (1, -a), (1, a), (a, a), (a, 1), (-a, 1), (-a, a),
                     (-1, a), (-1, -a), (-a, -a)], dtype=np.float64)


@cache
def shape_polygon(shape: str) -> np.ndarray:
    """Unit polygon (N, 2) of (x, y) in [-1, 1], y pointing down."""
    polygons = {
        'circle': lambda: _regular(32),
        'square': lambda: np.array([(-0.82, -0.82), (0.82, -0.82), (0.82, 0.82), (-0.82, 0.82)]),
        'diamond': lambda: np.array([(0.0, -1.0), (0.68, 0.0), (0.0, 1.0), (-0.68, 0.0)]),
        'star': _star,
        'heart': _heart,
        'triangle': lambda: np.array([(0.0, -0.95), (0.97, 0.8), (-0.97, 0.8)]),
        'cross': _cross,
        'hexagon': lambda: _regular(6),
    }
    return polygons[shape]()


def shape_mask(shape: str, size: int, angle: float) -> np.ndarray:
    """Boolean (size, size) mask of a shape rotated by `angle` radians, filling the square."""
    points = shape_polygon(shape)
    cos, sin = np.cos(angle), np.sin(angle)
    rotated = points @ np.array([[cos, sin], [-sin, cos]])
    rotated /= max(np.abs(rotated).max(), 1e-6)
    pixels = (rotated + 1.0) * (size - 1) / 2.0
    canvas = Image.new('L', (size, size), 0)
    ImageDraw.Draw(canvas).polygon([tuple(p) for p in pixels.round(3).tolist()], fill=1)
    return np.asarray(canvas, dtype=bool)


def _erode(mask: np.ndarray) -> np.ndarray:
    """4-neighbour binary erosion (pixels outside the array count as background)."""
    padded = np.pad(mask, 1)
    return (padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1]
            & padded[1:-1, :-2] & padded[1:-1, 2:])


def _flat_colour(rng: np.random.Generator, appearance: str, size: int) -> np.ndarray:
    """Saturated colour with a soft top-left light and slight grain."""
    yy, xx = pixel_grid(size, size)
    light = 1.12 - 0.24 * (yy + xx) / max(2 * size - 2, 1)
    base = np.asarray(APPEARANCE_RGB[appearance], np.float32) + rng.normal(0, 8, 3).astype(np.float32)
    grain = rng.normal(0, 4, (size, size, 1)).astype(np.float32)
    return base * light[..., None] + grain


def _stripes(rng: np.random.Generator, size: int) -> np.ndarray:
    """Black and white stripes at a random angle."""
    yy, xx = pixel_grid(size, size)
    u, _ = rotated_coords(yy, xx, rng.uniform(0, np.pi))
    period = max(3.0, size / rng.uniform(3.5, 5.0))
    on = ((u / period + rng.random()) % 1.0) < 0.5
    return np.where(on, np.float32(240.0), np.float32(25.0))[..., None].repeat(3, axis=2)


def _dots(rng: np.random.Generator, size: int) -> np.ndarray:
    """Black dots on a white ground, on a square lattice."""
    yy, xx = pixel_grid(size, size)
    spacing = max(4.0, size / rng.uniform(3.5, 4.5))
    dy, dx = (yy / spacing + rng.random()) % 1.0 - 0.5, (xx / spacing + rng.random()) % 1.0 - 0.5
    on = np.hypot(dy, dx) * spacing < max(1.1, 0.28 * spacing)
    return np.where(on, np.float32(20.0), np.float32(238.0))[..., None].repeat(3, axis=2)


def paint_thing(rng: np.random.Generator, appearance: str, mask: np.ndarray) -> np.ndarray:
    """RGB float32 (size, size, 3) of a thing whose shape is `mask`, with a dark 1-px outline."""
    size = mask.shape[0]
    if appearance == 'striped':
        rgb = _stripes(rng, size)
    elif appearance == 'dotted':
        rgb = _dots(rng, size)
    else:
        rgb = _flat_colour(rng, appearance, size)
    outline = mask & ~_erode(mask)
    return np.where(outline[..., None], rgb * 0.35, rgb)
