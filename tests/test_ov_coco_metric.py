"""OVSplitCocoMetric on a crafted ground truth with hand-computed AP50, checked against pycocotools directly."""
import json

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mmdistill.evaluation import OVSplitCocoMetric

CLASSES = ('cat', 'dog', 'cow', 'bird', 'fish')
SPLIT = {'base': ['cat', 'cow'], 'novel': ['dog', 'bird']}  # fish is outside the split
SIZE = (100, 100)
# (image id, class index, x1, y1, x2, y2)
GT = [(1, 0, 10, 10, 50, 50), (2, 0, 20, 20, 60, 60), (2, 2, 60, 60, 90, 90), (3, 1, 5, 5, 45, 45),
      (3, 4, 50, 50, 95, 95)]
# (image id, class index, score, x1, y1, x2, y2)
PRED = [
    (1, 0, 0.9, 10, 10, 50, 50),  # cat: true positive
    (1, 0, 0.8, 60, 60, 95, 95),  # cat: false positive ranked above the second true positive
    (2, 0, 0.7, 21, 21, 61, 61),  # cat: true positive (IoU ~0.9)
    (3, 1, 0.6, 5, 5, 45, 45),  # dog: perfect
    (1, 3, 0.5, 0, 0, 30, 30),  # bird: no ground truth anywhere
    (3, 4, 0.4, 50, 50, 95, 95),  # fish: perfect, but outside the split
]  # cow: ground truth, no detection
# cat: precisions 1, 1/2, 2/3 at recalls 1/2, 1/2, 1; interpolated: 1 on the 51 recall points <= 0.5,
# 2/3 on the 50 above.
AP_CAT = (51 * 1.0 + 50 * 2 / 3) / 101
EXPECTED = {'cat': AP_CAT, 'dog': 1.0, 'cow': 0.0, 'fish': 1.0}


def boxes(rows):
    return torch.tensor([r[-4:] for r in rows], dtype=torch.float32).reshape(-1, 4)


def data_samples(with_gt=True, preds=PRED):
    samples = []
    for img_id in (1, 2, 3):
        mine = [p for p in preds if p[0] == img_id]
        sample = {'img_id': img_id, 'ori_shape': SIZE,
                  'pred_instances': {'bboxes': boxes(mine), 'scores': torch.tensor([p[2] for p in mine]),
                                     'labels': torch.tensor([p[1] for p in mine], dtype=torch.long)}}
        if with_gt:
            sample['instances'] = [{'bbox': list(g[2:]), 'bbox_label': g[1], 'ignore_flag': 0}
                                   for g in GT if g[0] == img_id]
        samples.append(sample)
    return samples


def split_file(tmp_path, split=SPLIT):
    path = tmp_path / 'split.json'
    path.write_text(json.dumps(split))
    return str(path)


def coco_gt(cat_ids):
    anns = [{'id': i + 1, 'image_id': g[0], 'category_id': cat_ids[g[1]], 'iscrowd': 0,
             'bbox': [g[2], g[3], g[4] - g[2], g[5] - g[3]], 'area': (g[4] - g[2]) * (g[5] - g[3])}
            for i, g in enumerate(GT)]
    return {'images': [{'id': i, 'width': SIZE[1], 'height': SIZE[0], 'file_name': f'{i}.jpg'} for i in (1, 2, 3)],
            'annotations': anns, 'categories': [{'id': cat_ids[k], 'name': n} for k, n in enumerate(CLASSES)]}


def reference_ap50():
    """Per-class AP50 straight from pycocotools with its default parameters."""
    gt = COCO()
    gt.dataset = coco_gt(list(range(1, 6)))
    gt.createIndex()
    dt = gt.loadRes([{'image_id': p[0], 'category_id': p[1] + 1, 'score': p[2],
                      'bbox': [p[3], p[4], p[5] - p[3], p[6] - p[4]]} for p in PRED])
    coco_eval = COCOeval(gt, dt, 'bbox')
    coco_eval.evaluate()
    coco_eval.accumulate()
    ap = {}
    for k, name in enumerate(CLASSES):
        precision = coco_eval.eval['precision'][0, :, k, 0, -1]
        if (precision > -1).any():
            ap[name] = float(precision[precision > -1].mean())
    return ap


def check(result, key=''):
    assert result[f'{key}ap50_per_class'] == pytest.approx(EXPECTED)
    assert result[f'{key}ap50_per_class'] == pytest.approx(reference_ap50())
    assert result[f'{key}novel_ap50'] == pytest.approx(1.0)  # bird has no ground truth: left out
    assert result[f'{key}base_ap50'] == pytest.approx((AP_CAT + 0.0) / 2)
    assert result[f'{key}all_ap50'] == pytest.approx((AP_CAT + 1.0 + 0.0) / 3)  # fish is not in the split


def test_ap50_from_converted_ground_truth(tmp_path):
    metric = OVSplitCocoMetric(split_file=split_file(tmp_path))
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, data_samples())
    result = metric.compute_metrics(metric.results)
    check(result)
    assert AP_CAT == pytest.approx(0.834983, abs=1e-6)


def test_ap50_from_ann_file_with_sparse_ids(tmp_path):
    ann_file = tmp_path / 'gt.json'
    ann_file.write_text(json.dumps(coco_gt([11, 3, 27, 8, 40])))
    metric = OVSplitCocoMetric(split_file=split_file(tmp_path), ann_file=str(ann_file))
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, data_samples(with_gt=False))
    result = metric.evaluate(3)
    check(result, key='coco/')
    assert set(result) == {'coco/novel_ap50', 'coco/base_ap50', 'coco/all_ap50', 'coco/ap50_per_class'}


def test_no_detection_gives_zero(tmp_path):
    metric = OVSplitCocoMetric(split_file=split_file(tmp_path))
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, data_samples(preds=[]))
    result = metric.compute_metrics(metric.results)
    assert (result['novel_ap50'], result['base_ap50'], result['all_ap50']) == (0.0, 0.0, 0.0)


def test_segm(tmp_path):
    metric = OVSplitCocoMetric(split_file=split_file(tmp_path), metric=['bbox', 'segm'])
    metric.dataset_meta = dict(classes=CLASSES)
    masks = torch.zeros(1, *SIZE, dtype=torch.bool)
    masks[0, 5:45, 5:45] = True
    sample = {'img_id': 1, 'ori_shape': SIZE,
              'pred_instances': {'bboxes': torch.tensor([[5.0, 5, 45, 45]]), 'scores': torch.tensor([0.9]),
                                 'labels': torch.tensor([1]), 'masks': masks},
              'instances': [{'bbox': [5, 5, 45, 45], 'bbox_label': 1, 'ignore_flag': 0,
                             'mask': [[5, 5, 45, 5, 45, 45, 5, 45]]}]}
    metric.process({}, [sample])
    result = metric.compute_metrics(metric.results)
    assert result['segm_novel_ap50'] == pytest.approx(1.0) and result['novel_ap50'] == pytest.approx(1.0)
    assert np.isnan(result['segm_base_ap50'])  # no base ground truth at all
    assert result['segm_ap50_per_class'] == pytest.approx({'dog': 1.0})


def test_split_class_missing_from_dataset(tmp_path):
    metric = OVSplitCocoMetric(split_file=split_file(tmp_path, {'base': ['cat'], 'novel': ['zebra']}))
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, data_samples())
    with pytest.raises(ValueError, match="'zebra'"):
        metric.compute_metrics(metric.results)


def test_split_from_metainfo_without_split_file():
    metric = OVSplitCocoMetric()
    metric.dataset_meta = dict(classes=CLASSES, base_classes=tuple(SPLIT['base']), novel_classes=('dog', 'bird'))
    metric.process({}, data_samples())
    check(metric.compute_metrics(metric.results))
    metric.dataset_meta = dict(classes=CLASSES)
    with pytest.raises(ValueError, match='split_file'):
        metric.compute_metrics(metric.results)


def test_registered_in_mmdet(tmp_path):
    from mmdet.registry import METRICS
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet'):  # as in an mmdet config
        metric = METRICS.build(dict(type='OVSplitCocoMetric', split_file=split_file(tmp_path)))
    assert type(metric) is OVSplitCocoMetric
    with pytest.raises(KeyError, match='proposal'):
        OVSplitCocoMetric(split_file=split_file(tmp_path), metric='proposal')


def test_a_test_on_some_images_of_the_annotation_file_evaluates_those_images(tmp_path):
    """A dataset's ``indices`` test only some images: their objects count, the untested images' do not (mmdet's
    CocoMetric takes every image of the file and counts the rest as missed)."""
    ann_file = tmp_path / 'gt.json'
    ann_file.write_text(json.dumps(coco_gt(list(range(1, 6)))))
    metric = OVSplitCocoMetric(split_file=split_file(tmp_path), ann_file=str(ann_file))
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, [s for s in data_samples(with_gt=False) if s['img_id'] != 2])  # images 1 and 3
    result = metric.evaluate(2)
    # image 2 held a cat (detected) and a cow (missed): without it, cat is 1 of 1 found with a false positive ranked
    # below it (AP 1), cow has no ground truth left, dog is perfect
    assert result['coco/ap50_per_class'] == pytest.approx({'cat': 1.0, 'dog': 1.0, 'fish': 1.0})
    assert result['coco/base_ap50'] == pytest.approx(1.0) and result['coco/novel_ap50'] == pytest.approx(1.0)
