"""Class splits drawn from the seed: base/novel things (OV detection), seen/unseen classes (zero-shot seg).

Novel things are compositional: the appearance and the shape of every novel class also occur among the
base classes. The unseen classes of zero-shot segmentation are the novel things plus a quarter of the stuff.
"""
from __future__ import annotations

import numpy as np

from .vocabulary import NUM_STUFF, NUM_THINGS, STUFF_CLASSES, THING_CLASSES, THING_PARTS

SPLIT_STREAM = 2  # seed-sequence stream of the splits (0 and 1 are the train and val images)
HELD_OUT_FRACTION = 0.25
MAX_DRAWS = 10000


def _compositional(novel: set) -> bool:
    base = [THING_PARTS[i] for i in range(NUM_THINGS) if i not in novel]
    appearances, shapes = {a for a, _ in base}, {s for _, s in base}
    return all(THING_PARTS[i][0] in appearances and THING_PARTS[i][1] in shapes for i in novel)


def _draw_novel(rng: np.random.Generator) -> list[int]:
    count = round(HELD_OUT_FRACTION * NUM_THINGS)
    for _ in range(MAX_DRAWS):
        novel = set(rng.choice(NUM_THINGS, size=count, replace=False).tolist())
        if _compositional(novel):
            return sorted(novel)
    raise RuntimeError('no compositional novel split found')


def make_splits(seed: int) -> dict:
    """{'ov_detection': {'base', 'novel'}, 'zero_shot_segmentation': {'seen', 'unseen'}} as class names."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, SPLIT_STREAM]))
    novel = _draw_novel(rng)
    unseen_stuff = sorted(rng.choice(NUM_STUFF, size=round(HELD_OUT_FRACTION * NUM_STUFF), replace=False).tolist())
    all_classes = THING_CLASSES + STUFF_CLASSES
    unseen = {THING_CLASSES[i] for i in novel} | {STUFF_CLASSES[i] for i in unseen_stuff}
    return {
        'ov_detection': {'base': [THING_CLASSES[i] for i in range(NUM_THINGS) if i not in novel],
                         'novel': [THING_CLASSES[i] for i in novel]},
        'zero_shot_segmentation': {'seen': [c for c in all_classes if c not in unseen],
                                   'unseen': [c for c in all_classes if c in unseen]},
    }
