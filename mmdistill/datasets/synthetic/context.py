"""Context statistics: which thing class to draw, and whether an instance is in context.

An instance is *in context* when its class is native to the stuff under it (the majority stuff class
under its full, unoccluded mask) or when another instance of the scene is a co-occurring partner.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .vocabulary import NUM_THINGS, native_table, partner_table

NATIVE = native_table()
PARTNERS = partner_table()
ALL_THINGS = frozenset(range(NUM_THINGS))
REPEAT_WEIGHT = 0.35  # relative chance of drawing a class that is already in the scene


def _partners_of(classes: Sequence[int]) -> frozenset:
    return frozenset().union(*(PARTNERS[c] for c in classes))


def choose_thing(rng: np.random.Generator, want_in_context: bool, stuff: int, present: Sequence[int],
                 present_in_context: Sequence[bool]) -> int:
    """Draw a thing class for a new instance on `stuff`, given the classes already in the scene.

    In context: a native of the stuff or a partner of a present class, avoiding partners of
    out-of-context instances (which would turn them in context). Out of context: anything else.
    Classes already present are drawn less often, so that scenes are varied.
    """
    if want_in_context:
        blocked = _partners_of([c for c, ok in zip(present, present_in_context) if not ok])
        pool = (NATIVE[stuff] | _partners_of(present)) - blocked or NATIVE[stuff]
    else:
        pool = ALL_THINGS - NATIVE[stuff] - _partners_of(present) or ALL_THINGS - NATIVE[stuff]
    options = sorted(pool)
    weights = np.where(np.isin(options, list(present)), REPEAT_WEIGHT, 1.0)
    return int(rng.choice(options, p=weights / weights.sum()))


def in_context_flags(classes: Sequence[int], stuffs: Sequence[int]) -> list[bool]:
    """Per instance: native to the stuff under it, or partnered by another instance of the scene."""
    flags = []
    for k, (cls, stuff) in enumerate(zip(classes, stuffs)):
        others = [c for j, c in enumerate(classes) if j != k]
        flags.append(cls in NATIVE[stuff] or bool(PARTNERS[cls] & set(others)))
    return flags


def majority_stuff(stuff_map: np.ndarray, mask: np.ndarray) -> int:
    """Most frequent stuff index under a mask (ties go to the lower index)."""
    return int(np.bincount(stuff_map[mask]).argmax())
