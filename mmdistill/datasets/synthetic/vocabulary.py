"""Vocabulary of the synthetic world: thing and stuff classes, their looks and their context.

Things are compositional: every appearance (a colour or a pattern) is used with three shapes and
every shape with three appearances, so no single attribute identifies a class.
Context is fixed here (not drawn from the seed) so that docs and evaluations can name it.
"""
from __future__ import annotations

from typing import Dict, Tuple

APPEARANCES: Tuple[str, ...] = ('red', 'orange', 'yellow', 'green', 'blue', 'purple', 'striped', 'dotted')
SHAPES: Tuple[str, ...] = ('circle', 'square', 'diamond', 'star', 'heart', 'triangle', 'cross', 'hexagon')
# Appearance i is combined with shapes i, i+1 and i+3 (mod 8): each shape gets exactly three appearances.
_SHAPE_OFFSETS = (0, 1, 3)

THING_PARTS: Tuple[Tuple[str, str], ...] = tuple(
    (appearance, SHAPES[(i + offset) % len(SHAPES)])
    for i, appearance in enumerate(APPEARANCES) for offset in _SHAPE_OFFSETS)
THING_CLASSES: Tuple[str, ...] = tuple(f'{appearance} {shape}' for appearance, shape in THING_PARTS)

STUFF_CLASSES: Tuple[str, ...] = (
    'grass', 'water', 'sand', 'brick wall', 'sky', 'snow', 'wooden floor', 'road')

# Mean RGB of the flat-coloured appearances; patterns are painted in black and white.
APPEARANCE_RGB: Dict[str, Tuple[int, int, int]] = {
    'red': (220, 30, 35),
    'orange': (250, 135, 15),
    'yellow': (250, 225, 30),
    'green': (30, 185, 60),
    'blue': (30, 70, 225),
    'purple': (145, 45, 200),
}

# Things that belong on each stuff class (the way boats go with water).
NATIVE_THINGS: Dict[str, Tuple[str, ...]] = {
    'grass': ('red circle', 'yellow star', 'blue hexagon', 'purple cross'),
    'water': ('orange diamond', 'dotted circle', 'striped hexagon'),
    'sand': ('red star', 'blue triangle', 'dotted hexagon'),
    'brick wall': ('yellow diamond', 'purple circle', 'striped square', 'green cross'),
    'sky': ('orange heart', 'green star', 'dotted diamond'),
    'snow': ('red square', 'blue heart', 'purple triangle'),
    'wooden floor': ('orange square', 'striped cross', 'green heart'),
    'road': ('yellow triangle', 'red square', 'striped hexagon'),
}

# Thing pairs that go together (symmetric); each pair spans two different native stuffs.
COOCCURRING_THINGS: Tuple[Tuple[str, str], ...] = (
    ('red circle', 'blue triangle'),
    ('yellow star', 'purple circle'),
    ('orange diamond', 'green cross'),
    ('dotted circle', 'striped square'),
    ('blue heart', 'orange square'),
    ('green star', 'red star'),
    ('purple cross', 'dotted hexagon'),
    ('striped cross', 'yellow diamond'),
)

# Stuff classes that may share a scene with each stuff class (as secondary regions).
STUFF_NEIGHBOURS: Dict[str, Tuple[str, ...]] = {
    'grass': ('sky', 'water', 'road', 'sand'),
    'water': ('sky', 'sand', 'grass', 'snow'),
    'sand': ('water', 'sky', 'grass'),
    'brick wall': ('road', 'grass', 'wooden floor', 'sky'),
    'sky': ('grass', 'water', 'sand', 'snow', 'road', 'brick wall'),
    'snow': ('sky', 'water', 'road'),
    'wooden floor': ('brick wall',),
    'road': ('grass', 'brick wall', 'sky', 'snow', 'sand'),
}

# Caption phrases for stuff: a location ("on grass") and a noun phrase ("a brick wall").
STUFF_LOCATION: Dict[str, str] = {
    'grass': 'on grass', 'water': 'on water', 'sand': 'on sand', 'brick wall': 'in front of a brick wall',
    'sky': 'in the sky', 'snow': 'in the snow', 'wooden floor': 'on a wooden floor', 'road': 'on the road',
}
STUFF_NOUN: Dict[str, str] = {
    'grass': 'grass', 'water': 'water', 'sand': 'sand', 'brick wall': 'a brick wall',
    'sky': 'the sky', 'snow': 'snow', 'wooden floor': 'a wooden floor', 'road': 'a road',
}

NUM_THINGS = len(THING_CLASSES)
NUM_STUFF = len(STUFF_CLASSES)


def thing_index(name: str) -> int:
    """Index (0-based) of a thing class name."""
    return THING_CLASSES.index(name)


def stuff_index(name: str) -> int:
    """Index (0-based) of a stuff class name."""
    return STUFF_CLASSES.index(name)


def native_table() -> Tuple[frozenset, ...]:
    """Per stuff index, the frozenset of native thing indices."""
    return tuple(frozenset(thing_index(t) for t in NATIVE_THINGS[s]) for s in STUFF_CLASSES)


def partner_table() -> Tuple[frozenset, ...]:
    """Per thing index, the frozenset of co-occurring thing indices."""
    partners: list = [set() for _ in THING_CLASSES]
    for a, b in COOCCURRING_THINGS:
        partners[thing_index(a)].add(thing_index(b))
        partners[thing_index(b)].add(thing_index(a))
    return tuple(frozenset(p) for p in partners)


def neighbour_table() -> Tuple[Tuple[int, ...], ...]:
    """Per stuff index, the stuff indices that may share its scene."""
    return tuple(tuple(stuff_index(n) for n in STUFF_NEIGHBOURS[s]) for s in STUFF_CLASSES)


def affinity_tables() -> dict:
    """The context tables by name, as written to meta.json."""
    return {
        'native_things': {s: list(NATIVE_THINGS[s]) for s in STUFF_CLASSES},
        'cooccurring_things': [list(pair) for pair in COOCCURRING_THINGS],
        'stuff_neighbours': {s: list(STUFF_NEIGHBOURS[s]) for s in STUFF_CLASSES},
    }
