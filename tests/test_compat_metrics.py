"""CompatLVISMetric / CompatCocoMetric: mmdet's LVIS and proposal-recall evaluation on NumPy >= 1.24, with mmdet,
lvis and numpy left as they are."""
import json

import lvis
import lvis.eval
import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from mmdet.evaluation import CocoMetric, LVISMetric
from mmdet.evaluation.functional import eval_recalls as mmdet_eval_recalls
from mmdet.evaluation.metrics import coco_metric, lvis_metric
from mmdet.registry import METRICS as MMDET_METRICS
from mmengine.config import Config

import mmdistill  # noqa: F401
from mmdistill.evaluation.compat_metrics import (
    NUMPY_WITH_ALIASES,
    CompatCocoMetric,
    CompatLVISMetric,
    FixedLVISEval,
    eval_recalls,
    numpy_has,
)

NUMPY_HAS_NO_FLOAT = not numpy_has('float')  # NumPy >= 1.24 (the project's NumPy 2)

# two images: a rare class (id 1) in the first, a frequent one (id 2) in the second
BOX_A, BOX_B, BOX_WRONG = [10.0, 10.0, 40.0, 40.0], [20.0, 5.0, 50.0, 45.0], [55.0, 55.0, 60.0, 60.0]


def xywh(box):
    return [box[0], box[1], box[2] - box[0], box[3] - box[1]]


def polygon(box):
    x1, y1, x2, y2 = box
    return [[x1, y1, x2, y1, x2, y2, x1, y2]]


def lvis_json(path) -> str:
    images = [dict(id=i, width=64, height=64, coco_url=f'http://images.cocodataset.org/val2017/{i:012d}.jpg',
                   neg_category_ids=[], not_exhaustive_category_ids=[]) for i in (1, 2)]
    anns = [dict(id=1, image_id=1, category_id=1, bbox=xywh(BOX_A), area=900.0, segmentation=polygon(BOX_A)),
            dict(id=2, image_id=2, category_id=2, bbox=xywh(BOX_B), area=1200.0, segmentation=polygon(BOX_B))]
    cats = [dict(id=1, name='rare_thing', frequency='r', synonyms=['rare_thing']),
            dict(id=2, name='common_thing', frequency='f', synonyms=['common_thing'])]
    path.write_text(json.dumps(dict(images=images, annotations=anns, categories=cats)))
    return str(path)


def box_mask(box) -> torch.Tensor:
    """The mask LVIS rasterises from the box's polygon (so that a found object has mask IoU 1)."""
    rle = mask_utils.merge(mask_utils.frPyObjects(polygon(box), 64, 64))
    return torch.from_numpy(mask_utils.decode(rle)).bool()


def predictions() -> list[dict]:
    """Image 1: its rare box found; image 2: a higher-scored false positive of class 2, then its box."""
    def sample(img_id, boxes, scores, labels):
        return dict(img_id=img_id, ori_shape=(64, 64), pred_instances=dict(
            bboxes=torch.tensor(boxes), scores=torch.tensor(scores), labels=torch.tensor(labels),
            masks=torch.stack([box_mask(b) for b in boxes])))
    return [sample(1, [BOX_A], [0.9], [0]), sample(2, [BOX_WRONG, BOX_B], [0.95, 0.8], [1, 1])]


def evaluate(metric_cls, ann_file) -> dict:
    metric = metric_cls(ann_file=ann_file, metric=['bbox', 'segm'])
    metric.dataset_meta = dict(classes=('rare_thing', 'common_thing'))
    metric.process({}, predictions())
    return metric.evaluate(2)


def test_lvis_metric_evaluates_under_numpy_2(tmp_path):
    """AP per class at every IoU: class 1 one exact hit (AP 1); class 2 its hit ranked after a false positive
    (precision 1/2 at every recall, AP 0.5); the LVIS mean 0.75, APr 1, APf 0.5, for boxes and masks."""
    results = evaluate(CompatLVISMetric, lvis_json(tmp_path / 'lvis_v1_val.json'))
    for kind in ('bbox', 'segm'):
        assert results[f'lvis/{kind}_AP'] == pytest.approx(0.75, abs=1e-3)
        assert results[f'lvis/{kind}_AP50'] == pytest.approx(0.75, abs=1e-3)
        assert results[f'lvis/{kind}_APr'] == pytest.approx(1.0, abs=1e-3)
        assert results[f'lvis/{kind}_APf'] == pytest.approx(0.5, abs=1e-3)


def test_stock_lvis_metric_fails_on_numpy_2_and_agrees_before(tmp_path):
    ann_file = lvis_json(tmp_path / 'lvis_v1_val.json')
    if NUMPY_HAS_NO_FLOAT:
        with pytest.raises(AttributeError, match="no attribute 'float'"):
            evaluate(LVISMetric, ann_file)
    else:
        assert evaluate(LVISMetric, ann_file) == evaluate(CompatLVISMetric, ann_file)


def test_only_the_methods_naming_a_removed_alias_are_rebound():
    rebound = {name for name, fn in vars(FixedLVISEval).items() if callable(fn) and not name.startswith('__')}
    assert rebound == ({'accumulate'} if NUMPY_HAS_NO_FLOAT else set())
    assert issubclass(FixedLVISEval, lvis.LVISEval)
    if NUMPY_HAS_NO_FLOAT:
        assert FixedLVISEval.accumulate.__code__ is lvis.LVISEval.accumulate.__code__  # same code, other np
        assert FixedLVISEval.accumulate.__globals__['np'] is NUMPY_WITH_ALIASES
        assert NUMPY_WITH_ALIASES.float is float and NUMPY_WITH_ALIASES.cumsum is np.cumsum


def test_importing_mmdistill_changes_neither_numpy_nor_lvis_nor_mmdet():
    assert numpy_has('float') is not NUMPY_HAS_NO_FLOAT and numpy_has('object') is not NUMPY_HAS_NO_FLOAT
    assert lvis.eval.np is np and lvis.LVISEval.accumulate.__globals__ is vars(lvis.eval)
    assert lvis_metric.LVISEval is lvis.LVISEval
    assert coco_metric.eval_recalls is mmdet_eval_recalls and lvis_metric.eval_recalls is mmdet_eval_recalls
    assert CocoMetric.fast_eval_recall.__globals__ is vars(coco_metric)
    assert MMDET_METRICS.get('LVISMetric') is LVISMetric and MMDET_METRICS.get('CocoMetric') is CocoMetric
    assert MMDET_METRICS.get('CompatLVISMetric') is CompatLVISMetric
    assert MMDET_METRICS.get('CompatCocoMetric') is CompatCocoMetric


# ----------------------------------------------------------------------------- proposal recall
GTS = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32),  # 2 boxes
       np.array([[0, 0, 10, 10]], np.float32),  # 1 box
       np.array([[40, 40, 50, 50]], np.float32),  # 1 box, no proposal
       np.zeros((0, 4), np.float32)]  # no box
PROPOSALS = [np.array([[0, 0, 10, 10, 0.9], [20, 20, 30, 35, 0.8]], np.float32),  # IoU 1, then 100 / 150
             np.array([[50, 50, 60, 60, 0.1], [0, 0, 10, 10, 0.5], [5, 0, 15, 10, 0.7]], np.float32),  # unsorted
             np.zeros((0, 5), np.float32),
             np.array([[0, 0, 5, 5, 0.3]], np.float32)]


def test_recall_with_ragged_boxes_against_a_hand_count():
    """4 boxes. Top 1: image 1's first box only (1/4 at IoU 0.5 and 0.7; image 2's best-scored proposal has IoU
    1/3). Top 3: image 1 both (IoU 1, 2/3), image 2 its box (IoU 1): 3/4 at 0.5, 2/4 at 0.7."""
    recalls = eval_recalls(GTS, PROPOSALS, proposal_nums=(1, 3), iou_thrs=[0.5, 0.7])
    np.testing.assert_allclose(recalls, [[0.25, 0.25], [0.75, 0.5]])


def test_recall_with_ragged_boxes_is_the_box_weighted_mean_of_mmdets_per_image_recall():
    rng = np.random.default_rng(0)
    gts, proposals = [], []
    for n_gt, n_prop in ((3, 7), (1, 12), (5, 4), (2, 9)):
        xy = rng.uniform(0, 80, (n_gt + n_prop, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(5, 30, (n_gt + n_prop, 2))], 1).astype(np.float32)
        gts.append(boxes[:n_gt])
        proposals.append(np.concatenate([boxes[n_gt:], rng.uniform(0, 1, (n_prop, 1))], 1).astype(np.float32))
    nums, thrs = (1, 5, 10), np.linspace(0.1, 0.9, 9)
    if NUMPY_HAS_NO_FLOAT:  # mmdet's own function on the same input
        with pytest.raises(ValueError, match='inhomogeneous'):
            mmdet_eval_recalls(gts, proposals, nums, thrs)
    per_image = [mmdet_eval_recalls([g], [p], nums, thrs) * len(g) for g, p in zip(gts, proposals)]
    expected = sum(per_image) / sum(len(g) for g in gts)
    np.testing.assert_allclose(eval_recalls(gts, proposals, nums, thrs), expected, rtol=1e-6)


def coco_json(path) -> str:
    images = [dict(id=i + 1, width=100, height=100, file_name=f'{i + 1}.jpg') for i in range(len(GTS))]
    anns = [dict(id=10 * i + j, image_id=i + 1, category_id=1, bbox=xywh(box.tolist()), area=1.0, iscrowd=0)
            for i, gt in enumerate(GTS) for j, box in enumerate(gt)]
    path.write_text(json.dumps(dict(images=images, annotations=anns, categories=[dict(id=1, name='thing')])))
    return str(path)


def test_rpn_config_recall_metric_on_ragged_images(tmp_path):
    """The base-class RPN's evaluator (``proposal_fast``) through ``evaluate``: AR@n is the recall averaged over
    its IoU thresholds; mmdet's CocoMetric fails on the same images."""
    cfg = Config.fromfile('configs/rpn/rpn_r50_fpn_1x_coco_base.py')
    assert cfg.val_evaluator.type == cfg.test_evaluator.type == 'CompatCocoMetric'
    assert cfg.val_evaluator.metric == 'proposal_fast'

    def run(metric_cls):
        evaluator = dict(cfg.val_evaluator, ann_file=coco_json(tmp_path / 'instances_val2017.json'),
                         proposal_nums=(1, 3), iou_thrs=[0.5, 0.7])
        evaluator.pop('type'), evaluator.pop('_scope_', None)
        metric = metric_cls(**evaluator)
        metric.dataset_meta = dict(classes=('thing', ))
        ranked = [p[np.argsort(-p[:, 4])] for p in PROPOSALS]  # an RPN's output: boxes by decreasing score
        metric.process({}, [dict(img_id=i + 1, ori_shape=(100, 100), pred_instances=dict(
            bboxes=torch.from_numpy(p[:, :4]), scores=torch.from_numpy(p[:, 4].copy()),
            labels=torch.zeros(len(p), dtype=torch.long))) for i, p in enumerate(ranked)])
        return metric.evaluate(len(PROPOSALS))

    results = run(CompatCocoMetric)
    assert results['coco/AR@1'] == pytest.approx(0.25)
    assert results['coco/AR@3'] == pytest.approx(0.625)
    if NUMPY_HAS_NO_FLOAT:
        with pytest.raises(ValueError, match='inhomogeneous'):
            run(CocoMetric)
