"""Inductive zero-shot segmentation metric: mIoU plus the mean IoU of seen / unseen classes and their
harmonic mean (SPNet, ZS3Net, ZegFormer, ZegCLIP), all from one confusion over every class."""
from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import numpy as np
import torch
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

from ..datasets.zero_shot_splits import resolve_split


def check_label_values(label: torch.Tensor, num_classes: int, ignore_index: int, source: str) -> None:
    """ValueError naming the first label value outside ``[0, num_classes)`` that is not `ignore_index`."""
    values = torch.unique(label)
    bad = values[(values != ignore_index) & ((values < 0) | (values >= num_classes))]
    if bad.numel():
        raise ValueError(f'{source}: ground-truth label value {int(bad[0])} is outside the {num_classes} classes '
                         f'[0, {num_classes - 1}] and is not the ignore index {ignore_index} (other values: '
                         f'{bad[1:6].tolist()}); check the dataset classes, reduce_zero_label and ignore_index')


def harmonic_mean(a: float, b: float) -> float:
    """``2ab / (a + b)``; 0 when both are 0, NaN when either is NaN."""
    if math.isnan(a) or math.isnan(b):
        return float('nan')
    return 2 * a * b / (a + b) if a + b > 0 else 0.0


def nan_mean(values: np.ndarray) -> float:
    """Mean leaving out NaN; NaN if nothing is left."""
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float('nan')


def percent(value: float) -> float:
    """A 0-1 value in percent, 2 decimals (IoUMetric's rounding)."""
    return float(np.round(value * 100, 2))


@METRICS.register_module()
class ZeroShotIoUMetric(IoUMetric):
    """IoUMetric that also reports ``sIoU`` / ``uIoU`` (mean IoU over seen / unseen classes) and ``hIoU``.

    Every class is scored in the same confusion (IoUMetric's per-image areas); classes with neither ground
    truth nor prediction (NaN IoU) are left out of the means, as IoUMetric does for mIoU. ``hIoU`` is
    ``2 sIoU uIoU / (sIoU + uIoU)`` of the unrounded means. Values are in percent like ``mIoU``.

    Args:
        unseen_classes: unseen class names (all other classes are seen), or the path of a split JSON
            ``{"seen": [...], "unseen": [...]}`` (classes in neither list count only in ``mIoU``).
        **kwargs: IoUMetric's arguments (``ignore_index``, ``iou_metrics``, ``prefix``...).
    """

    def __init__(self, unseen_classes: Union[str, Sequence[str]], **kwargs) -> None:
        super().__init__(**kwargs)
        if 'mIoU' not in self.metrics:
            raise ValueError(f"ZeroShotIoUMetric needs 'mIoU' in iou_metrics, got {self.metrics}")
        self.unseen_classes = unseen_classes if isinstance(unseen_classes, str) else list(unseen_classes)
        self.seen_index: list[int] = []
        self.unseen_index: list[int] = []

    @property
    def dataset_meta(self) -> Optional[dict]:
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        """Set the metainfo and check the split against its classes (ValueError naming unknown classes)."""
        self._dataset_meta = dataset_meta
        classes = list(dataset_meta['classes'])
        seen, unseen = resolve_split(self.unseen_classes, classes)
        self.seen_index = [classes.index(c) for c in seen]
        self.unseen_index = [classes.index(c) for c in unseen]

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        if not self.format_only:
            num_classes = len(self.dataset_meta['classes'])
            for sample in data_samples:
                check_label_values(sample['gt_sem_seg']['data'], num_classes, self.ignore_index,
                                   sample.get('seg_map_path', 'a ground-truth map'))
        super().process(data_batch, data_samples)

    def compute_metrics(self, results: list) -> dict[str, float]:
        metrics = super().compute_metrics(results)
        if self.format_only:
            return metrics
        intersect, union, pred_area, label_area = (sum(r[i] for r in results) for i in range(4))
        iou = self.total_area_to_metrics(intersect, union, pred_area, label_area, ['mIoU'], self.nan_to_num)['IoU']
        seen, unseen = nan_mean(iou[self.seen_index]), nan_mean(iou[self.unseen_index])
        metrics.update(sIoU=percent(seen), uIoU=percent(unseen), hIoU=percent(harmonic_mean(seen, unseen)))
        print_log(f"sIoU {metrics['sIoU']} ({len(self.seen_index)} seen classes), uIoU {metrics['uIoU']} "
                  f"({len(self.unseen_index)} unseen), hIoU {metrics['hIoU']}", MMLogger.get_current_instance())
        return metrics
