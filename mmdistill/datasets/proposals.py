"""Class-agnostic region proposals stored as COCO-results JSON.

A proposals file is a list of ``{"image_id", "bbox": [x, y, w, h], "score",
"category_id": 1}`` entries (optionally with ``"objectness"``), the format of the
synthetic world's ``proposals/proposals_{split}2017.json`` and of
``tools/misc/rpn_proposals.py``. In memory, proposals are
``{image_id: (N, 5) float32 array [x1, y1, x2, y2, score]}``, best score first.

:class:`ProposalDumpMetric` writes such a file from a detector's test loop
(results of all ranks are gathered, rank 0 writes).
"""
from __future__ import annotations

import json
import os.path as osp
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Optional

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from torchvision.ops import box_iou, clip_boxes_to_image, nms

from ..registry import METRICS
from ..utils.atomic import write_atomic

REQUIRED_KEYS = ('image_id', 'bbox', 'score')


def load_proposals(path: str) -> dict[int, np.ndarray]:
    """Read a proposals JSON into ``{image_id: (N, 5) [x1, y1, x2, y2, score]}``, best score first."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'proposals file {path!r} not found (make one with tools/misc/rpn_proposals.py)')
    with open(path) as f:
        entries = json.load(f)
    if not isinstance(entries, list):
        raise ValueError(f'{path!r}: expected a list of {{"image_id", "bbox", "score"}} entries (COCO results '
                         f'format), got a {type(entries).__name__}')
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or any(k not in entry for k in REQUIRED_KEYS) \
                or len(entry['bbox']) != 4:
            raise ValueError(f'{path!r}: entry {i} is not {{"image_id", "bbox": [x, y, w, h], "score"}}: {entry}')
    if not entries:
        return {}
    ids = np.array([e['image_id'] for e in entries], dtype=np.int64)
    boxes = np.array([e['bbox'] + [e['score']] for e in entries], dtype=np.float32)
    boxes[:, 2:4] += boxes[:, :2]
    order = np.lexsort((-boxes[:, 4], ids))
    ids, boxes = ids[order], boxes[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    return {int(ids[s]): chunk for s, chunk in zip(starts, np.split(boxes, starts[1:]))}


def filter_proposals(boxes: np.ndarray, min_area: float = 8**2, max_area: float = 1024**2,
                     max_num: Optional[int] = None) -> np.ndarray:
    """Proposals ``(N, 4|5)`` xyxy(+score) with area in ``[min_area, max_area]``; the best ``max_num`` by score.

    Rows keep their order, except that ``(N, 5)`` input is sorted by score when
    ``max_num`` cuts it.
    """
    boxes = np.asarray(boxes)
    if boxes.ndim != 2 or boxes.shape[1] not in (4, 5):
        raise ValueError(f'boxes must be (N, 4) or (N, 5) [x1, y1, x2, y2(, score)], got shape {boxes.shape}')
    area = (boxes[:, 2] - boxes[:, 0]).clip(min=0) * (boxes[:, 3] - boxes[:, 1]).clip(min=0)
    boxes = boxes[(area >= min_area) & (area <= max_area)]
    if max_num is not None and len(boxes) > max_num:
        if boxes.shape[1] == 5:
            boxes = boxes[np.argsort(-boxes[:, 4], kind='stable')]
        boxes = boxes[:max_num]
    return boxes


def save_proposals(proposals: Mapping[int, np.ndarray], path: str,
                   objectness: Optional[Mapping[int, np.ndarray]] = None, decimals: int = 2) -> str:
    """Write ``{image_id: (N, 5) xyxy+score}`` as a proposals JSON (atomically); return ``path``.

    ``objectness`` (``{image_id: (N,)}``, optional) adds an ``"objectness"`` field per entry.
    """
    entries = []
    for image_id, boxes in sorted(proposals.items()):
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 5)
        extra = None if objectness is None else np.asarray(objectness[image_id], dtype=np.float64).reshape(-1)
        if extra is not None and len(extra) != len(boxes):
            raise ValueError(f'image {image_id}: {len(boxes)} boxes but {len(extra)} objectness values')
        xywh = np.concatenate([boxes[:, :2], boxes[:, 2:4] - boxes[:, :2]], axis=1).round(decimals)
        for i, (bbox, score) in enumerate(zip(xywh.tolist(), boxes[:, 4].tolist())):
            entry = {'image_id': int(image_id), 'bbox': bbox, 'score': round(score, 5), 'category_id': 1}
            if extra is not None:
                entry['objectness'] = round(float(extra[i]), 5)
            entries.append(entry)
    write_atomic(path, json.dumps(entries))
    return path


def select_proposals(boxes: torch.Tensor, scores: torch.Tensor, image_size: Sequence[int], max_num: int,
                     score_thr: float = 0.0, nms_iou: Optional[float] = None) -> np.ndarray:
    """Clip ``(N, 4)`` xyxy boxes to ``image_size`` (h, w), drop scores below ``score_thr``,
    optionally NMS, keep the ``max_num`` best: ``(M, 5)`` xyxy+score, best first."""
    boxes = clip_boxes_to_image(boxes, tuple(image_size))
    keep = (scores >= score_thr) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, scores = boxes[keep], scores[keep]
    order = nms(boxes, scores, nms_iou) if nms_iou is not None else scores.argsort(descending=True, stable=True)
    order = order[:max_num]
    return torch.cat([boxes[order], scores[order, None]], dim=1).numpy()


def proposal_recall(proposals: Mapping[int, np.ndarray], ann_file: str, iou_thr: float = 0.5) -> float:
    """Fraction of the non-crowd ground-truth boxes of the proposals' images covered at ``iou_thr``."""
    with open(ann_file) as f:
        annotations = json.load(f)['annotations']
    gts = defaultdict(list)
    for ann in annotations:
        if not ann.get('iscrowd', 0) and ann['image_id'] in proposals:
            x, y, w, h = ann['bbox']
            gts[ann['image_id']].append([x, y, x + w, y + h])
    hits = total = 0
    for image_id, gt in gts.items():
        boxes = torch.from_numpy(proposals[image_id][:, :4]).double()
        total += len(gt)
        if len(boxes):
            hits += int((box_iou(torch.tensor(gt, dtype=torch.float64), boxes).max(1).values >= iou_thr).sum())
    return hits / max(total, 1)


@METRICS.register_module()
class ProposalDumpMetric(BaseMetric):
    """Write the boxes a detector predicts (e.g. an mmdet ``RPN``) as a class-agnostic proposals JSON.

    Per image: boxes clipped to the original image, scores below ``score_thr``
    dropped, optional NMS at ``nms_iou``, the ``max_per_img`` best kept. Reports
    the mean number of proposals per image and, given ``ann_file``, the recall
    of its ground-truth boxes at IoU ``recall_iou``.

    Args:
        out_file: the JSON to write.
        max_per_img: proposals kept per image (the model's own ``test_cfg`` may cap it lower).
        score_thr: minimum score.
        nms_iou: IoU of an extra class-agnostic NMS; ``None`` keeps the model's.
        ann_file: COCO annotations for the recall report (optional).
        recall_iou: IoU at which a ground-truth box counts as covered.
    """

    default_prefix = 'proposals'

    def __init__(self, out_file: str, max_per_img: int = 1000, score_thr: float = 0.0,
                 nms_iou: Optional[float] = None, ann_file: Optional[str] = None, recall_iou: float = 0.5,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if max_per_img < 1:
            raise ValueError(f'max_per_img must be >= 1, got {max_per_img}')
        if nms_iou is not None and not 0 < nms_iou <= 1:
            raise ValueError(f'nms_iou must be in (0, 1], got {nms_iou}')
        if ann_file is not None and not osp.isfile(ann_file):
            raise FileNotFoundError(f'annotation file {ann_file!r} (for the proposal recall) not found')
        self.out_file = out_file
        self.max_per_img = max_per_img
        self.score_thr = score_thr
        self.nms_iou = nms_iou
        self.ann_file = ann_file
        self.recall_iou = recall_iou

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample['pred_instances']
            boxes = select_proposals(pred['bboxes'].detach().float().cpu(), pred['scores'].detach().float().cpu(),
                                     sample['ori_shape'], self.max_per_img, self.score_thr, self.nms_iou)
            self.results.append((int(sample['img_id']), boxes))

    def compute_metrics(self, results: list) -> dict[str, float]:
        proposals = dict(results)
        save_proposals(proposals, self.out_file)
        metrics = {'per_image': float(np.mean([len(b) for b in proposals.values()])) if proposals else 0.0}
        if self.ann_file is not None:
            metrics[f'recall@{self.recall_iou}'] = proposal_recall(proposals, self.ann_file, self.recall_iou)
        return metrics
