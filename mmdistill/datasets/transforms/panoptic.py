"""Panoptic segments as boxes + masks + labels for dense zero-shot evaluation."""
from __future__ import annotations

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks
from mmengine.fileio import get

from ...registry import TRANSFORMS


def rgb_to_segment_id(png: np.ndarray) -> np.ndarray:
    """COCO panoptic PNG ``(H, W, 3)`` RGB -> segment ids ``R + 256 G + 256^2 B``."""
    png = png.astype(np.int64)
    return png[..., 0] + 256 * png[..., 1] + 256 * 256 * png[..., 2]


@TRANSFORMS.register_module()
class LoadPanopticSegments(BaseTransform):
    """Load every panoptic segment (things and stuff) of a COCO-panoptic sample.

    Works on the output of mmdet's ``CocoPanopticDataset`` (``seg_map_path``,
    ``segments_info`` with contiguous ``category``: things first). Needs no
    panopticapi. Adds mmdet's standard keys so ``Resize`` / ``Pad`` /
    ``PackDetInputs`` handle them: ``gt_bboxes`` (tight box of each segment, so
    stuff gets the box around its segment), ``gt_bboxes_labels``, ``gt_masks``
    and ``gt_ignore_flags``. Crowd segments are dropped.
    """

    def __init__(self, backend_args: dict | None = None) -> None:
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        path = results['seg_map_path']
        png = mmcv.imfrombytes(get(path, backend_args=self.backend_args), flag='color', channel_order='rgb')
        if png is None:
            raise FileNotFoundError(f'cannot decode panoptic PNG {path!r}')
        ids = rgb_to_segment_id(png)
        segments = [s for s in results['segments_info'] if not s.get('iscrowd', False)]
        masks = ids[None] == np.array([s['id'] for s in segments], dtype=np.int64)[:, None, None]
        keep = masks.reshape(len(segments), -1).any(1)
        masks, segments = masks[keep], [s for s, k in zip(segments, keep) if k]
        boxes = np.array([tight_box(m) for m in masks], dtype=np.float32).reshape(-1, 4)
        h, w = ids.shape
        results['gt_bboxes'] = HorizontalBoxes(boxes)
        results['gt_bboxes_labels'] = np.array([s['category'] for s in segments], dtype=np.int64)
        results['gt_masks'] = BitmapMasks(masks.astype(np.uint8), h, w)
        results['gt_ignore_flags'] = np.zeros(len(segments), dtype=bool)
        return results


def tight_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """``(x1, y1, x2, y2)`` pixel-edge box of a non-empty ``(H, W)`` mask."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)
