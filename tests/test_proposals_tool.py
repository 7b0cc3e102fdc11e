"""tools/misc/rpn_proposals.py on a tiny synthetic world, and the proposals helpers."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmdistill.datasets.proposals import filter_proposals, load_proposals, save_proposals, select_proposals
from mmdistill.datasets.synthetic import generate_world

REPO = Path(__file__).resolve().parents[1]
TOP_N = 7

TINY_RPN = """
_base_ = {base!r}
model = dict(
    backbone=dict(depth=18, base_channels=8, num_stages=2, strides=(1, 2), dilations=(1, 1), out_indices=(0, 1),
                  frozen_stages=-1, init_cfg=None),
    neck=dict(in_channels=[8, 16], out_channels=16, num_outs=2),
    rpn_head=dict(in_channels=16, feat_channels=16, anchor_generator=dict(strides=[4, 8])),
    test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=50)))
test_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]))
"""


@pytest.fixture(scope='module')
def proposals_run(tmp_path_factory):
    """A random tiny RPN (checkpoint) run by the tool over the 6 validation images of a synthetic world."""
    root = tmp_path_factory.mktemp('rpn_proposals')
    world = root / 'world'
    generate_world(world, seed=0, num_train=1, num_val=6, workers=1, progress=False)
    config = root / 'tiny_rpn.py'
    config.write_text(TINY_RPN.format(base=str(REPO / 'configs' / 'rpn' / 'rpn_r50_fpn_1x_coco_base.py')))
    init_default_scope('mmdet')
    from mmdet.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(config)).model)
    checkpoint = root / 'rpn.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)
    out = root / 'proposals.json'
    ann_file = world / 'annotations' / 'instances_val2017.json'
    cmd = [sys.executable, str(REPO / 'tools' / 'misc' / 'rpn_proposals.py'), str(config), str(checkpoint),
           '--ann-file', str(ann_file), '--img-dir', str(world / 'val2017'), '--out', str(out),
           '--max-per-img', str(TOP_N), '--nms-iou', '0.5', '--batch-size', '4', '--num-workers', '0',
           '--work-dir', str(root / 'work')]
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='', PYTHONPATH=str(REPO))
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    return dict(out=out, log=log, images=json.loads(ann_file.read_text())['images'])


def test_tool_writes_proposals_of_every_image(proposals_run):
    entries = json.loads(proposals_run['out'].read_text())
    assert entries and all(set(e) == {'image_id', 'bbox', 'score', 'category_id'} for e in entries)
    assert all(e['category_id'] == 1 for e in entries)
    proposals = load_proposals(str(proposals_run['out']))
    sizes = {im['id']: (im['width'], im['height']) for im in proposals_run['images']}
    assert set(proposals) == set(sizes)
    for image_id, boxes in proposals.items():
        w, h = sizes[image_id]
        assert boxes.shape[1] == 5 and 1 <= len(boxes) <= TOP_N
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
        assert (boxes[:, 2] <= w + 0.01).all() and (boxes[:, 3] <= h + 0.01).all()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        assert (np.diff(boxes[:, 4]) <= 0).all()
    assert 'proposals written to' in proposals_run['log'] and 'recall@0.5' in proposals_run['log']


def test_select_proposals():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [-5, -5, 50, 50], [20, 20, 30, 30], [5, 5, 5, 9]],
                         dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7, 0.05, 0.95])
    out = select_proposals(boxes, scores, (40, 30), max_num=10, score_thr=0.1, nms_iou=0.5)
    # box 4 is empty, box 3 is below the threshold, box 1 is suppressed by box 0, box 2 is clipped to 30x40
    np.testing.assert_allclose(out, [[0, 0, 10, 10, 0.9], [0, 0, 30, 40, 0.7]], rtol=1e-6)
    assert len(select_proposals(boxes, scores, (40, 30), max_num=2)) == 2


def test_filter_proposals():
    boxes = np.array([[0, 0, 4, 4, 0.9],       # area 16 < 64
                      [0, 0, 10, 10, 0.2],
                      [0, 0, 2000, 2000, 0.8],  # area > 1024^2
                      [0, 0, 20, 20, 0.6],
                      [0, 0, 30, 30, 0.4]], dtype=np.float32)
    np.testing.assert_array_equal(filter_proposals(boxes), boxes[[1, 3, 4]])
    np.testing.assert_array_equal(filter_proposals(boxes, max_num=2), boxes[[3, 4]])
    np.testing.assert_array_equal(filter_proposals(boxes[:, :4], min_area=0, max_area=500), boxes[[0, 1, 3], :4])
    assert filter_proposals(np.zeros((0, 5))).shape == (0, 5)
    with pytest.raises(ValueError, match='shape'):
        filter_proposals(np.zeros((3, 6)))


def test_save_load_round_trip(tmp_path):
    proposals = {3: np.array([[1, 2, 11, 22, 0.5], [0, 0, 5, 5, 0.75]], dtype=np.float32),
                 1: np.array([[4, 4, 8, 9, 0.25]], dtype=np.float32)}
    path = save_proposals(proposals, str(tmp_path / 'p.json'), objectness={3: [0.1, 0.2], 1: [0.3]})
    entries = json.loads(Path(path).read_text())
    assert entries[0] == {'image_id': 1, 'bbox': [4.0, 4.0, 4.0, 5.0], 'score': 0.25, 'category_id': 1,
                          'objectness': 0.3}
    loaded = load_proposals(path)
    assert list(loaded) == [1, 3]
    np.testing.assert_allclose(loaded[3], proposals[3][[1, 0]])  # best score first
    np.testing.assert_allclose(loaded[1], proposals[1])
    with pytest.raises(ValueError, match='objectness'):
        save_proposals(proposals, str(tmp_path / 'q.json'), objectness={3: [0.1], 1: [0.3]})


def test_load_proposals_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='rpn_proposals'):
        load_proposals(str(tmp_path / 'missing.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps([{'image_id': 1, 'bbox': [0, 0, 1, 1], 'score': 0.5}, {'image_id': 2, 'bbox': [0, 0]}]))
    with pytest.raises(ValueError, match='entry 1'):
        load_proposals(str(bad))
    bad.write_text(json.dumps({'1': []}))
    with pytest.raises(ValueError, match='list'):
        load_proposals(str(bad))
