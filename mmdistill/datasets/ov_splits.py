"""Open-vocabulary detection splits: OV-COCO (48 base / 17 novel), OV-LVIS (rare = novel), synthetic world.

A split file is JSON ``{"base": [names...], "novel": [names...]}``. Training files keep only base-class
annotations; test files keep base + novel ones. All images are kept (mmdet's ``filter_cfg`` drops the
empty ones in training).
"""
from __future__ import annotations

import json
import os.path as osp
from collections import Counter
from typing import Callable, Iterable, Optional

from ..utils.atomic import write_atomic

# The OVR-CNN split of COCO 2017 (Zareian et al., 2021), COCO category names.
OV_COCO_BASE = (
    'person', 'bicycle', 'car', 'motorcycle', 'train', 'truck', 'boat', 'bench', 'bird', 'horse', 'sheep', 'bear',
    'zebra', 'giraffe', 'backpack', 'handbag', 'suitcase', 'frisbee', 'skis', 'kite', 'surfboard', 'bottle', 'fork',
    'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'pizza', 'donut', 'chair', 'bed',
    'toilet', 'tv', 'laptop', 'mouse', 'remote', 'microwave', 'oven', 'toaster', 'refrigerator', 'book', 'clock',
    'vase', 'toothbrush')
OV_COCO_NOVEL = (
    'airplane', 'bus', 'cat', 'dog', 'cow', 'elephant', 'umbrella', 'tie', 'snowboard', 'skateboard', 'cup', 'knife',
    'cake', 'couch', 'keyboard', 'sink', 'scissors')
# The 15 COCO classes outside the OV-COCO split.
OV_COCO_UNUSED = (
    'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'baseball bat', 'baseball glove', 'tennis racket',
    'wine glass', 'sports ball', 'hot dog', 'potted plant', 'dining table', 'cell phone', 'teddy bear', 'hair drier')
COCO_CLASSES = frozenset(OV_COCO_BASE + OV_COCO_NOVEL + OV_COCO_UNUSED)

OV_TRAIN_FILE = 'instances_train2017_ov_base.json'
OV_VAL_FILE = 'instances_val2017_ov_all.json'
LVIS_FREQUENCIES = ('r', 'c', 'f')
LVIS_IMAGE_ID_LISTS = ('neg_category_ids', 'not_exhaustive_category_ids')

COCO_HINT = ('download the COCO 2017 annotations (annotations_trainval2017.zip from cocodataset.org) '
             'and unzip them into {root}')
LVIS_HINT = ('download the LVIS v1 annotations (lvis_v1_train.json.zip and lvis_v1_val.json.zip from '
             'lvisdataset.org) and unzip them into {root}/annotations')
WORLD_HINT = 'generate the world first: python tools/data/make_synthetic_world.py --out {root}'


def read_json(path: str, hint: str) -> object:
    """Parsed JSON of `path`; a missing file raises FileNotFoundError naming it and saying how to get it."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} not found: {hint}')
    with open(path, encoding='utf-8') as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{path} is not valid JSON ({e}): {hint}') from e


def write_json_atomic(path: str, obj: object) -> None:
    """Write compact JSON to `path` atomically (:func:`~mmdistill.utils.atomic.write_atomic`)."""
    write_atomic(path, json.dumps(obj, separators=(',', ':')))


def _duplicates(names: Iterable[str]) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)


def check_split(split: object, source: str, keys: tuple[str, str] = ('base', 'novel')) -> dict[str, list[str]]:
    """Validate a two-list split (``{"base", "novel"}``; zero-shot segmentation: ``{"seen", "unseen"}``);
    errors name `source` and the offending item."""
    first, second = keys
    if not isinstance(split, dict):
        raise ValueError(f'{source}: a split must be a JSON object with "{first}" and "{second}" lists')
    for key in keys:
        if not isinstance(split.get(key), list):
            raise ValueError(f'{source}: missing key "{key}" (a list of class names)')
    for key in keys:
        duplicates = _duplicates(split[key])
        if duplicates:
            raise ValueError(f'{source}: duplicate {key} class names: {duplicates}')
    both = sorted(set(split[first]) & set(split[second]))
    if both:
        raise ValueError(f'{source}: classes both {first} and {second}: {both}')
    return {key: list(split[key]) for key in keys}


def load_split(path: str) -> dict[str, list[str]]:
    """The ``{"base": [...], "novel": [...]}`` split stored at `path`."""
    return check_split(read_json(path, 'expected a JSON split file {"base": [...], "novel": [...]}'), path)


def _category_ids(instances: dict, source: str) -> dict[str, int]:
    """Category name -> id of a COCO-style document; duplicate names raise ValueError."""
    names = [c['name'] for c in instances['categories']]
    duplicates = _duplicates(names)
    if duplicates:
        raise ValueError(f'{source}: duplicate category names: {duplicates}')
    return {c['name']: c['id'] for c in instances['categories']}


def make_ov_instances(instances: dict, split: dict, annotate: str, source: str = '<instances>') -> dict:
    """COCO-style document restricted to the split's classes.

    Categories named in the split are kept in the document's order with their original ids; ``annotate='base'``
    keeps only base-class annotations (training), ``'all'`` base + novel ones (testing). All images are kept.
    The input is not modified (the returned document shares its unchanged entries).
    """
    if annotate not in ('base', 'all'):
        raise ValueError(f"annotate must be 'base' or 'all', got {annotate!r}")
    split = check_split(split, source)
    ids = _category_ids(instances, source)
    missing = [n for n in split['base'] + split['novel'] if n not in ids]
    if missing:
        raise ValueError(f'{source}: split classes missing from the categories: {missing}')
    known = set(ids.values())
    unknown = [a for a in instances['annotations'] if a['category_id'] not in known]
    if unknown:
        raise ValueError(f'{source}: annotation {unknown[0].get("id")} (image {unknown[0].get("image_id")}) names '
                         f'category id {unknown[0]["category_id"]}, which is not in "categories" '
                         f'({len(unknown)} such annotations)')
    kept = set(split['base'] + split['novel'])
    annotated = {ids[n] for n in (split['base'] if annotate == 'base' else kept)}
    return dict(instances,
                categories=[c for c in instances['categories'] if c['name'] in kept],
                annotations=[a for a in instances['annotations'] if a['category_id'] in annotated],
                images=list(instances['images']))


def _drop_ids(image: dict, ids: set) -> dict:
    """`image` with `ids` removed from its LVIS category-id lists (a copy when one changes)."""
    lists = {k: [i for i in image[k] if i not in ids] for k in LVIS_IMAGE_ID_LISTS if k in image}
    return dict(image, **lists) if lists else image


def make_ov_lvis_train(instances: dict, source: str) -> tuple[dict, dict]:
    """(LVIS v1 training document without rare-class annotations, split {"base": c + f, "novel": r}).

    All categories are kept; rare ids also leave each image's ``neg_category_ids`` and
    ``not_exhaustive_category_ids``. The input is not modified.
    """
    categories = instances['categories']
    unmarked = [c.get('name', c.get('id')) for c in categories if c.get('frequency') not in LVIS_FREQUENCIES]
    if unmarked:
        raise ValueError(f'{source} is not an LVIS v1 instances file: categories without a frequency '
                         f"('r'/'c'/'f'), e.g. {unmarked[:5]}")
    _category_ids(instances, source)
    rare = {c['id'] for c in categories if c['frequency'] == 'r'}
    split = {'base': [c['name'] for c in categories if c['id'] not in rare],
             'novel': [c['name'] for c in categories if c['id'] in rare]}
    train = dict(instances,
                 annotations=[a for a in instances['annotations'] if a['category_id'] not in rare],
                 images=[_drop_ids(image, rare) for image in instances['images']],
                 categories=list(categories))
    return train, split


def _check_instances(instances: object, path: str, kind: str) -> dict:
    keys = ('images', 'annotations', 'categories')
    if not isinstance(instances, dict) or any(k not in instances for k in keys):
        raise ValueError(f'{path} is not a {kind} instances file (needs the keys {list(keys)})')
    return instances


def _check_coco_style(instances: object, path: str) -> dict:
    return _check_instances(instances, path, 'COCO-style')


def _check_coco(instances: object, path: str) -> dict:
    """`instances` if it is a COCO 2017 instances document (the 80 COCO categories), else ValueError."""
    instances = _check_instances(instances, path, 'COCO 2017')
    names = [c.get('name') for c in instances['categories']]
    if len(names) != len(COCO_CLASSES) or set(names) != COCO_CLASSES:
        raise ValueError(f'{path} is not a COCO 2017 instances file: expected the 80 COCO categories, found '
                         f'{len(names)} (unexpected: {sorted(set(map(str, names)) - COCO_CLASSES)[:5]})')
    return instances


def _is_fresh(output: str, inputs: Iterable[str]) -> bool:
    """True when `output` and all `inputs` exist and `output` is not older than any input."""
    return osp.isfile(output) and all(osp.isfile(i) and osp.getmtime(output) >= osp.getmtime(i) for i in inputs)


def write_ov_pair(train_file: str, val_file: str, split: dict, out_dir: str, hint: str,
                  check: Callable[[object, str], dict], split_file: Optional[str] = None) -> dict[str, str]:
    """Write the OV training file (base annotations) and test file (all) of a COCO-style train / val pair.

    `hint` tells how to get a missing input; `check(doc, path)` validates an input document. With `split_file`
    (where `split` was read from), an output not older than its input and the split file is kept as it is.
    """
    outputs = {'train': (train_file, osp.join(out_dir, OV_TRAIN_FILE), 'base'),
               'val': (val_file, osp.join(out_dir, OV_VAL_FILE), 'all')}
    for source, output, annotate in outputs.values():
        if split_file is not None and _is_fresh(output, (source, split_file)):
            continue
        instances = check(read_json(source, hint), source)
        write_json_atomic(output, make_ov_instances(instances, split, annotate, source))
    return {name: output for name, (_, output, _) in outputs.items()}


def prepare_ov_coco(coco_root: str, out_dir: Optional[str] = None) -> dict[str, str]:
    """Write the OV-COCO training / test annotations and split; return their paths (train, val, split)."""
    annotations = osp.join(coco_root, 'annotations')
    out_dir = out_dir or osp.join(annotations, 'ov')
    split = {'base': list(OV_COCO_BASE), 'novel': list(OV_COCO_NOVEL)}
    paths = write_ov_pair(osp.join(annotations, 'instances_train2017.json'),
                          osp.join(annotations, 'instances_val2017.json'),
                          split, out_dir, COCO_HINT.format(root=coco_root), _check_coco)
    paths['split'] = osp.join(out_dir, 'ov_coco_split.json')
    write_json_atomic(paths['split'], split)
    return paths


def prepare_ov_lvis(lvis_root: str, out_dir: Optional[str] = None) -> dict[str, str]:
    """Write the OV-LVIS training annotations (no rare-class boxes) and split; return their paths.

    The test file is LVIS v1 val itself (rare classes are the novel ones); it must exist.
    """
    annotations = osp.join(lvis_root, 'annotations')
    out_dir = out_dir or osp.join(annotations, 'ov')
    hint = LVIS_HINT.format(root=lvis_root)
    val_file = osp.join(annotations, 'lvis_v1_val.json')
    if not osp.isfile(val_file):
        raise FileNotFoundError(f'{val_file} not found: {hint}')
    train_file = osp.join(annotations, 'lvis_v1_train.json')
    instances = _check_instances(read_json(train_file, hint), train_file, 'LVIS v1')
    train, split = make_ov_lvis_train(instances, train_file)
    paths = {'train': osp.join(out_dir, 'lvis_v1_train_ov_norare.json'), 'val': val_file,
             'split': osp.join(out_dir, 'ov_lvis_split.json')}
    write_json_atomic(paths['train'], train)
    write_json_atomic(paths['split'], split)
    return paths


def prepare_ov_world(world_root: str) -> dict[str, str]:
    """Write the synthetic world's OV detection annotations (kept when up to date); return the paths."""
    split_file = osp.join(world_root, 'splits', 'ov_detection.json')
    hint = WORLD_HINT.format(root=world_root)
    if not osp.isfile(split_file):
        raise FileNotFoundError(f'{split_file} not found: {hint}')
    annotations = osp.join(world_root, 'annotations')
    paths = write_ov_pair(osp.join(annotations, 'instances_train2017.json'),
                          osp.join(annotations, 'instances_val2017.json'),
                          load_split(split_file), osp.join(annotations, 'ov'), hint, _check_coco_style,
                          split_file=split_file)
    paths['split'] = split_file
    return paths


def ov_summary(paths: dict[str, str]) -> str:
    """One line of counts of written OV files: images and annotations per file, base / novel classes."""
    parts = []
    for name in ('train', 'val'):
        if name in paths:
            doc = read_json(paths[name], 'run the preparation first')
            parts.append(f"{name}: {len(doc['images'])} images, {len(doc['annotations'])} annotations")
    split = load_split(paths['split'])
    parts.append(f"classes: {len(split['base'])} base / {len(split['novel'])} novel")
    return '; '.join(parts)
