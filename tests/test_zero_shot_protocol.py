"""The inductive zero-shot segmentation protocol: sIoU / uIoU / hIoU, seen-class training labels, the splits."""
import json
import math

import numpy as np
import pytest
import torch

import mmdistill  # noqa: F401
from mmdistill.datasets.transforms import SeenClassLabels
from mmdistill.datasets.zero_shot_splits import (
    COCO_STUFF_UNSEEN,
    CONTEXT_UNSEEN,
    VOC_UNSEEN,
    ZERO_SHOT_SPLITS,
    load_zero_shot_split,
    mmseg_dataset_classes,
    resolve_split,
    standard_split,
    write_zero_shot_split,
)
from mmdistill.evaluation import ZeroShotIoUMetric

CLASSES = ('a', 'b', 'c', 'd')
# Two images; 255 is ignored (its prediction does not count).
LABELS = [np.array([[0, 0, 1, 1]]), np.array([[2, 2, 3, 255]])]
PREDS = [np.array([[0, 1, 1, 1]]), np.array([[2, 0, 3, 3]])]
# By hand: a: inter 1, union 2 + 2 - 1 = 3; b: inter 2, union 3 + 2 - 2 = 3; c: inter 1, union 1 + 2 - 1 = 2;
# d: inter 1, union 1.
IOU = {'a': 1 / 3, 'b': 2 / 3, 'c': 1 / 2, 'd': 1.0}


def sample(pred: np.ndarray, label: np.ndarray) -> dict:
    """An mmseg data sample as the evaluator hands it to ``process`` (``to_dict()`` of a SegDataSample)."""
    return dict(pred_sem_seg=dict(data=torch.from_numpy(pred)[None]),
                gt_sem_seg=dict(data=torch.from_numpy(label)[None]), seg_map_path='x.png')


def evaluate(unseen, classes=CLASSES, preds=PREDS, labels=LABELS) -> dict:
    metric = ZeroShotIoUMetric(unseen_classes=unseen)
    metric.dataset_meta = dict(classes=classes)
    for pred, label in zip(preds, labels):  # one image per batch: the areas add up over batches
        metric.process({}, [sample(pred, label)])
    return metric.compute_metrics(metric.results)


def percent(x: float) -> float:
    return round(100 * x, 2)


def test_seen_unseen_harmonic_iou_from_one_confusion():
    metrics = evaluate(['c', 'd'])
    seen, unseen = (IOU['a'] + IOU['b']) / 2, (IOU['c'] + IOU['d']) / 2
    assert metrics['mIoU'] == pytest.approx(percent(sum(IOU.values()) / 4))
    assert metrics['sIoU'] == pytest.approx(percent(seen))
    assert metrics['uIoU'] == pytest.approx(percent(unseen))
    assert metrics['hIoU'] == pytest.approx(percent(2 * seen * unseen / (seen + unseen)))
    assert metrics['hIoU'] == pytest.approx(60.0)  # 2 * 0.5 * 0.75 / 1.25


def test_classes_without_ground_truth_or_prediction_are_left_out():
    metrics = evaluate(['c', 'd', 'e'], classes=CLASSES + ('e', ))  # 'e' is nowhere: NaN IoU
    assert metrics['mIoU'] == pytest.approx(percent(sum(IOU.values()) / 4))
    assert metrics['uIoU'] == pytest.approx(percent((IOU['c'] + IOU['d']) / 2))
    # A class with ground truth but no correct pixel counts as 0.
    metrics = evaluate(['b'], preds=[np.zeros_like(PREDS[0]), PREDS[1]])
    assert metrics['uIoU'] == 0.0
    # No unseen class present: uIoU and hIoU are NaN, not 0.
    metrics = evaluate(['e'], classes=CLASSES + ('e', ))
    assert math.isnan(metrics['uIoU']) and math.isnan(metrics['hIoU'])


def test_split_file_seen_list_and_classes_in_neither(tmp_path):
    split = tmp_path / 'split.json'
    split.write_text(json.dumps({'seen': ['b'], 'unseen': ['d']}))
    metrics = evaluate(str(split))  # 'a' and 'c' count only in mIoU
    assert metrics['sIoU'] == pytest.approx(percent(IOU['b']))
    assert metrics['uIoU'] == pytest.approx(percent(IOU['d']))
    assert metrics['mIoU'] == pytest.approx(percent(sum(IOU.values()) / 4))


def test_unknown_unseen_names_are_named():
    metric = ZeroShotIoUMetric(unseen_classes=['c', 'zebra', 'unicorn'])
    with pytest.raises(ValueError, match=r"\['zebra', 'unicorn'\]"):
        metric.dataset_meta = dict(classes=CLASSES)


def test_label_outside_the_classes_is_named():
    with pytest.raises(ValueError, match='label value 7 '):
        evaluate(['d'], labels=[LABELS[0], np.array([[2, 7, 3, 255]])])
    with pytest.raises(ValueError, match='label value 4 '):  # ignore_index 0 does not hide 4
        metric = ZeroShotIoUMetric(unseen_classes=['d'], ignore_index=0)
        metric.dataset_meta = dict(classes=CLASSES)
        metric.process({}, [sample(PREDS[0], np.array([[0, 4, 1, 1]]))])


def relabel(label: np.ndarray, **kwargs) -> np.ndarray:
    return SeenClassLabels(**kwargs).transform(dict(gt_seg_map=label))['gt_seg_map']


def test_seen_class_labels_contiguous_unseen_ignored():
    classes = ['background', 'a', 'b', 'c', 'd']
    label = np.array([[0, 1, 2, 3], [4, 255, 3, 1]], dtype=np.uint8)
    out = relabel(label, classes=classes, unseen_classes=['d', 'b'])
    # seen in class order: background -> 0, a -> 1, c -> 2; unseen b, d and ignored pixels -> 255
    np.testing.assert_array_equal(out, [[0, 1, 255, 2], [255, 255, 2, 1]])
    assert out.dtype == np.uint8
    wide = np.array([[0, 1, 2, 3], [4, 65535, 3, 1]], dtype=np.uint16)  # 16-bit maps ignore 65535
    out = relabel(wide, classes=classes, unseen_classes=['b'], ignore_index=65535)
    np.testing.assert_array_equal(out, [[0, 1, 65535, 2], [3, 65535, 2, 1]])
    assert out.dtype == np.uint16


def test_seen_class_labels_split_file_and_errors(tmp_path):
    split = tmp_path / 'split.json'
    split.write_text(json.dumps({'seen': ['c', 'a'], 'unseen': ['b', 'd']}))  # background in neither list
    label = np.array([[0, 1, 2, 3, 4, 255]], dtype=np.uint8)
    out = relabel(label, classes=['background', 'a', 'b', 'c', 'd'], unseen_classes=str(split))
    np.testing.assert_array_equal(out, [[255, 0, 255, 1, 255, 255]])
    with pytest.raises(ValueError, match='label value 9 '):
        relabel(np.array([[1, 9]], dtype=np.uint8), classes=['a', 'b'], unseen_classes=['b'])
    with pytest.raises(ValueError, match=r"\['zebra'\]"):
        SeenClassLabels(classes=['a', 'b'], unseen_classes=['zebra'])
    transform = SeenClassLabels(classes=dict(dataset='mmseg.PascalVOCDataset'), unseen_classes=list(VOC_UNSEEN))
    assert len(transform.seen) == 16 and transform.seen[0] == 'background'


@pytest.mark.parametrize('name,dataset,counts', [('voc', 'PascalVOCDataset', (15, 5)),
                                                 ('coco-stuff', 'COCOStuffDataset', (156, 15)),
                                                 ('context', 'PascalContextDataset59', (49, 10))])
def test_standard_splits_use_mmseg_class_names(name, dataset, counts, tmp_path):
    classes = mmseg_dataset_classes(dataset)
    unseen = ZERO_SHOT_SPLITS[name][1]
    assert set(unseen) <= set(classes), sorted(set(unseen) - set(classes))
    path = str(tmp_path / f'{name}.json')
    split = write_zero_shot_split(name, path)
    assert load_zero_shot_split(path) == split == standard_split(name)
    assert (len(split['seen']), len(split['unseen'])) == counts
    assert resolve_split(path, classes) == (split['seen'], split['unseen'])


def test_split_constants():
    assert len(VOC_UNSEEN) == 5 and len(COCO_STUFF_UNSEEN) == 15 and len(CONTEXT_UNSEEN) == 10
    assert 'background' not in standard_split('voc')['seen']
