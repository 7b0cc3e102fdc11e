"""Ground truth of a scene in COCO terms: instance RLEs, panoptic segments and maps, semantic map.

Category ids: things 1..T (instances and panoptic), stuff T+1..T+S (panoptic).
Panoptic segment ids: instances 1..n in painting order, then the visible stuff classes in class order.
"""
from __future__ import annotations

from typing import List

import numpy as np
from pycocotools import mask as mask_utils

from .scene import Scene
from .vocabulary import NUM_STUFF, NUM_THINGS, STUFF_CLASSES


def mask_bbox(mask: np.ndarray) -> List[int]:
    """Tight COCO box [x, y, w, h] (in whole pixels) of a non-empty mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]


def encode_rle(mask: np.ndarray) -> dict:
    """Compressed COCO RLE with `counts` as str."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {'size': [int(v) for v in rle['size']], 'counts': rle['counts'].decode('ascii')}


def id_to_rgb(ids: np.ndarray) -> np.ndarray:
    """COCO panoptic encoding: id = R + 256 * G + 256^2 * B."""
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], axis=-1).astype(np.uint8)


def panoptic_ids(scene: Scene) -> tuple[np.ndarray, List[int]]:
    """(H, W) panoptic segment ids and the stuff index of each stuff segment (in id order)."""
    n = len(scene.classes)
    stuffs = sorted(s for s, _ in scene.visible_stuff())
    lut = np.zeros(NUM_STUFF, dtype=np.int64)
    lut[stuffs] = n + 1 + np.arange(len(stuffs))
    return np.where(scene.instance_map >= 0, scene.instance_map + 1, lut[scene.stuff_map]), stuffs


def instance_records(scene: Scene) -> List[dict]:
    """COCO instance annotations (no ids yet), plus `in_context` and the stuff under each instance."""
    records = []
    for k, cls in enumerate(scene.classes):
        mask = scene.instance_mask(k)
        records.append({
            'category_id': cls + 1, 'bbox': mask_bbox(mask), 'area': int(mask.sum()), 'iscrowd': 0,
            'segmentation': encode_rle(mask), 'in_context': bool(scene.in_context[k]),
            'context_stuff': STUFF_CLASSES[scene.context_stuff[k]]})
    return records


def panoptic_segments(scene: Scene, ids: np.ndarray, stuffs: List[int]) -> List[dict]:
    """COCO panoptic `segments_info` for a segment-id map."""
    categories = [c + 1 for c in scene.classes] + [NUM_THINGS + s + 1 for s in stuffs]
    segments = []
    for seg_id, category_id in enumerate(categories, start=1):
        mask = ids == seg_id
        segments.append({'id': seg_id, 'category_id': category_id, 'bbox': mask_bbox(mask),
                         'area': int(mask.sum()), 'iscrowd': 0})
    return segments
