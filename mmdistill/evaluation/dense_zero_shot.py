"""Dense zero-shot classification accuracy (CLIPSelf / SCD papers' Tables 1, 2, 6, 12, 14).

Each data sample carries ``pred_zero_shot``: for every readout ``kind`` (``boxes``,
``masks``, ``crops``...) the top-k predicted class indices ``(N, k)`` and the true
labels ``(N,)`` of its N segments. Labels ``< num_things`` are things, the rest
stuff (mmdet's panoptic convention). The metric is the mean over classes of the
per-class top-1 / top-5 accuracy, for things and stuff separately; a class with
no segment in the evaluated set is left out of the mean (not counted as 0).
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log

from ..registry import METRICS


def per_class_topk(topk: np.ndarray, labels: np.ndarray, num_classes: int, k: int) -> np.ndarray:
    """Per-class top-k accuracy ``(num_classes,)``; NaN where a class has no sample.

    Args:
        topk: ``(N, K)`` predicted class indices, best first (K >= 1).
        labels: ``(N,)`` true classes.
    """
    hit = (topk[:, :k] == labels[:, None]).any(1).astype(np.float64)
    count = np.bincount(labels, minlength=num_classes).astype(np.float64)
    correct = np.bincount(labels, weights=hit, minlength=num_classes)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(count > 0, correct / np.maximum(count, 1), np.nan)


def nanmean_or_nan(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if np.isfinite(values).any() else float('nan')


@METRICS.register_module()
class DenseZeroShotAccuracy(BaseMetric):
    """Mean per-class top-k accuracy of dense zero-shot readouts, things and stuff apart.

    Args:
        topk: accuracies to report (e.g. ``(1, 5)``).
        num_things: classes ``[0, num_things)`` are things; default: the length
            of ``dataset_meta['thing_classes']``.
        out_file: optional JSON path for the per-class accuracies (for plots).
    Reported keys: ``{kind}/{thing|stuff}_top{k}`` in percent.
    """

    default_prefix = 'dense_zs'

    def __init__(self, topk: Sequence[int] = (1, 5), num_things: Optional[int] = None,
                 out_file: Optional[str] = None, collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = tuple(topk)
        self.num_things = num_things
        self.out_file = out_file

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            preds = sample['pred_zero_shot']
            self.results.append({kind: (np.asarray(p['topk']), np.asarray(p['labels']))
                                 for kind, p in preds.items()})

    def compute_metrics(self, results: list) -> dict[str, float]:
        classes = list(self.dataset_meta['classes'])
        num_things = self.num_things if self.num_things is not None else len(self.dataset_meta['thing_classes'])
        metrics: dict[str, float] = {}
        per_class: dict[str, dict[str, list]] = {}
        kinds = sorted({kind for r in results for kind in r})
        for kind in kinds:
            pairs = [r[kind] for r in results if kind in r and len(r[kind][1])]
            if not pairs:
                continue
            topk = np.concatenate([p[0].reshape(len(p[1]), -1) for p in pairs])
            labels = np.concatenate([p[1] for p in pairs]).astype(np.int64)
            per_class[kind] = {}
            for k in self.topk:
                acc = per_class_topk(topk, labels, len(classes), k)
                per_class[kind][f'top{k}'] = [None if np.isnan(a) else float(a) for a in acc]
                for group, sel in (('thing', slice(0, num_things)), ('stuff', slice(num_things, None))):
                    value = nanmean_or_nan(acc[sel])
                    if not np.isnan(value):
                        metrics[f'{kind}/{group}_top{k}'] = 100.0 * value
        if self.out_file:
            with open(self.out_file, 'w') as f:
                json.dump({'classes': classes, 'num_things': num_things, 'per_class': per_class}, f, indent=1)
            print_log(f'per-class accuracies written to {osp.abspath(self.out_file)}', MMLogger.get_current_instance())
        return metrics
