"""Class names of a vocabulary: read, split into synonyms and checked, on the data side (no model code).

One reader for every place that takes class names from a user or a config (vocabularies, ``SeenClassLabels``,
names files of benchmarks, demos). The accepted forms of ``classes``:

* a list in label order whose entries are a name, a list / tuple of synonyms, or a string of synonyms
  separated by ``';'`` (``'aeroplane;airplane'``, as the class files of SCLIP / Cat-Seg give them);
* a comma-separated string (``'cat,dog;puppy'``);
* a file: ``.txt`` (one class a line, synonyms separated by ``';'``, blank and ``'#'`` lines skipped) or
  ``.json`` (a list, ``{"classes": [...]}`` or a split ``{"base": [...], "novel": [...]}``, base first);
* ``dict(dataset=TYPE)``: the ``METAINFO['classes']`` of a registered dataset (``'mmseg.ADE20KDataset'``).

Example:
    >>> parse_classes('cat;kitty, dog')
    [('cat', 'kitty'), ('dog',)]
    >>> class_names([('cat', 'kitty'), 'dog'])
    ['cat;kitty', 'dog']
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Sequence, Union

from ..registry import DATASETS

SYNONYM_SEPARATOR = ';'
ClassEntry = Union[str, Sequence[str]]
ClassesType = Union[str, dict, Sequence[ClassEntry]]


def check_class_names(names: Sequence[str], source: str = 'the vocabulary') -> list[str]:
    """The names as a list; a ValueError naming ``source`` for an empty list, empty or duplicate names."""
    names = [str(n).strip() for n in names]
    if not names:
        raise ValueError(f'{source} has no class names')
    empty = [i for i, n in enumerate(names) if not n]
    if empty:
        raise ValueError(f'{source}: class name number {empty[0]} is empty')
    seen, dups = set(), []
    for n in names:
        if n in seen and n not in dups:
            dups.append(n)
        seen.add(n)
    if dups:
        raise ValueError(f'{source} names these classes more than once: {dups}')
    return names


def dataset_classes(dataset: str) -> list[str]:
    """``METAINFO['classes']`` of a registered dataset type (``'mmdet.LVISV1Dataset'``, ``'mmseg.ADE20KDataset'``)."""
    cls = DATASETS.get(dataset)
    if cls is None:
        raise KeyError(f'classes=dict(dataset={dataset!r}): not a registered dataset type')
    return list(cls.METAINFO['classes'])


def _read_entries(classes: ClassesType) -> tuple[list[ClassEntry], str]:
    """The raw entries of ``classes`` in label order and a name of their source for messages."""
    if isinstance(classes, dict):
        unknown = set(classes) - {'dataset'}
        if unknown:
            raise ValueError(f'classes as a dict takes only dataset=TYPE, got keys {sorted(unknown)}')
        return dataset_classes(classes['dataset']), classes['dataset']
    if not isinstance(classes, str):
        return list(classes), 'the vocabulary'
    if osp.isfile(classes):
        if classes.endswith('.json'):
            with open(classes, encoding='utf-8') as f:
                data = json.load(f)
            if isinstance(data, dict):
                data = data['classes'] if 'classes' in data else data.get('base', []) + data.get('novel', [])
            return list(data), classes
        with open(classes, encoding='utf-8') as f:
            lines = [line.strip() for line in f]
        return [line for line in lines if line and not line.startswith('#')], classes
    return [t for t in classes.split(',') if t.strip()], f'the class names {classes!r}'


def parse_classes(classes: ClassesType, min_classes: int = 1) -> list[tuple[str, ...]]:
    """The names of every class in label order (see the module's forms of ``classes``).

    Args:
        classes: a list, a comma-separated string, a ``.txt`` / ``.json`` file or ``dict(dataset=TYPE)``.
        min_classes: fewest classes accepted (2 where each pixel takes the best class).

    Returns:
        One tuple of names per class, the first its main name.

    Raises:
        ValueError: no classes, fewer than ``min_classes``, a class without a name, or a name given twice
            (synonyms included); the message names the source.
    """
    entries, source = _read_entries(classes)
    parsed = []
    for i, entry in enumerate(entries):
        names = entry.split(SYNONYM_SEPARATOR) if isinstance(entry, str) else entry
        names = tuple(n for n in (str(n).strip() for n in names) if n)
        if not names:
            raise ValueError(f'class {i} of {source} ({entry!r}) has no name')
        parsed.append(names)
    if not parsed:
        raise ValueError(f'{source} has no classes')
    if len(parsed) < min_classes:
        raise ValueError(f'{source} has {len(parsed)} class(es) ({parsed!r}); at least {min_classes} are needed '
                         '(picking the best class would give one class everything: add e.g. "background")')
    check_class_names([n for names in parsed for n in names], f'{source} (synonyms included)')
    return parsed


def class_names(classes: ClassesType, min_classes: int = 1) -> list[str]:
    """One string per class in label order, synonyms joined by ``';'`` (accepted back by :func:`parse_classes`)."""
    return [SYNONYM_SEPARATOR.join(names) for names in parse_classes(classes, min_classes)]


__all__ = ['SYNONYM_SEPARATOR', 'ClassEntry', 'ClassesType', 'check_class_names', 'dataset_classes', 'parse_classes',
           'class_names']
