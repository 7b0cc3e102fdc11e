"""Training labels of the inductive zero-shot segmentation protocol: seen classes only."""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ..class_names import ClassesType, class_names
from ..zero_shot_splits import resolve_split


@TRANSFORMS.register_module()
class SeenClassLabels(BaseTransform):
    """Relabel ``gt_seg_map`` for inductive zero-shot training: seen classes to contiguous ids, the rest ignored.

    Seen class ``k`` (in the order of `classes`) becomes label ``k``; unseen pixels and pixels of classes in
    neither list of a split file become `ignore_index`; ignored pixels stay ignored. Images are kept, also
    those left with no seen pixel. Place it after ``LoadAnnotations``.

    Args:
        classes: the dataset's classes in label order, in any form of
            :func:`~mmdistill.datasets.class_names.parse_classes` (e.g. ``dict(dataset='mmseg.COCOStuffDataset')``).
        unseen_classes: unseen class names (all others are seen) or a split JSON ``{"seen", "unseen"}``.
        ignore_index: the ignored label value.
    """

    def __init__(self, classes: ClassesType, unseen_classes: Union[str, Sequence[str]],
                 ignore_index: int = 255) -> None:
        self.classes = class_names(classes)
        self.seen, self.unseen = resolve_split(unseen_classes, self.classes)
        self.ignore_index = ignore_index
        self.lookup = np.full(len(self.classes), ignore_index, dtype=np.int64)
        self.lookup[[self.classes.index(c) for c in self.seen]] = np.arange(len(self.seen))

    def transform(self, results: dict) -> dict:
        seg = results['gt_seg_map']
        ignored = seg == self.ignore_index
        outside = ~ignored & ((seg < 0) | (seg >= len(self.classes)))
        if outside.any():
            raise ValueError(f"{results.get('seg_map_path', 'gt_seg_map')}: label value {seg[outside][0]} is "
                             f'outside the {len(self.classes)} classes and is not the ignore index '
                             f'{self.ignore_index}')
        relabelled = self.lookup[np.where(ignored, 0, seg)]
        relabelled[ignored] = self.ignore_index
        results['gt_seg_map'] = relabelled.astype(np.result_type(seg.dtype, np.min_scalar_type(self.ignore_index)))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({len(self.seen)} seen / {len(self.unseen)} unseen of '
                f'{len(self.classes)} classes, ignore_index={self.ignore_index})')
