"""RPN-like class-agnostic proposals: jittered true boxes plus random boxes, scored by quality."""
from __future__ import annotations

import numpy as np

JITTERS_PER_BOX = 3
RANDOM_BOXES = 8


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) xywh boxes."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    union = a[:, None, 2:].prod(2) + b[None, :, 2:].prod(2) - inter
    return inter / np.maximum(union, 1e-9)


def _clip_boxes(xyxy: np.ndarray, size: int) -> np.ndarray:
    """Clip xyxy boxes to the image, keep at least 2 px per side, return xywh."""
    xyxy = np.clip(xyxy, 0, size)
    xyxy[:, 2:] = np.maximum(xyxy[:, 2:], np.minimum(xyxy[:, :2] + 2, size))
    xyxy[:, :2] = np.minimum(xyxy[:, :2], xyxy[:, 2:] - 2)
    return np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)


def make_proposals(rng: np.random.Generator, gt_boxes: np.ndarray, image_size: int) -> list[dict]:
    """Proposals for one image (without image_id), best score first, rounded for stable JSON."""
    gt = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    centres = np.repeat(gt[:, :2] + gt[:, 2:] / 2, JITTERS_PER_BOX, axis=0)
    sizes = np.repeat(gt[:, 2:], JITTERS_PER_BOX, axis=0) * np.exp(rng.normal(0, 0.2, (len(centres), 2)))
    centres = centres + rng.normal(0, 0.12, centres.shape) * sizes
    jittered = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
    corners = rng.uniform(0, image_size, (RANDOM_BOXES, 2))
    extents = rng.uniform(0.08, 0.7, (RANDOM_BOXES, 2)) * image_size
    random = np.concatenate([corners, corners + extents], axis=1)
    boxes = _clip_boxes(np.concatenate([jittered, random]), image_size)
    quality = box_iou(boxes, gt).max(axis=1) if len(gt) else np.zeros(len(boxes))
    scores = np.clip(0.05 + 0.9 * quality + rng.normal(0, 0.04, len(boxes)), 0.001, 0.999)
    order = np.argsort(-scores, kind='stable')
    return [{'bbox': [round(float(v), 1) for v in boxes[i]], 'score': round(float(scores[i]), 4),
             'category_id': 1} for i in order]
