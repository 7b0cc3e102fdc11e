"""Open-vocabulary COCO metric: box (or mask) AP50 of the novel, base and all classes of a split.

The OV-COCO protocol (OVR-CNN, ViLD, CLIPSelf...) reports AP at IoU 0.5 averaged over the 17 novel classes
(the headline number), the 48 base ones and all 65, all from one detector run on the 65-class test file.
"""
from __future__ import annotations

import math
import os.path as osp
import tempfile
from typing import Optional, Sequence, Union

import numpy as np
from mmdet.datasets.api_wrappers import COCO, COCOeval
from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS as MMDET_METRICS
from mmengine.fileio import load
from mmengine.logging import MMLogger, print_log
from terminaltables import AsciiTable

from ..datasets.ov_splits import check_split, load_split

OV_METRICS = ('bbox', 'segm')
AP50_MAX_DETS = 100


def mean_precision(precision: np.ndarray) -> float:
    """Mean over the recall points with an entry (> -1); NaN when there is none (no ground truth)."""
    valid = precision[precision > -1]
    return float(valid.mean()) if valid.size else float('nan')


def mean_ap(ap: dict[str, float], names: Sequence[str]) -> float:
    """Mean AP of `names`, leaving out the classes without ground truth (NaN); NaN if none is left."""
    values = [ap[n] for n in names if not math.isnan(ap[n])]
    return float(np.mean(values)) if values else float('nan')


# mmdet 3.3's own OVCocoMetric takes base / novel from the dataset metainfo and reports no all-class AP50 or
# per-class table; this one reads a split file (the world's splits are drawn from its seed) and also the metainfo.
@MMDET_METRICS.register_module()
class OVSplitCocoMetric(CocoMetric):
    """AP50 of the novel, base and all classes of an open-vocabulary split (COCO evaluation).

    Per class, AP50 is the mean COCOeval precision over the 101 recall points at IoU 0.5, area 'all',
    100 detections per image (as in CocoMetric's class-wise table); only IoU 0.5 is evaluated (add a
    CocoMetric for the full COCO table). Classes without ground truth in the test set are left out of the
    means (and of the per-class dict); dataset classes outside the split are left out of ``all_ap50``.

    Args:
        split_file: JSON ``{"base": [...], "novel": [...]}``; membership is by class name, matched against
            the dataset's ``classes``. Without it, the dataset metainfo's ``base_classes`` and
            ``novel_classes`` are used (as by mmdet's ``OVCocoMetric``).
        metric: ``'bbox'`` and / or ``'segm'``.
        **kwargs: CocoMetric's other arguments (``ann_file``, ``outfile_prefix``, ``format_only``, ``prefix``...).

    Reported keys (0-1 scale, like ``bbox_mAP_50``): ``novel_ap50``, ``base_ap50``, ``all_ap50`` and the
    non-scalar ``ap50_per_class`` (class name -> AP50) for boxes; the same with a ``segm_`` prefix for masks.
    """

    def __init__(self, split_file: Optional[str] = None, metric: Union[str, list[str]] = 'bbox', **kwargs) -> None:
        super().__init__(metric=metric, **kwargs)
        unsupported = [m for m in self.metrics if m not in OV_METRICS]
        if unsupported:
            raise KeyError(f'OVSplitCocoMetric evaluates {OV_METRICS}, got {unsupported}')
        self.split_file = split_file
        self.split = load_split(split_file) if split_file is not None else None

    def _get_split(self) -> dict[str, list[str]]:
        """The split, checked against the dataset classes."""
        split, source = self.split, self.split_file
        if split is None:
            source = 'dataset metainfo'
            if 'base_classes' not in self.dataset_meta or 'novel_classes' not in self.dataset_meta:
                raise ValueError('OVSplitCocoMetric needs a split_file or base_classes / novel_classes in the metainfo')
            split = check_split({'base': list(self.dataset_meta['base_classes']),
                                 'novel': list(self.dataset_meta['novel_classes'])}, source)
        classes = set(self.dataset_meta['classes'])
        missing = [n for n in split['base'] + split['novel'] if n not in classes]
        if missing:
            raise ValueError(f'{source}: split classes not among the dataset classes: {missing}')
        return split

    def _prepare_coco_api(self, gts: Sequence[dict], outfile_prefix: str) -> None:
        """Ground truth and the lazy category ids, as CocoMetric does; the images evaluated are the ones tested
        (CocoMetric takes every image of its annotation file, so a test on a subset, e.g. a dataset's
        ``indices``, would count the untested images' objects as missed)."""
        if self._coco_api is None:
            self._coco_api = COCO(self.gt_to_coco_json(gt_dicts=gts, outfile_prefix=outfile_prefix))
        if self.cat_ids is None:
            self.cat_ids = self._coco_api.get_cat_ids(cat_names=self.dataset_meta['classes'])
        self.img_ids = sorted({gt['img_id'] for gt in gts})

    def _load_detections(self, result_file: str, iou_type: str) -> COCO:
        predictions = load(result_file)
        if iou_type == 'segm':
            for p in predictions:  # mask areas, not box areas (as CocoMetric does)
                p.pop('bbox')
        if predictions:
            return self._coco_api.loadRes(predictions)
        empty = COCO()  # loadRes refuses an empty list; no detection gives AP 0
        empty.dataset = dict(images=self._coco_api.dataset['images'], categories=self._coco_api.dataset['categories'],
                             annotations=[])
        empty.createIndex()
        return empty

    def per_class_ap50(self, result_file: str, iou_type: str) -> dict[str, float]:
        """Class name -> AP50 (NaN for classes without ground truth) of the detections in `result_file`."""
        coco_eval = COCOeval(self._coco_api, self._load_detections(result_file, iou_type), iou_type)
        coco_eval.params.catIds = self.cat_ids
        coco_eval.params.imgIds = self.img_ids
        coco_eval.params.iouThrs = np.array([0.5])
        coco_eval.params.maxDets = [AP50_MAX_DETS]
        coco_eval.evaluate()
        coco_eval.accumulate()
        precision = coco_eval.eval['precision'][0, :, :, 0, -1]  # (recall points, classes) at area 'all'
        # evaluate() sorts params.catIds; the precision columns follow that order, not self.cat_ids'.
        names = [c['name'] for c in self._coco_api.loadCats(coco_eval.params.catIds)]
        return {name: mean_precision(precision[:, k]) for k, name in enumerate(names)}

    @staticmethod
    def _summarize(ap: dict[str, float], split: dict[str, list[str]], key_prefix: str) -> dict:
        metrics = {f'{key_prefix}novel_ap50': mean_ap(ap, split['novel']),
                   f'{key_prefix}base_ap50': mean_ap(ap, split['base']),
                   f'{key_prefix}all_ap50': mean_ap(ap, split['base'] + split['novel']),
                   f'{key_prefix}ap50_per_class': {n: v for n, v in ap.items() if not math.isnan(v)}}
        group = {n: 'novel' for n in split['novel']} | {n: 'base' for n in split['base']}
        rows = [['class', 'split', f'{key_prefix}AP50']]
        rows += [[n, group.get(n, '-'), 'no gt' if math.isnan(v) else f'{v:.3f}'] for n, v in ap.items()]
        print_log('\n' + AsciiTable(rows).table, MMLogger.get_current_instance())
        return metrics

    def compute_metrics(self, results: list) -> dict:
        """Novel / base / all AP50 (and per-class AP50) of every metric in ``self.metrics``."""
        split = self._get_split()
        gts, preds = zip(*results)
        metrics: dict = {}
        with tempfile.TemporaryDirectory() as tmp_dir:
            outfile_prefix = self.outfile_prefix or osp.join(tmp_dir, 'results')
            self._prepare_coco_api(gts, outfile_prefix)
            result_files = self.results2json(preds, outfile_prefix)
            if self.format_only:
                print_log(f'results are saved in {osp.dirname(outfile_prefix)}', MMLogger.get_current_instance())
                return metrics
            for metric in self.metrics:
                if metric not in result_files:
                    raise KeyError(f'{metric} is not in results (no predicted masks?)')
                key_prefix = '' if metric == 'bbox' else f'{metric}_'
                ap = self.per_class_ap50(result_files[metric], metric)
                metrics.update(self._summarize(ap, split, key_prefix))
        return metrics
