"""DenseZeroShotAccuracy on hand-built examples with known answers."""
import json
import math

import numpy as np
import pytest

from mmdistill.evaluation import DenseZeroShotAccuracy

# 3 things (0, 1, 2) and 2 stuff (3, 4); thing 2 never appears.
META = dict(classes=('t0', 't1', 't2', 's0', 's1'), thing_classes=('t0', 't1', 't2'), stuff_classes=('s0', 's1'))


def sample(topk, labels, kind='boxes'):
    return {'pred_zero_shot': {kind: {'topk': np.array(topk), 'labels': np.array(labels)}}}


def test_mean_per_class_accuracy_with_absent_class(tmp_path):
    metric = DenseZeroShotAccuracy(topk=(1, 2), out_file=str(tmp_path / 'per_class.json'))
    metric.dataset_meta = META
    # image 1: t0 right, t0 wrong (right at rank 2), s0 right
    metric.process({}, [sample([[0, 1], [1, 0], [3, 4]], [0, 0, 3])])
    # image 2: t1 wrong twice (t1 at rank 2 once), s1 wrong, s1 right; no segments of another kind
    metric.process({}, [sample([[0, 1], [2, 0], [3, 0], [4, 3]], [1, 1, 4, 4])])
    metric.process({}, [sample(np.zeros((0, 2), dtype=int), [])])  # an image without segments
    result = metric.evaluate(3)
    # things: t0 top1 1/2, t1 top1 0/2 -> mean 25 %; t2 absent, not counted as 0.
    assert result['dense_zs/boxes/thing_top1'] == pytest.approx(25.0)
    # things top2: t0 2/2, t1 1/2 -> 75 %
    assert result['dense_zs/boxes/thing_top2'] == pytest.approx(75.0)
    # stuff top1: s0 1/1, s1 1/2 -> 75 %; top2 the same ([3, 0] misses s1 at rank 2 too)
    assert result['dense_zs/boxes/stuff_top1'] == pytest.approx(75.0)
    assert result['dense_zs/boxes/stuff_top2'] == pytest.approx(75.0)
    saved = json.load(open(tmp_path / 'per_class.json'))
    assert saved['per_class']['boxes']['top1'][:3] == [0.5, 0.0, None]


def test_kinds_reported_separately_and_missing_group_omitted():
    metric = DenseZeroShotAccuracy(topk=(1,))
    metric.dataset_meta = META
    metric.process({}, [{'pred_zero_shot': {
        'masks': {'topk': np.array([[3], [0]]), 'labels': np.array([3, 1])},
        'crops': {'topk': np.array([[1]]), 'labels': np.array([1])}}}])
    result = metric.evaluate(1)
    assert result == {'dense_zs/masks/thing_top1': 0.0, 'dense_zs/masks/stuff_top1': 100.0,
                      'dense_zs/crops/thing_top1': 100.0}
    assert not any(math.isnan(v) for v in result.values())
