"""Procedural stuff textures: each one recognisable from colour and texture in a small patch.

Every painter maps (rng, height, width, scale) to a float32 (H, W, 3) RGB image in [0, 255];
`scale` is image_size / 96 so that texture periods follow the image resolution.
"""
from __future__ import annotations

from typing import Callable, Dict

import numpy as np

from .noise import pixel_grid, rotated_coords, value_noise

Painter = Callable[[np.random.Generator, int, int, float], np.ndarray]


def _tint(rng: np.random.Generator, rgb: tuple, spread: float = 8.0) -> np.ndarray:
    """A base colour with a little per-image jitter."""
    return np.asarray(rgb, dtype=np.float32) + rng.normal(0.0, spread, 3).astype(np.float32)


def _shade(base: np.ndarray, tone: np.ndarray) -> np.ndarray:
    """Multiply a base colour by a per-pixel tone map."""
    return base[None, None, :] * tone[..., None]


def grass(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Green with vertical blade streaks and patchy tone."""
    blades = value_noise(rng, h, w, max(2, round(3 / scale)), round(w / (2.5 * scale)))
    patches = value_noise(rng, h, w, 3, 3)
    grain = rng.random((h, w), dtype=np.float32)
    tone = 0.55 + 0.45 * blades + 0.2 * patches + 0.12 * grain
    return _shade(_tint(rng, (62, 128, 42)), tone)


def water(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Deep blue with horizontal, gently warped waves and bright crests."""
    yy, xx = pixel_grid(h, w)
    period = rng.uniform(6.0, 9.0) * scale
    warp = 2.5 * scale * np.sin(2 * np.pi * xx / (rng.uniform(18.0, 32.0) * scale) + rng.uniform(0, 2 * np.pi))
    wave = np.sin(2 * np.pi * (yy + warp) / period + rng.uniform(0, 2 * np.pi))
    crest = np.clip((wave - 0.7) / 0.3, 0.0, 1.0)[..., None]
    body = _shade(_tint(rng, (35, 85, 165)), 0.85 + 0.15 * wave)
    return body * (1 - 0.7 * crest) + 0.7 * crest * np.float32(235.0)


def sand(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Pale beige with fine grain and faint diagonal ripples."""
    yy, xx = pixel_grid(h, w)
    u, _ = rotated_coords(yy, xx, rng.uniform(0, np.pi))
    ripple = np.sin(2 * np.pi * u / (rng.uniform(5.0, 8.0) * scale))
    grain = rng.random((h, w), dtype=np.float32)
    tone = 0.9 + 0.04 * ripple + 0.14 * grain + 0.06 * value_noise(rng, h, w, 3, 3)
    return _shade(_tint(rng, (205, 178, 128)), tone)


def brick_wall(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Running-bond red bricks with light mortar joints."""
    yy, xx = pixel_grid(h, w)
    brick_h = max(4, round(rng.uniform(7.0, 9.0) * scale))
    brick_w = 2 * brick_h
    mortar = max(1, round(scale))
    yy = yy + rng.integers(brick_h)
    row = (yy // brick_h).astype(np.int64)
    shifted = xx + (row % 2) * (brick_w // 2) + rng.integers(brick_w)
    col = (shifted // brick_w).astype(np.int64)
    tones = rng.uniform(0.75, 1.1, (row.max() + 1, col.max() + 1)).astype(np.float32)
    grain = rng.random((h, w), dtype=np.float32)
    bricks = _shade(_tint(rng, (158, 62, 42)), tones[row, col] + 0.12 * grain)
    joint = ((yy % brick_h) < mortar) | ((shifted % brick_w) < mortar)
    return np.where(joint[..., None], _tint(rng, (200, 195, 185), 4.0), bricks)


def sky(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Vertical blue gradient with soft white clouds."""
    yy, _ = pixel_grid(h, w)
    t = (yy / max(h - 1, 1))[..., None]
    gradient = (1 - t) * _tint(rng, (95, 160, 230)) + t * _tint(rng, (170, 208, 245))
    clouds = value_noise(rng, h, w, 3, 4) * 0.7 + value_noise(rng, h, w, 6, 8) * 0.3
    cover = np.clip((clouds - rng.uniform(0.5, 0.65)) * 3.0, 0.0, 0.85)[..., None]
    return gradient * (1 - cover) + cover * np.float32(248.0)


def snow(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Near white with blue-grey drifts and sparse sparkles."""
    drifts = value_noise(rng, h, w, 3, 3)
    grain = rng.random((h, w), dtype=np.float32)
    base = _tint(rng, (236, 240, 248), 4.0)
    shadow = np.asarray((-26, -18, -4), dtype=np.float32)
    out = base + (drifts[..., None] * shadow) + 6.0 * grain[..., None]
    return np.where((grain > 0.985)[..., None], np.float32(255.0), out)


def wooden_floor(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Brown planks (horizontal or vertical) with dark seams and wavy grain."""
    yy, xx = pixel_grid(h, w)
    if rng.random() < 0.5:
        yy, xx = xx, yy
    plank_w = max(5, round(rng.uniform(9.0, 13.0) * scale))
    across = yy + rng.integers(plank_w)
    plank = (across // plank_w).astype(np.int64)
    tones = rng.uniform(0.8, 1.15, plank.max() + 1).astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, plank.max() + 1).astype(np.float32)
    grain = np.sin(2 * np.pi * (across + 1.2 * np.sin(xx / (6.0 * scale) + phase[plank])) / (2.6 * scale))
    wood = _shade(_tint(rng, (150, 96, 52)), tones[plank] + 0.1 * grain)
    seam = (across % plank_w) < max(1, round(scale))
    return np.where(seam[..., None], np.float32(60.0), wood)


def road(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Dark grey asphalt grain, sometimes with a dashed lane marking."""
    yy, xx = pixel_grid(h, w)
    grain = rng.random((h, w), dtype=np.float32)
    tone = 0.82 + 0.3 * grain + 0.12 * value_noise(rng, h, w, 4, 4)
    out = _shade(_tint(rng, (82, 82, 86), 5.0), tone)
    if rng.random() < 0.5:
        u, v = rotated_coords(yy - h / 2, xx - w / 2, rng.uniform(0, np.pi))
        offset = rng.uniform(-0.3, 0.3) * min(h, w)
        dash = (np.abs(v - offset) < 1.2 * scale) & ((u // (8 * scale)) % 2 == 0)
        out = np.where(dash[..., None], _tint(rng, (235, 215, 120), 6.0), out)
    return out


STUFF_PAINTERS: Dict[str, Painter] = {
    'grass': grass, 'water': water, 'sand': sand, 'brick wall': brick_wall,
    'sky': sky, 'snow': snow, 'wooden floor': wooden_floor, 'road': road,
}
