"""Captions of a scene from varied templates, using the exact class names of the vocabulary.

The first caption names every thing class present and the main stuff; the others vary wording,
order and focus (a subset of objects, one object with its own surroundings, a close-up).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence

import numpy as np

from .scene import Scene, SceneConfig
from .vocabulary import STUFF_CLASSES, STUFF_LOCATION, STUFF_NOUN, THING_CLASSES

NUMBER_WORDS = ('one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight')
FULL_TEMPLATES = (
    '{objs} {loc}.',
    'a photo of {objs} {loc}.',
    'an image of {objs} {loc}.',
    '{noun} with {objs}.',
    'a picture of {noun} with {objs}.',
    'a scene with {objs} {loc}.',
)
NEIGHBOUR_SUFFIXES = (', next to {noun2}', ', with {noun2} nearby', ' and {noun2}')
PAIR_TEMPLATES = ('{a} next to {b}.', '{a} and {b}.', 'a photo of {a} and {b}.', '{a} near {b}.')
SINGLE_TEMPLATES = ('{obj} {loc}.', 'a photo of {obj} {loc}.', 'we see {obj} {loc}.')
CLOSEUP_TEMPLATES = ('a close-up photo of {obj}.', 'a photo of {obj}.', 'a close-up of {obj} {loc}.',
                     'a large {name} {loc}.')
MAIN_STUFF_FRACTION = 0.15
SMALL_SIDE, LARGE_SIDE = 16.0, 32.0  # sqrt(full area) at 96 px for "small" / "large"


@dataclass(frozen=True)
class _Group:
    """All instances of one thing class in a scene."""

    cls: int
    count: int
    size_word: str
    stuff: int


def _article(phrase: str) -> str:
    return ('an ' if phrase[0] in 'aeiou' else 'a ') + phrase


def _plural(name: str) -> str:
    return name + ('es' if name.endswith(('s', 'x', 'sh', 'ch')) else 's')


def _groups(scene: Scene, cfg: SceneConfig) -> List[_Group]:
    """Thing classes of the scene in painting order, with count, size word and surrounding stuff."""
    groups: List[_Group] = []
    for cls in dict.fromkeys(scene.classes):
        members = [k for k, c in enumerate(scene.classes) if c == cls]
        side = np.sqrt(scene.full_areas[members[0]]) / cfg.scale
        size_word = 'small' if side < SMALL_SIDE else 'large' if side > LARGE_SIDE else ''
        groups.append(_Group(cls, len(members), size_word, scene.context_stuff[members[0]]))
    return groups


def _object_phrase(rng: np.random.Generator, group: _Group) -> str:
    name = THING_CLASSES[group.cls]
    if group.count > 1:
        return f'{NUMBER_WORDS[group.count - 1]} {_plural(name)}'
    if group.size_word and rng.random() < 0.6:
        name = f'{group.size_word} {name}'
    return _article(name)


def _join(phrases: Sequence[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ', '.join(phrases[:-1]) + ' and ' + phrases[-1]


def _full_caption(rng: np.random.Generator, groups: List[_Group], stuffs: List[int]) -> str:
    objs = _join([_object_phrase(rng, groups[i]) for i in rng.permutation(len(groups))])
    main = STUFF_CLASSES[stuffs[0]]
    caption = FULL_TEMPLATES[rng.integers(len(FULL_TEMPLATES))].format(
        objs=objs, loc=STUFF_LOCATION[main], noun=STUFF_NOUN[main])
    if len(stuffs) > 1:
        suffix = NEIGHBOUR_SUFFIXES[rng.integers(len(NEIGHBOUR_SUFFIXES))]
        caption = caption[:-1] + suffix.format(noun2=STUFF_NOUN[STUFF_CLASSES[stuffs[1]]]) + '.'
    return caption


def _focused_caption(rng: np.random.Generator, groups: List[_Group], closeup: bool) -> str:
    """A caption about one object (with its own surroundings) or a pair of objects."""
    picked = rng.permutation(len(groups))
    if len(groups) > 1 and rng.random() < 0.5:
        a, b = (_object_phrase(rng, groups[i]) for i in picked[:2])
        return PAIR_TEMPLATES[rng.integers(len(PAIR_TEMPLATES))].format(a=a, b=b)
    group = groups[picked[0]]
    templates = CLOSEUP_TEMPLATES if closeup else SINGLE_TEMPLATES
    return templates[rng.integers(len(templates))].format(
        obj=_object_phrase(rng, group), name=THING_CLASSES[group.cls],
        loc=STUFF_LOCATION[STUFF_CLASSES[group.stuff]])


def make_captions(rng: np.random.Generator, scene: Scene, cfg: SceneConfig) -> List[str]:
    """Two to five distinct captions of a scene."""
    groups = _groups(scene, cfg)
    visible = scene.visible_stuff() or [(int(np.bincount(scene.stuff_map.ravel()).argmax()), 0)]
    min_area = MAIN_STUFF_FRACTION * scene.stuff_map.size
    stuffs = [s for s, area in visible if area >= min_area] or [visible[0][0]]
    wanted = int(rng.integers(2, 6))
    captions = [_full_caption(rng, groups, stuffs)]
    for _ in range(8 * wanted):
        if len(captions) == wanted:
            break
        full = rng.random() < 0.4
        caption = _full_caption(rng, groups, stuffs) if full else _focused_caption(rng, groups, scene.closeup)
        if caption not in captions:
            captions.append(caption)
    return captions
