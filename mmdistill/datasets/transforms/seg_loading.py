"""Semantic label maps with more than 255 classes (ADE-847, PASCAL Context 459)."""
from __future__ import annotations

import mmcv
from mmengine import fileio
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadWideAnnotations(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` keeping the map's integer type (16-bit TIFF / PNG), not casting to uint8.

    The labels are used as stored (no ``reduce_zero_label``, no ``label_map``); the ignored value is the
    dataset's own (65535 in the detectron2-style ADE-847 / PC-459 maps: set the metric's ``ignore_index``).
    """

    def _load_seg_map(self, results: dict) -> None:
        if results.get('reduce_zero_label') or results.get('label_map'):
            raise ValueError(f'{self.__class__.__name__} takes labels as stored: the dataset must not set '
                             'reduce_zero_label or a label_map')
        seg = mmcv.imfrombytes(fileio.get(results['seg_map_path'], backend_args=self.backend_args),
                               flag='unchanged', backend=self.imdecode_backend).squeeze()
        if seg.ndim != 2:
            raise ValueError(f"{results['seg_map_path']}: expected a single-channel label map, got shape {seg.shape}")
        results['gt_seg_map'] = seg
        results['seg_fields'].append('gt_seg_map')
