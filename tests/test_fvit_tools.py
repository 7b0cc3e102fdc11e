"""F-ViT through the stock-like tools: tools/train.py, tools/test.py and the demo, on a tiny world."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import mmcv
import pytest
import torch

import mmdistill  # noqa: F401
from mmdistill.apis.runs import load_run_config
from mmdistill.clip import build_clip_model
from mmdistill.datasets.ov_splits import prepare_ov_world
from mmdistill.datasets.synthetic import generate_world

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs/fvit/fvit_tinyclip-p12_fpn_1xb8-250it_ov-synthetic.py')
ENV = dict(os.environ, MMDISTILL_OFFLINE='1')


def run(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *args], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A world of 48 + 8 images, a random tiny CLIP, and F-ViT trained 4 iterations through tools/train.py."""
    root = tmp_path_factory.mktemp('fvit')
    world = str(root / 'world')
    generate_world(world, seed=3, num_train=48, num_val=8, workers=1, progress=False)
    prepare_ov_world(world)
    torch.manual_seed(0)
    clip = str(root / 'tiny_clip.pt')
    torch.save(build_clip_model('mmdistill-world-ViT-P12').state_dict(), clip)
    cfg = load_run_config(CONFIG, str(root / 'work'), world, clip)
    cfg.merge_from_dict({'train_cfg.max_iters': 4, 'train_cfg.val_interval': 4, 'train_dataloader.batch_size': 2,
                         'default_hooks.checkpoint.interval': 4, 'default_hooks.logger.interval': 1,
                         'param_scheduler.0.end': 2, 'param_scheduler.1.milestones': [3]})
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].update(num_workers=0, persistent_workers=False)
    config = str(root / 'fvit_world.py')
    cfg.dump(config)
    proc = run('tools/train.py', config, '--work-dir', str(root / 'work'))
    return dict(root=root, world=world, config=config, checkpoint=str(root / 'work' / 'iter_4.pth'), log=proc)


def test_train_logs_every_loss_and_writes_a_checkpoint(trained):
    log = glob.glob(str(trained['root'] / 'work' / '*' / 'vis_data' / 'scalars.json'))[0]
    scalars = [json.loads(line) for line in open(log)]
    train_rows = [r for r in scalars if 'loss' in r]
    assert len(train_rows) == 4
    for key in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'acc'):
        assert all(key in r for r in train_rows), key
    assert osp.isfile(trained['checkpoint'])
    state = torch.load(trained['checkpoint'], map_location='cpu', weights_only=False)['state_dict']
    assert 'roi_head.bbox_head.fc_cls.temperature' in state
    assert not any(k.startswith('roi_head.bbox_head.fc_cls.embeddings') for k in state)  # text, not weights


def test_tools_test_reports_novel_base_and_all_ap50(trained, tmp_path):
    proc = run('tools/test.py', trained['config'], trained['checkpoint'], '--work-dir', str(tmp_path))
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith('metrics: ')][-1]
    metrics = json.loads(line[len('metrics: '):])
    for key in ('coco/novel_ap50', 'coco/base_ap50', 'coco/all_ap50'):
        assert 0.0 <= metrics[key] <= 1.0, key


def test_demo_detects_a_user_vocabulary(trained, tmp_path):
    image = osp.join(trained['world'], 'val2017', '000000000001.png')
    run('tools/demo/ov_det_demo.py', image, trained['config'], trained['checkpoint'],
        '--texts', 'red circle,blue heart', '--out-dir', str(tmp_path), '--score-thr', '0.0', '--device', 'cpu')
    picture = mmcv.imread(str(tmp_path / 'vis' / '000000000001.png'))
    assert picture.shape[:2] == mmcv.imread(image).shape[:2]
    preds = json.load(open(tmp_path / 'preds' / '000000000001.json'))
    assert len(preds['labels']) > 0 and set(preds['labels']) <= {0, 1}
    with pytest.raises(AssertionError, match='no image or folder'):
        run('tools/demo/ov_det_demo.py', str(tmp_path / 'missing.png'), trained['config'], trained['checkpoint'])
