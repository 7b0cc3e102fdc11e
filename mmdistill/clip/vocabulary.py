"""Vocabularies: class names (lists, files, registered datasets) -> text embeddings of a CLIP text tower.

One place for what every zero-shot consumer (dense readouts, detectors, segmentors, demos)
needs: read the names, check them, and get ``(C, D)`` normalised embeddings, cached on disk.
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Optional, Sequence, Union

import torch

from ..registry import DATASETS
from .builder import build_clip_model, build_tokenizer
from .text import build_text_classifier, clean_class_name, clean_coco_stuff_name, model_identity

NAME_CLEANERS = {'default': clean_class_name, 'coco_stuff': lambda n: clean_class_name(clean_coco_stuff_name(n)),
                 'none': None}


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


def read_class_names(texts: Union[str, Sequence[str], dict]) -> list[str]:
    """Class names from a list, a comma-separated string (``'cat,dog'``), a file (one name per line)
    or ``dict(dataset=TYPE)`` (the ``METAINFO['classes']`` of a registered dataset, e.g. ``'mmdet.LVISV1Dataset'``).

    A ``.json`` file may hold a list, ``{"classes": [...]}`` or a split ``{"base": [...], "novel": [...]}``.
    """
    if isinstance(texts, dict):
        return check_class_names(resolve_class_names(texts['dataset']), texts['dataset'])
    if not isinstance(texts, str):
        return check_class_names(texts)
    if osp.isfile(texts):
        if texts.endswith('.json'):
            data = json.load(open(texts))
            if isinstance(data, dict):
                data = data['classes'] if 'classes' in data else data.get('base', []) + data.get('novel', [])
            return check_class_names(data, texts)
        lines = [line.strip() for line in open(texts, encoding='utf-8')]
        return check_class_names([line for line in lines if line and not line.startswith('#')], texts)
    return check_class_names([t for t in texts.split(',') if t.strip()], f'--texts {texts!r}')


def resolve_class_names(class_names: Union[Sequence[str], str]) -> list[str]:
    """A list of names, or the name of a registered dataset whose ``METAINFO['classes']`` to use."""
    if isinstance(class_names, str):
        dataset = DATASETS.get(class_names)
        if dataset is None:
            raise KeyError(f'class_names={class_names!r} is neither a list nor a registered dataset type')
        return list(dataset.METAINFO['classes'])
    return list(class_names)


def text_embeddings(arch: str, checkpoint: Optional[str], class_names: Sequence[str],
                    templates: Union[str, Sequence[str]] = 'vild', cache_dir: Optional[str] = None,
                    name_cleaner: str = 'default', **kwargs) -> torch.Tensor:
    """``(C, D)`` normalised class embeddings from the text tower of ``arch`` + ``checkpoint`` (cached).

    ``name_cleaner``: ``'default'`` ('_' -> ' ', '/' -> ' or '), ``'coco_stuff'`` (also drops
    '-merged' / '-other' / '-stuff') or ``'none'``. Other keyword arguments go to
    :func:`~mmdistill.clip.text.build_text_classifier` (e.g. ``background=True``).
    """
    if name_cleaner not in NAME_CLEANERS:
        raise ValueError(f'name_cleaner must be one of {sorted(NAME_CLEANERS)}, got {name_cleaner!r}')
    kwargs['name_cleaner'] = NAME_CLEANERS[name_cleaner]
    key = model_identity(arch, checkpoint) if checkpoint is not None else None
    return build_text_classifier(lambda: build_clip_model(arch, checkpoint).eval(), build_tokenizer(arch),
                                 class_names, templates=templates,
                                 cache_dir=cache_dir, cache_key=key, **kwargs)
