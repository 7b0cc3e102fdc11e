"""Tiny data sets in the layouts the configs name, for checking a config before a real run.

:func:`write_check_data` takes a dataset config (``type``, ``data_root``, ``ann_file``, ``data_prefix``...,
paths already pointing into a scratch folder) and writes a few generated images with valid annotations
exactly where that dataset class reads them. Files derived by a preparation command (the OV-COCO / OV-LVIS
annotations, the synthetic world) are made by running that command's function on generated raw files, so
the layouts here are the documented ones (docs/datasets.md). Existing files are kept: data sets sharing a
root (train / val of one benchmark) share their files.

Supported: COCO instances (and OV-COCO), COCO captions, COCO images (+ proposals), COCO panoptic, LVIS v1
(and OV-LVIS), image folders, every mmseg segmentation data set (VOC + aug lists, PASCAL Context 59 / 60,
COCO-Stuff 171, COCO-Object, ADE-150, Cityscapes...), ADE-847 / PASCAL Context 459 (16-bit maps + names
files) and the synthetic world.
"""
from __future__ import annotations

import inspect
import json
import os
import os.path as osp
from typing import Callable, Optional

import cv2
import numpy as np

from .ov_splits import OV_TRAIN_FILE, OV_VAL_FILE, prepare_ov_coco, prepare_ov_lvis, prepare_ov_world

NUM_IMAGES = 2
# COCO 2017 category ids of the 80 classes, in mmdet's CocoDataset class order.
COCO_CATEGORY_IDS = tuple(i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83))
COCO_URL = 'http://images.cocodataset.org/'
WRAPPERS = ('ConcatDataset', 'RepeatDataset', 'ClassBalancedDataset', 'MultiImageMixDataset')
WORLD_MARKER = 'meta.json'


class CheckDataError(ValueError):
    """A dataset config this module cannot write data for."""


def image_names(split: str, num: int = NUM_IMAGES) -> list[str]:
    """COCO-style file names (no extension) of a split's generated images."""
    return [f'{index + 1:012d}' for index in range(num)] if split else [f'check_{index:06d}' for index in range(num)]


def render_image(index: int, size: tuple[int, int]) -> np.ndarray:
    """A ``(H, W, 3)`` uint8 BGR picture: a smooth gradient with a few coloured blocks."""
    h, w = size
    rng = np.random.default_rng(index)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), np.full_like(xx, 96)], -1)
    for box in region_boxes(size):
        x1, y1, x2, y2 = box
        img[y1:y2, x1:x2] = rng.integers(0, 256, 3)
    return img.astype(np.uint8)


def region_boxes(size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Four non-overlapping ``(x1, y1, x2, y2)`` blocks tiling most of an image (objects / label regions)."""
    h, w = size
    hh, hw = h // 2, w // 2
    return [(2, 2, hw - 2, hh - 2), (hw + 2, 2, w - 2, hh - 2), (2, hh + 2, hw - 2, h - 2),
            (hw + 2, hh + 2, w - 2, h - 2)]


def write_image(path: str, img: np.ndarray) -> None:
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    if not cv2.imwrite(path, img):
        raise OSError(f'cannot write image {path!r}')


def write_json(path: str, obj: object) -> None:
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f)


def join(root: Optional[str], path: Optional[str]) -> str:
    """``path`` under ``root`` as mmengine's BaseDataset joins them (absolute paths kept)."""
    if not path:
        return root or ''
    return path if osp.isabs(path) or not root else osp.join(root, path)


def spread(num_classes: int, count: int = 4) -> list[int]:
    """``count`` class indices spread over ``range(num_classes)`` (first, last and between)."""
    return sorted({round(i * (num_classes - 1) / max(count - 1, 1)) for i in range(count)})


# ---------------------------------------------------------------------------------------------------- COCO
def object_boxes(index: int, size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """The objects of image ``index``: 4 blocks, or 3 on odd images (per-image arrays of different lengths, as in
    real data)."""
    return region_boxes(size)[:4 - index % 2]


def coco_instances(split: str, size: tuple[int, int], categories: list[dict], labelled: list[int],
                   num: int = NUM_IMAGES, lvis: bool = False) -> dict:
    """A COCO (or LVIS v1) instances document: ``num`` images, one box + polygon per object
    (:func:`object_boxes`), classes ``labelled`` (category indices) in turn."""
    h, w = size
    images, annotations = [], []
    for i, name in enumerate(image_names(split, num)):
        image = dict(id=i + 1, width=w, height=h)
        if lvis:
            image.update(coco_url=f'{COCO_URL}{split}/{name}.jpg', neg_category_ids=[],
                         not_exhaustive_category_ids=[])
        else:
            image['file_name'] = f'{name}.jpg'
        images.append(image)
        for j, (x1, y1, x2, y2) in enumerate(object_boxes(i, size)):
            category = categories[labelled[(i + j) % len(labelled)]]
            annotations.append(dict(id=len(annotations) + 1, image_id=i + 1, category_id=category['id'],
                                    bbox=[x1, y1, x2 - x1, y2 - y1], area=(x2 - x1) * (y2 - y1), iscrowd=0,
                                    segmentation=[[x1, y1, x2, y1, x2, y2, x1, y2]]))
    return dict(images=images, annotations=annotations, categories=categories,
                info=dict(description='generated by mmdistill.datasets.check_data'), licenses=[])


def coco_categories() -> list[dict]:
    from mmdet.datasets import CocoDataset
    return [dict(id=i, name=n, supercategory='thing')
            for i, n in zip(COCO_CATEGORY_IDS, CocoDataset.METAINFO['classes'])]


def write_coco_split(root: str, split: str, size: tuple[int, int], num: int = NUM_IMAGES) -> str:
    """``<root>/annotations/instances_<split>.json`` (the 80 COCO classes) and ``<root>/<split>/*.jpg``."""
    path = osp.join(root, 'annotations', f'instances_{split}.json')
    if not osp.isfile(path):
        categories = coco_categories()
        write_json(path, coco_instances(split, size, categories, spread(len(categories), 6), num))
    write_images(osp.join(root, split), [f'{n}.jpg' for n in image_names(split, num)], size)
    return path


def write_images(folder: str, names: list[str], size: tuple[int, int]) -> None:
    for i, name in enumerate(names):
        path = osp.join(folder, name)
        if not osp.isfile(path):
            write_image(path, render_image(i, size))


def coco_root_and_split(ds: dict) -> tuple[str, str]:
    """(COCO root, split name such as ``train2017``) of a COCO-style dataset config."""
    ann_file = join(ds.get('data_root'), ds['ann_file'])
    folder = osp.dirname(ann_file)
    while osp.basename(folder) in ('ov', 'annotations'):
        folder = osp.dirname(folder)
    return folder, 'val2017' if ('val' in osp.basename(ann_file) or ds.get('test_mode')) else 'train2017'


def write_coco_detection(ds: dict, size: tuple[int, int]) -> None:
    """COCO instances; the OV-COCO files through ``prepare_ov_coco`` on generated raw COCO files."""
    root, split = coco_root_and_split(ds)
    ann_file = join(ds.get('data_root'), ds['ann_file'])
    for s in ('train2017', 'val2017'):
        write_coco_split(root, s, size)
    if osp.basename(ann_file) in (OV_TRAIN_FILE, OV_VAL_FILE) and not osp.isfile(ann_file):
        prepare_ov_coco(root, osp.dirname(ann_file))
    elif not osp.isfile(ann_file):
        write_json(ann_file, json.load(open(osp.join(root, 'annotations', f'instances_{split}.json'))))
    img_dir = join(ds.get('data_root'), (ds.get('data_prefix') or {}).get('img', f'{split}/'))
    write_images(img_dir, [f'{n}.jpg' for n in image_names(split)], size)


def write_coco_images(ds: dict, size: tuple[int, int]) -> None:
    """The images of a COCO file (``CocoImageDataset``), and its proposals file if one is named."""
    root, split = coco_root_and_split(ds)
    ann_file = join(ds.get('data_root'), ds['ann_file'])
    if not osp.isfile(ann_file):
        write_json(ann_file, json.load(open(write_coco_split(root, split, size))))
    img_dir = join(ds.get('data_root'), (ds.get('data_prefix') or {}).get('img_path', ''))
    write_images(img_dir, [f'{n}.jpg' for n in image_names(split)], size)
    if ds.get('proposal_file'):
        write_proposals(join(ds.get('data_root'), ds['proposal_file']), size)


def write_proposals(path: str, size: tuple[int, int], num: int = NUM_IMAGES) -> None:
    """Class-agnostic proposals (COCO results): the blocks and a few shifted boxes per image."""
    if osp.isfile(path):
        return
    entries = []
    for image_id in range(1, num + 1):
        for j, (x1, y1, x2, y2) in enumerate(object_boxes(image_id - 1, size) + [(0, 0, size[1] // 2, size[0] // 2)]):
            entries.append(dict(image_id=image_id, bbox=[x1, y1, x2 - x1, y2 - y1], score=1.0 - 0.1 * j,
                                category_id=1))
    write_json(path, entries)


def write_coco_captions(ds: dict, size: tuple[int, int]) -> None:
    """A COCO captions file (two captions per image) and its images."""
    root, split = coco_root_and_split(ds)
    ann_file = join(ds.get('data_root'), ds['ann_file'])
    if not osp.isfile(ann_file):
        names = image_names(split)
        images = [dict(id=i + 1, file_name=f'{n}.jpg', width=size[1], height=size[0]) for i, n in enumerate(names)]
        captions = ['a photo of a red block on a gradient', 'four coloured squares in a picture']
        annotations = [dict(id=2 * i + k + 1, image_id=i + 1, caption=captions[k])
                       for i in range(len(names)) for k in range(2)]
        write_json(ann_file, dict(images=images, annotations=annotations))
    img_dir = join(ds.get('data_root'), (ds.get('data_prefix') or {}).get('img_path', ''))
    write_images(img_dir, [f'{n}.jpg' for n in image_names(split)], size)


def write_coco_panoptic(ds: dict, size: tuple[int, int]) -> None:
    """A COCO panoptic file (the 133 classes; each image: 2 things + 2 stuff segments) with its PNGs."""
    from mmdet.datasets import CocoPanopticDataset
    root, split = coco_root_and_split(ds)
    ann_file = join(ds.get('data_root'), ds['ann_file'])
    prefix = ds.get('data_prefix') or {}
    seg_dir = join(ds.get('data_root'), prefix.get('seg', f'annotations/panoptic_{split}/'))
    img_dir = join(ds.get('data_root'), prefix.get('img', f'{split}/'))
    meta = CocoPanopticDataset.METAINFO
    things, stuff = list(meta['thing_classes']), list(meta['stuff_classes'])
    categories = ([dict(id=i, name=n, isthing=1, supercategory='thing') for i, n in zip(COCO_CATEGORY_IDS, things)]
                  + [dict(id=92 + i, name=n, isthing=0, supercategory='stuff') for i, n in enumerate(stuff)])
    names = image_names(split)
    write_images(img_dir, [f'{n}.jpg' for n in names], size)
    if osp.isfile(ann_file):
        return
    images, annotations = [], []
    labelled = spread(len(things), 2) + [len(things) + s for s in spread(len(stuff), 2)]
    for i, name in enumerate(names):
        ids = np.zeros(size, dtype=np.int64)
        segments = []
        for j, (x1, y1, x2, y2) in enumerate(object_boxes(i, size)):
            segment_id = j + 1 + 10 * i
            ids[y1:y2, x1:x2] = segment_id
            category = categories[labelled[(i + j) % len(labelled)]]
            segments.append(dict(id=segment_id, category_id=category['id'], iscrowd=0,
                                 bbox=[x1, y1, x2 - x1, y2 - y1], area=(x2 - x1) * (y2 - y1)))
        rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], -1).astype(np.uint8)
        write_image(osp.join(seg_dir, f'{name}.png'), rgb[..., ::-1])
        images.append(dict(id=i + 1, file_name=f'{name}.jpg', width=size[1], height=size[0]))
        annotations.append(dict(image_id=i + 1, file_name=f'{name}.png', segments_info=segments))
    write_json(ann_file, dict(images=images, annotations=annotations, categories=categories))


# ---------------------------------------------------------------------------------------------------- LVIS
def lvis_categories() -> list[dict]:
    """The 1203 LVIS v1 classes (mmdet's names), frequencies cycling f / c / r."""
    from mmdet.datasets import LVISV1Dataset
    return [{'id': i + 1, 'name': n, 'synonyms': [n], 'frequency': 'fcr'[i % 3], 'image_count': 1,
             'instance_count': 1, 'synset': f'{n}.n.01', 'def': n}
            for i, n in enumerate(LVISV1Dataset.METAINFO['classes'])]


def write_lvis(ds: dict, size: tuple[int, int]) -> None:
    """LVIS v1 train / val files (images found through ``coco_url``); OV-LVIS through ``prepare_ov_lvis``."""
    ann_file = join(ds.get('data_root'), ds['ann_file'])
    root = osp.dirname(ann_file)
    while osp.basename(root) in ('ov', 'annotations'):
        root = osp.dirname(root)
    categories = lvis_categories()
    labelled = [0, 1, 2, 3, 4, 5]  # frequent, common and rare classes
    for split, file in (('train2017', 'lvis_v1_train.json'), ('val2017', 'lvis_v1_val.json')):
        path = osp.join(root, 'annotations', file)
        if not osp.isfile(path):
            write_json(path, coco_instances(split, size, categories, labelled, lvis=True))
        img_dir = join(join(ds.get('data_root'), (ds.get('data_prefix') or {}).get('img', '')), split)
        write_images(img_dir, [f'{n}.jpg' for n in image_names(split)], size)
    if not osp.isfile(ann_file):
        prepare_ov_lvis(root, osp.dirname(ann_file))


# ------------------------------------------------------------------------------------------- folders, world
def write_image_folder(ds: dict, size: tuple[int, int]) -> None:
    folder = join(ds.get('data_root'), (ds.get('data_prefix') or {}).get('img_path', ''))
    write_images(folder, [f'{n}.jpg' for n in image_names('')], size)


def write_world(root: str, image_size: int = 96) -> None:
    """A tiny synthetic world (4 train, 2 val images) with its OV detection files (prepare_ov_world)."""
    from .synthetic import generate_world
    if not osp.isfile(osp.join(root, WORLD_MARKER)):
        generate_world(root, seed=0, num_train=4, num_val=2, image_size=image_size, workers=1, progress=False)
    if not osp.isfile(osp.join(root, 'annotations', 'ov', OV_TRAIN_FILE)):
        prepare_ov_world(root)


# ---------------------------------------------------------------------------------------------- segmentation
def seg_dataset_class(type_name: str) -> Optional[type]:
    """The registered class of a segmentation dataset type (mmdistill's or mmseg's), else None."""
    import mmseg.datasets  # noqa: F401  (registers mmseg's datasets)
    from mmseg.datasets import BaseSegDataset
    from mmseg.registry import DATASETS

    from . import seg_benchmarks  # noqa: F401  (ADE-847, Context-459, COCO-Object)
    cls = DATASETS.get(type_name.split('.')[-1])
    return cls if isinstance(cls, type) and issubclass(cls, BaseSegDataset) else None


def init_default(cls: type, name: str, fallback: object) -> object:
    """Default of ``name`` in ``cls.__init__`` (the first class of the MRO that takes it)."""
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        parameter = inspect.signature(init).parameters.get(name)
        if parameter is not None and parameter.default is not inspect.Parameter.empty:
            return parameter.default
    return fallback


def write_segmentation(ds: dict, cls: type, size: tuple[int, int]) -> None:
    """Images and label maps of a segmentation dataset class in its own layout (suffixes, zero-label
    reduction, 16-bit maps, list files, names files), each map holding four classes spread over the labels."""
    root = ds.get('data_root')
    prefix = ds.get('data_prefix') or {}
    img_suffix = ds.get('img_suffix', init_default(cls, 'img_suffix', '.jpg'))
    seg_suffix = ds.get('seg_map_suffix', init_default(cls, 'seg_map_suffix', '.png'))
    reduce_zero = bool(ds.get('reduce_zero_label', init_default(cls, 'reduce_zero_label', False)))
    classes_file = ds.get('classes_file') or init_default(cls, 'classes_file', None)
    if classes_file:
        num_classes = cls.NUM_CLASSES
        names_path = join(root, classes_file)
        if not osp.isfile(names_path):
            os.makedirs(osp.dirname(names_path) or '.', exist_ok=True)
            with open(names_path, 'w', encoding='utf-8') as f:
                f.write(''.join(f'class {i}\n' for i in range(num_classes)))
    else:
        num_classes = len(cls.METAINFO['classes'])
        if cls.__name__ == 'COCOObjectDataset':  # maps hold COCO-Stuff train ids
            num_classes = 171
    names = image_names('')
    if 'leftImg8bit' in img_suffix:  # Cityscapes: one folder per city
        names = [f'frankfurt/frankfurt_{n}' for n in names]
    img_dir, seg_dir = join(root, prefix.get('img_path', '')), join(root, prefix.get('seg_map_path', ''))
    wide = seg_suffix.endswith(('.tif', '.tiff'))
    labels = [c + int(reduce_zero) for c in spread(num_classes, 4)]
    for i, name in enumerate(names):
        img_path = osp.join(img_dir, name + img_suffix)
        if not osp.isfile(img_path):
            write_image(img_path, render_image(i, size))
        seg_path = osp.join(seg_dir, name + seg_suffix)
        if not osp.isfile(seg_path):
            label = np.full(size, 0 if reduce_zero else (65535 if wide else 255), np.uint16 if wide else np.uint8)
            for j, (x1, y1, x2, y2) in enumerate(region_boxes(size)):
                label[y1:y2, x1:x2] = labels[(i + j) % len(labels)]
            write_image(seg_path, label)
    if ds.get('ann_file'):
        ann_file = join(root, ds['ann_file'])
        if not osp.isfile(ann_file):
            os.makedirs(osp.dirname(ann_file), exist_ok=True)
            with open(ann_file, 'w', encoding='utf-8') as f:
                f.write(''.join(f'{n}\n' for n in names))


# ---------------------------------------------------------------------------------------------------- entry
WRITERS: dict[str, Callable[[dict, tuple[int, int]], None]] = {
    'CocoDataset': write_coco_detection,
    'CocoImageDataset': write_coco_images,
    'CocoCaptionDataset': write_coco_captions,
    'CocoPanopticDataset': write_coco_panoptic,
    'LVISV1Dataset': write_lvis,
    'LVISDataset': write_lvis,
    'ImageFolderDataset': write_image_folder,
}


def write_check_data(ds: dict, size: tuple[int, int] = (96, 128), world_roots: tuple[str, ...] = ()) -> None:
    """Write the files that dataset config ``ds`` reads (its paths already in a scratch folder).

    Args:
        ds: a dataset config (``type`` and its arguments); dataset wrappers are followed.
        size: ``(H, W)`` of the generated images.
        world_roots: synthetic-world roots (generated with :func:`write_world`): datasets under them are
            left to the world.

    Raises:
        CheckDataError: a dataset type with no writer.
    """
    type_name = str(ds.get('type', '')).split('.')[-1]
    if type_name in WRAPPERS:
        for child in ds.get('datasets') or [ds.get('dataset')]:
            write_check_data(child, size, world_roots)
        return
    paths = [p for p in (ds.get('data_root'), ds.get('ann_file')) if isinstance(p, str)]
    if any(p.startswith(tuple(r.rstrip('/') for r in world_roots)) for p in paths) and world_roots:
        return
    if type_name in WRITERS:
        WRITERS[type_name](ds, size)
        return
    cls = seg_dataset_class(type_name)
    if cls is None:
        raise CheckDataError(f'no generated layout for dataset type {ds.get("type")!r} '
                             f'(known: {sorted(WRITERS)} and the segmentation datasets)')
    write_segmentation(ds, cls, size)
