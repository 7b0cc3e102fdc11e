"""Stuff layout of a scene: one to three stuff regions with straight, wavy or blob-shaped boundaries."""
from __future__ import annotations

import numpy as np

from .noise import pixel_grid, rotated_coords, value_noise
from .vocabulary import NUM_STUFF, stuff_index

SKY = stuff_index('sky')
REGION_COUNT_PROBS = (0.3, 0.45, 0.25)


def sample_stuff_classes(rng: np.random.Generator, neighbours: tuple, num_regions: int) -> list[int]:
    """A first stuff class drawn uniformly, then distinct neighbours of it."""
    first = int(rng.integers(NUM_STUFF))
    options = neighbours[first]
    extra = rng.choice(len(options), size=min(num_regions - 1, len(options)), replace=False)
    return [first] + [options[i] for i in sorted(extra.tolist())]


def _region_fractions(rng: np.random.Generator, n: int) -> np.ndarray:
    """Area fractions with the first region the largest."""
    if n == 2:
        first = rng.uniform(0.55, 0.8)
        return np.array([first, 1 - first])
    first = rng.uniform(0.45, 0.65)
    second = rng.uniform(0.35, 0.65) * (1 - first)
    return np.array([first, second, 1 - first - second])


def _band_field(rng: np.random.Generator, h: int, w: int, horizon: bool) -> np.ndarray:
    """Scalar field whose level sets are straight or wavy region boundaries."""
    yy, xx = pixel_grid(h, w)
    angle = np.pi / 2 + rng.uniform(-0.25, 0.25) if horizon else rng.uniform(0, 2 * np.pi)
    field, _ = rotated_coords(yy, xx, angle)
    if rng.random() < 0.5:
        field = field + rng.uniform(0.08, 0.2) * max(h, w) * value_noise(rng, h, w, 2, 4)
    return field


def _split_by_quantiles(field: np.ndarray, labels: list[int], fractions: np.ndarray) -> np.ndarray:
    """Label map giving labels[k] to the k-th slice (by value) of the field with the given area fraction."""
    edges = np.quantile(field, np.cumsum(fractions)[:-1])
    return np.asarray(labels, dtype=np.int64)[np.searchsorted(edges, field)]


def sample_stuff_map(rng: np.random.Generator, h: int, w: int, neighbours: tuple,
                     num_regions: int | None = None) -> np.ndarray:
    """(H, W) map of stuff indices with one to three regions."""
    if num_regions is None:
        num_regions = int(rng.choice(3, p=REGION_COUNT_PROBS)) + 1
    classes = sample_stuff_classes(rng, neighbours, num_regions)
    if len(classes) == 1:
        return np.full((h, w), classes[0], dtype=np.int64)
    fractions = _region_fractions(rng, len(classes))
    if len(classes) == 2 and SKY not in classes and rng.random() < 0.35:
        blob = value_noise(rng, h, w, 3, 3)
        return _split_by_quantiles(-blob, classes[::-1], fractions[::-1])
    order = rng.permutation(len(classes))
    if SKY in classes:
        sky_pos = classes.index(SKY)
        order = np.concatenate([[sky_pos], order[order != sky_pos]])
    field = _band_field(rng, h, w, horizon=SKY in classes)
    return _split_by_quantiles(field, [classes[i] for i in order], fractions[order])
