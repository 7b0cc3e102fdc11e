"""Scene sampling and rendering: stuff regions, then objects placed with context and bounded occlusion."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Tuple

import numpy as np

from .context import choose_thing, in_context_flags, majority_stuff
from .layout import sample_stuff_map
from .shapes import paint_thing, shape_mask
from .textures import STUFF_PAINTERS
from .vocabulary import NUM_THINGS, STUFF_CLASSES, THING_PARTS, neighbour_table

NEIGHBOURS = neighbour_table()
OBJECT_COUNT_PROBS = (0.15, 0.25, 0.25, 0.2, 0.15)  # 1..5 objects
PLACEMENT_TRIES = 8


@dataclass(frozen=True)
class SceneConfig:
    """Knobs of the scene sampler; sizes are in pixels at a 96-px image and scale with image_size."""

    image_size: int = 96
    in_context_prob: float = 0.8
    closeup_prob: float = 0.25
    min_object_size: float = 12.0
    max_object_size: float = 48.0
    closeup_size: Tuple[float, float] = (0.6, 0.85)
    min_visible_fraction: float = 0.4
    max_rotation: float = 0.35

    @property
    def scale(self) -> float:
        return self.image_size / 96.0


@dataclass
class Scene:
    """One rendered scene and its ground truth (instances in painting order, later ones on top)."""

    image: np.ndarray  # (H, W, 3) uint8
    stuff_map: np.ndarray  # (H, W) stuff index of every pixel, before objects are painted
    instance_map: np.ndarray  # (H, W) index of the visible instance, -1 where stuff shows
    classes: List[int] = field(default_factory=list)  # thing index per instance
    context_stuff: List[int] = field(default_factory=list)  # majority stuff under each full mask
    full_areas: List[int] = field(default_factory=list)  # unoccluded area per instance
    in_context: List[bool] = field(default_factory=list)
    closeup: bool = False

    @property
    def semantic_map(self) -> np.ndarray:
        """(H, W) uint8 class ids: things 0..T-1, stuff T..T+S-1."""
        stuff = self.stuff_map + NUM_THINGS
        things = np.asarray(self.classes + [0], dtype=np.int64)[self.instance_map]
        return np.where(self.instance_map >= 0, things, stuff).astype(np.uint8)

    def instance_mask(self, k: int) -> np.ndarray:
        """Visible mask of instance k."""
        return self.instance_map == k

    def visible_stuff(self) -> List[Tuple[int, int]]:
        """(stuff index, visible area) of the stuff classes that show, largest first."""
        counts = np.bincount(self.stuff_map[self.instance_map < 0], minlength=len(STUFF_CLASSES))
        present = [(int(s), int(counts[s])) for s in np.flatnonzero(counts)]
        return sorted(present, key=lambda item: (-item[1], item[0]))


def paint_stuff(rng: np.random.Generator, stuff_map: np.ndarray, scale: float) -> np.ndarray:
    """Float RGB canvas with each stuff region filled by its texture."""
    h, w = stuff_map.shape
    canvas = np.zeros((h, w, 3), dtype=np.float32)
    for s in np.unique(stuff_map).tolist():
        texture = STUFF_PAINTERS[STUFF_CLASSES[s]](rng, h, w, scale)
        region = stuff_map == s
        canvas[region] = texture[region]
    return canvas


class _Builder:
    """Places instances one by one on a stuff layer, keeping every earlier one enough visible."""

    def __init__(self, rng: np.random.Generator, cfg: SceneConfig, stuff_map: np.ndarray) -> None:
        self.rng, self.cfg, self.stuff_map = rng, cfg, stuff_map
        self.canvas = paint_stuff(rng, stuff_map, cfg.scale)
        self.instance_map = np.full(stuff_map.shape, -1, dtype=np.int64)
        self.classes: List[int] = []
        self.stuffs: List[int] = []
        self.full_areas: List[int] = []
        self.visible: List[int] = []

    def try_place(self, want_in_context: bool, size: int, y0: int, x0: int) -> bool:
        """Draw a class for the box, rasterise it and paint it if no instance gets hidden too much."""
        rng, box = self.rng, (slice(y0, y0 + size), slice(x0, x0 + size))
        quarter = size // 4
        centre = self.stuff_map[y0 + quarter:y0 + size - quarter, x0 + quarter:x0 + size - quarter]
        cls = choose_thing(rng, want_in_context, int(np.bincount(centre.ravel()).argmax()),
                           self.classes, in_context_flags(self.classes, self.stuffs))
        appearance, shape = THING_PARTS[cls]
        mask = shape_mask(shape, size, rng.uniform(-self.cfg.max_rotation, self.cfg.max_rotation))
        lost = np.bincount(self.instance_map[box][mask] + 1, minlength=len(self.classes) + 1)[1:]
        remaining = np.asarray(self.visible, dtype=np.int64) - lost
        if np.any(remaining < self.cfg.min_visible_fraction * np.asarray(self.full_areas)):
            return False
        rgb = paint_thing(rng, appearance, mask)
        self.canvas[box][mask] = rgb[mask]
        self.instance_map[box][mask] = len(self.classes)
        self.visible = remaining.tolist() + [int(mask.sum())]
        self.full_areas.append(int(mask.sum()))
        self.classes.append(cls)
        self.stuffs.append(majority_stuff(self.stuff_map[box], mask))
        return True

    def scene(self, closeup: bool) -> Scene:
        image = np.clip(np.rint(self.canvas), 0, 255).astype(np.uint8)
        return Scene(image=image, stuff_map=self.stuff_map, instance_map=self.instance_map,
                     classes=self.classes, context_stuff=self.stuffs, full_areas=self.full_areas,
                     in_context=in_context_flags(self.classes, self.stuffs), closeup=closeup)


def _object_size(rng: np.random.Generator, cfg: SceneConfig) -> int:
    """Log-uniform side length, so that small objects are common."""
    side = np.exp(rng.uniform(np.log(cfg.min_object_size), np.log(cfg.max_object_size))) * cfg.scale
    return int(min(max(round(side), 4), cfg.image_size))


def render_scene(rng: np.random.Generator, cfg: SceneConfig | None = None, closeup: bool | None = None) -> Scene:
    """Sample and render one scene; `closeup` forces (or forbids) a single centred large object."""
    cfg = cfg or SceneConfig()
    n = cfg.image_size
    if closeup is None:
        closeup = bool(rng.random() < cfg.closeup_prob)
    stuff_map = sample_stuff_map(rng, n, n, NEIGHBOURS, num_regions=1 if closeup else None)
    builder = _Builder(rng, cfg, stuff_map)
    if closeup:
        size = int(round(rng.uniform(*cfg.closeup_size) * n))
        jitter = int(round(0.05 * n))
        y0, x0 = (np.clip((n - size) // 2 + rng.integers(-jitter, jitter + 1, 2), 0, n - size)).tolist()
        builder.try_place(bool(rng.random() < cfg.in_context_prob), size, y0, x0)
        return builder.scene(closeup=True)
    for _ in range(int(rng.choice(len(OBJECT_COUNT_PROBS), p=OBJECT_COUNT_PROBS)) + 1):
        want_in_context = bool(rng.random() < cfg.in_context_prob)
        for _ in range(PLACEMENT_TRIES):
            size = _object_size(rng, cfg)
            y0, x0 = rng.integers(0, n - size + 1, 2).tolist()
            if builder.try_place(want_in_context, size, y0, x0):
                break
    return builder.scene(closeup=False)
