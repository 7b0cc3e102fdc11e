"""On-disk formats: byte-stable PNG and JSON writers and the COCO-style JSON documents of a split."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Sequence

import numpy as np
from PIL import Image

from .vocabulary import NUM_THINGS, STUFF_CLASSES, THING_CLASSES, THING_PARTS

PNG_COMPRESS_LEVEL = 1  # fastest; also the smallest files for these textures
COCO_INFO = {'description': 'mmdistill synthetic world', 'version': '1.0', 'year': 2024,
             'contributor': 'mmdistill', 'url': '', 'date_created': '2024-01-01'}


def write_png(path: Path, array: np.ndarray) -> None:
    """PNG with fixed settings (no timestamps), so equal arrays give equal bytes."""
    Image.fromarray(array).save(path, format='PNG', compress_level=PNG_COMPRESS_LEVEL, optimize=False)


def write_json(path: Path, obj: object) -> None:
    """Compact JSON with sorted keys."""
    path.write_text(json.dumps(obj, sort_keys=True, separators=(',', ':')), encoding='utf-8')


def thing_categories() -> List[dict]:
    """COCO instance categories: things only, ids 1..T, supercategory = shape."""
    return [{'id': i + 1, 'name': name, 'supercategory': THING_PARTS[i][1]}
            for i, name in enumerate(THING_CLASSES)]


def panoptic_categories() -> List[dict]:
    """COCO panoptic categories: things (isthing 1) then stuff (isthing 0, ids T+1..T+S)."""
    things = [dict(c, isthing=1) for c in thing_categories()]
    stuff = [{'id': NUM_THINGS + i + 1, 'name': name, 'supercategory': 'stuff', 'isthing': 0}
             for i, name in enumerate(STUFF_CLASSES)]
    return things + stuff


def image_entries(records: Sequence[dict], image_size: int) -> List[dict]:
    return [{'id': r['image_id'], 'file_name': r['file_name'], 'height': image_size, 'width': image_size,
             'closeup': r['closeup']} for r in records]


def instances_document(records: Sequence[dict], image_size: int) -> dict:
    """COCO instances JSON (annotation ids 1.. in image, then painting order)."""
    annotations = [dict(inst, image_id=r['image_id']) for r in records for inst in r['instances']]
    for ann_id, ann in enumerate(annotations, start=1):
        ann['id'] = ann_id
    return {'info': COCO_INFO, 'licenses': [], 'images': image_entries(records, image_size),
            'annotations': annotations, 'categories': thing_categories()}


def captions_document(records: Sequence[dict], image_size: int) -> dict:
    """COCO captions JSON."""
    captions = [(r['image_id'], c) for r in records for c in r['captions']]
    annotations = [{'id': i, 'image_id': image_id, 'caption': c} for i, (image_id, c) in enumerate(captions, 1)]
    return {'info': COCO_INFO, 'licenses': [], 'images': image_entries(records, image_size),
            'annotations': annotations}


def panoptic_document(records: Sequence[dict], image_size: int) -> dict:
    """COCO panoptic JSON (segment PNGs share the image file names)."""
    annotations = [{'image_id': r['image_id'], 'file_name': r['file_name'], 'segments_info': r['segments']}
                   for r in records]
    return {'info': COCO_INFO, 'licenses': [], 'images': image_entries(records, image_size),
            'annotations': annotations, 'categories': panoptic_categories()}


def proposals_document(records: Sequence[dict]) -> List[dict]:
    """COCO results-format proposals of all images."""
    return [dict(p, image_id=r['image_id']) for r in records for p in r['proposals']]

