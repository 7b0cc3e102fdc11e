"""PASCAL Context preparation from its release files, without the Detail API (``tools/data/prepare_pascal_context.py``).

Two outputs under ``VOC2010/`` (docs/datasets.md):

* **59 / 60 classes** (mmseg's layout, what mmseg's ``pascal_context.py`` converter writes through the Detail
  API, which is not on PyPI): from ``trainval_merged.json`` (the Detail format: ``images`` with ``phase``,
  ``annos_segmentation`` with RLE masks whose ``category_id`` counts in the 459-label numbering of
  ``labels.txt``) to ``SegmentationClassContext/<name>.png`` (uint8: 0 background, ``1..59`` the classes in
  mmseg's order; any other label is background) and ``ImageSets/SegmentationContext/{train,val}.txt``.
  Masks are painted in file order, a later segment over an earlier one.
* **459 classes** (detectron2's layout of CAT-Seg / SAN): from ``trainval/<name>.mat`` (``LabelMap``: ``1..459``,
  ``0`` unlabelled) and ``labels.txt`` (``index: name`` lines) to ``annotations_detectron2/pc459_val/<name>.tif``
  (uint16, ``LabelMap - 1``, unlabelled ``65535``) for the val images, and ``pc459_classes.txt`` (the names in
  label order).
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Optional

import numpy as np
from mmengine.utils import track_iter_progress

from .generated_files import write_image, write_lines
from .seg_benchmarks import WIDE_IGNORE_INDEX

# The 59 classes of PASCAL Context 59 / 60 in mmseg's label order (label = position + 1) with their index in
# the release's labels.txt (the 459-label numbering of trainval_merged.json and trainval/*.mat).
CONTEXT59_LABEL_IDS = (
    ('aeroplane', 2), ('bag', 9), ('bed', 18), ('bedclothes', 19), ('bench', 22), ('bicycle', 23), ('bird', 25),
    ('boat', 31), ('book', 33), ('bottle', 34), ('building', 44), ('bus', 45), ('cabinet', 46), ('car', 59),
    ('cat', 65), ('ceiling', 68), ('chair', 72), ('cloth', 80), ('computer', 85), ('cow', 98), ('cup', 104),
    ('curtain', 105), ('dog', 113), ('door', 115), ('fence', 144), ('floor', 158), ('flower', 159), ('food', 162),
    ('grass', 187), ('ground', 189), ('horse', 207), ('keyboard', 220), ('light', 232), ('motorbike', 258),
    ('mountain', 259), ('mouse', 260), ('person', 284), ('plate', 295), ('platform', 296), ('pottedplant', 308),
    ('road', 324), ('rock', 326), ('sheep', 347), ('shelves', 349), ('sidewalk', 354), ('sign', 355), ('sky', 360),
    ('snow', 366), ('sofa', 368), ('table', 397), ('track', 415), ('train', 416), ('tree', 420), ('truck', 424),
    ('tvmonitor', 427), ('wall', 440), ('water', 445), ('window', 454), ('wood', 458))
NUM_FULL_LABELS = 459
MERGED_JSON = 'trainval_merged.json'
FULL_DIR = 'trainval'
LABELS_FILE = 'labels.txt'
CONTEXT_MAPS = 'SegmentationClassContext'
CONTEXT_LISTS = osp.join('ImageSets', 'SegmentationContext')
PC459_MAPS = osp.join('annotations_detectron2', 'pc459_val')
PC459_NAMES = 'pc459_classes.txt'


def context60_lookup() -> np.ndarray:
    """``(NUM_FULL_LABELS + 1,)`` uint8: 459-label index -> Context-60 label (0 = background)."""
    lookup = np.zeros(NUM_FULL_LABELS + 1, np.uint8)
    for label, (_, index) in enumerate(CONTEXT59_LABEL_IDS, start=1):
        lookup[index] = label
    return lookup


def paint_segments(height: int, width: int, segments: list[dict]) -> np.ndarray:
    """``(H, W)`` int64 459-label map of one image's ``annos_segmentation`` entries (0 where none)."""
    from pycocotools import mask as mask_utils
    label = np.zeros((height, width), np.int64)
    for segment in segments:
        rle = segment['segmentation']
        if isinstance(rle.get('counts'), list):  # uncompressed RLE
            rle = mask_utils.frPyObjects(rle, height, width)
        label[mask_utils.decode(rle).astype(bool)] = segment['category_id']
    return label


def prepare_context60(voc2010: str, progress: bool = True) -> dict[str, list[str]]:
    """``trainval_merged.json`` -> the 59 / 60-class maps and split lists (module doc); returns the split lists."""
    path = osp.join(voc2010, MERGED_JSON)
    with open(path, encoding='utf-8') as f:
        merged = json.load(f)
    for key in ('images', 'annos_segmentation'):
        if key not in merged:
            raise KeyError(f'{path}: no {key!r} (PASCAL Context in the Detail format expected)')
    segments: dict[int, list[dict]] = {}
    for segment in merged['annos_segmentation']:
        segments.setdefault(segment['image_id'], []).append(segment)
    lookup = context60_lookup()
    splits: dict[str, list[str]] = {'train': [], 'val': []}
    images = merged['images']
    for image in (track_iter_progress(images) if progress else images):
        name = osp.splitext(image['file_name'])[0]
        label = paint_segments(image['height'], image['width'], segments.get(image['image_id'], []))
        label[(label < 0) | (label > NUM_FULL_LABELS)] = 0
        write_image(osp.join(voc2010, CONTEXT_MAPS, f'{name}.png'), lookup[label])
        if image.get('phase') in splits:
            splits[image['phase']].append(name)
    for split, names in splits.items():
        write_lines(osp.join(voc2010, CONTEXT_LISTS, f'{split}.txt'), sorted(names))
    return splits


def read_full_labels(path: str) -> list[str]:
    """The ``NUM_FULL_LABELS`` names of ``labels.txt`` (``index: name`` lines) in index order."""
    names: dict[int, str] = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            if ':' in line:
                index, name = line.split(':', 1)
                names[int(index)] = name.strip()
    if sorted(names) != list(range(1, NUM_FULL_LABELS + 1)):
        raise ValueError(f'{path}: expected the indices 1-{NUM_FULL_LABELS} once each, '
                         f'found {len(names)} lines with indices {min(names, default=None)}-{max(names, default=None)}')
    return [names[i] for i in range(1, NUM_FULL_LABELS + 1)]


def prepare_context459(voc2010: str, val_list: Optional[str] = None, progress: bool = True) -> list[str]:
    """``trainval/*.mat`` + ``labels.txt`` -> the 459-class val maps and names file (module doc); returns the
    converted names. ``val_list`` defaults to ``ImageSets/SegmentationContext/val.txt`` (written by
    :func:`prepare_context60`)."""
    from scipy.io import loadmat
    val_list = val_list or osp.join(voc2010, CONTEXT_LISTS, 'val.txt')
    if not osp.isfile(val_list):
        raise FileNotFoundError(f'val image list not found: {val_list!r} (written from {MERGED_JSON}, '
                                'or name one with --val-list)')
    write_lines(osp.join(voc2010, PC459_NAMES), read_full_labels(osp.join(voc2010, LABELS_FILE)))
    with open(val_list, encoding='utf-8') as f:
        names = [line.strip() for line in f if line.strip()]
    for name in (track_iter_progress(names) if progress else names):
        mat = osp.join(voc2010, FULL_DIR, f'{name}.mat')
        if not osp.isfile(mat):
            raise FileNotFoundError(f'{mat!r} not found ({val_list!r} names {name!r})')
        label_map = loadmat(mat)['LabelMap'].astype(np.int64)
        label = np.where(label_map > 0, label_map - 1, WIDE_IGNORE_INDEX).astype(np.uint16)
        write_image(osp.join(voc2010, PC459_MAPS, f'{name}.tif'), label)
    return names


def prepare_pascal_context(voc2010: str, val_list: Optional[str] = None, progress: bool = True) -> list[str]:
    """Convert what the release files under ``voc2010`` allow (module doc); returns what was written.

    Raises:
        FileNotFoundError: neither ``trainval_merged.json`` nor ``trainval/`` + ``labels.txt`` is there.
    """
    done = []
    if osp.isfile(osp.join(voc2010, MERGED_JSON)):
        splits = prepare_context60(voc2010, progress)
        done.append(f'{CONTEXT_MAPS}/ ({len(splits["train"])} train, {len(splits["val"])} val images)')
    if osp.isdir(osp.join(voc2010, FULL_DIR)) and osp.isfile(osp.join(voc2010, LABELS_FILE)):
        names = prepare_context459(voc2010, val_list, progress)
        done.append(f'{PC459_MAPS}/ ({len(names)} val images), {PC459_NAMES}')
    if not done:
        raise FileNotFoundError(f'nothing to convert in {voc2010!r}: expected {MERGED_JSON} (59 / 60 classes) '
                                f'and / or {FULL_DIR}/*.mat with {LABELS_FILE} (459 classes)')
    return done
