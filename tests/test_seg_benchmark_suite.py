"""The zero-shot segmentation suite (one Runner.test() per config, tables) and the benchmark datasets."""
import csv
import importlib.util
import io
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.registry import DATASETS, MODELS, TRANSFORMS
from PIL import Image

import mmdistill  # noqa: F401
from mmdistill.apis.seg_benchmarks import FAILED, OK, SKIPPED, benchmark_config, dataset_paths, run_suite

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CLASSES = ['a', 'b', 'c']
SIZE = 16


@MODELS.register_module(force=True)
class SuiteStubSegmentor(BaseModel):
    """Predicts the ground truth (``'gt'``) or all zeros (``'zeros'``), or raises (``'raise'``)."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def forward(self, inputs, data_samples=None, mode='tensor'):
        if self.mode == 'raise':
            raise RuntimeError('the stub model fails')
        for sample in data_samples:
            gt = sample.gt_sem_seg.data
            sample.pred_sem_seg = PixelData(data=gt.clone() if self.mode == 'gt' else torch.zeros_like(gt))
        return data_samples


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> str:
    """Three images; labels: top quarter ignored, then left half 'a' (0), right half 'c' (2); 'b' nowhere."""
    root = tmp_path_factory.mktemp('seg')
    (root / 'img').mkdir()
    (root / 'ann').mkdir()
    label = np.zeros((SIZE, SIZE), np.uint8)
    label[:, SIZE // 2:] = 2
    label[:SIZE // 4] = 255
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)).save(root / 'img' / f'{i}.png')
        Image.fromarray(label).save(root / 'ann' / f'{i}.png')
    return str(root)


def write_config(folder, name: str, model: dict, data_root: str, evaluator: dict) -> str:
    path = osp.join(folder, f'{name}.py')
    dataset = dict(type='BaseSegDataset', data_root=data_root, data_prefix=dict(img_path='img', seg_map_path='ann'),
                   img_suffix='.png', seg_map_suffix='.png', metainfo=dict(classes=CLASSES),
                   pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                             dict(type='PackSegInputs')])
    Config(dict(default_scope='mmseg', benchmark=name.upper(), model=model, test_evaluator=evaluator,
                test_dataloader=dict(batch_size=2, num_workers=0, dataset=dataset,
                                     sampler=dict(type='DefaultSampler', shuffle=False)),
                test_cfg=dict(type='TestLoop'), log_level='WARNING')).dump(path)
    return path


def read_csv(path: str) -> list[dict]:
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def test_suite_tables_rows_mean_and_skipped(data_root, tmp_path):
    iou = dict(type='IoUMetric', iou_metrics=['mIoU'])
    configs = [
        # a: 1, b: NaN (left out), c: 1 -> 100 everywhere
        write_config(tmp_path, 'exact', dict(type='SuiteStubSegmentor', mode='gt'), data_root,
                     dict(type='ZeroShotIoUMetric', unseen_classes=['c'])),
        # a: inter 96 / union 192 = 0.5, b: NaN, c: 0 -> mIoU 25
        write_config(tmp_path, 'zeros', dict(type='SuiteStubSegmentor', mode='zeros'), data_root, iou),
        write_config(tmp_path, 'nodata', dict(type='SuiteStubSegmentor', mode='gt'), osp.join(data_root, 'gone'), iou),
        write_config(tmp_path, 'broken', dict(type='SuiteStubSegmentor', mode='raise'), data_root, iou),
    ]
    lines = []
    results = run_suite(configs, str(tmp_path / 'out'), log=lines.append)
    assert [r.status for r in results] == [OK, OK, SKIPPED, FAILED]
    assert results[0].metrics == dict(mIoU=100.0, sIoU=100.0, uIoU=100.0, hIoU=100.0)
    assert results[1].metrics == dict(mIoU=25.0)
    assert osp.join(data_root, 'gone') in results[2].message and configs[2] in results[2].message
    assert 'the stub model fails' in results[3].message
    assert sum('[3/4] NODATA: skipped' in line for line in lines) == 1

    rows = read_csv(str(tmp_path / 'out' / 'results.csv'))
    assert [r['benchmark'] for r in rows] == ['EXACT', 'ZEROS', 'NODATA', 'BROKEN', 'mean']
    assert [r['status'] for r in rows[:4]] == [OK, OK, SKIPPED, FAILED]
    assert float(rows[-1]['mIoU']) == pytest.approx(62.5)  # the mean over the configs that ran
    assert float(rows[-1]['hIoU']) == pytest.approx(100.0) and rows[1]['hIoU'] == ''

    table = (tmp_path / 'out' / 'results.md').read_text().splitlines()
    assert table[0] == '| benchmark | mIoU | sIoU | uIoU | hIoU | status |'
    assert table[2] == '| EXACT | 100.00 | 100.00 | 100.00 | 100.00 | ok |'
    assert table[3] == '| ZEROS | 25.00 | - | - | - | ok |'
    assert table[4].startswith('| NODATA | - | - | - | - | skipped: ') and 'gone' in table[4]
    assert table[-1] == '| mean (2 of 4) | 62.50 | 100.00 | 100.00 | 100.00 | |'


def test_suite_runs_the_zero_shot_segmentor_with_tower_overrides(data_root, tmp_path):
    arch = 'mmdistill-tiny-ViT-P8'
    model = dict(type='ZeroShotSegmentor', tower=dict(type='CLIPTower', arch=arch, checkpoint=None),
                 vocabulary=dict(classes=CLASSES, templates=['a {}.'], text=dict(arch=arch, checkpoint=None)),
                 data_preprocessor=dict(type='SegDataPreProcessor', mean=[127.5] * 3, std=[64.0] * 3))
    config = write_config(tmp_path, 'tiny', model, data_root, dict(type='IoUMetric', iou_metrics=['mIoU']))
    cfg = benchmark_config(config, str(tmp_path / 'w'), dense_path='sclip', cfg_options={'model.logit_scale': 10.0})
    assert cfg.model.tower.dense_path == 'sclip' and cfg.model.logit_scale == 10.0
    [result] = run_suite([config], str(tmp_path / 'out'), log=lambda line: None, dense_path='sclip')
    assert result.status == OK and 0.0 <= result.metrics['mIoU'] <= 100.0
    [result] = run_suite([config], str(tmp_path / 'out'), log=lambda line: None, tower_checkpoint='missing.pt')
    assert result.status == FAILED and 'missing.pt' in result.message


def test_tower_override_needs_a_tower(data_root, tmp_path):
    config = write_config(tmp_path, 'stub', dict(type='SuiteStubSegmentor', mode='gt'), data_root, {})
    with pytest.raises(ValueError, match='no tower'):
        benchmark_config(config, str(tmp_path), tower_checkpoint='x.pt')


def test_exit_code_of_the_command(data_root, tmp_path):
    spec = importlib.util.spec_from_file_location('zero_shot_suite',
                                                  osp.join(REPO, 'tools', 'analysis', 'zero_shot_suite.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    iou = dict(type='IoUMetric', iou_metrics=['mIoU'])
    good = write_config(tmp_path, 'good', dict(type='SuiteStubSegmentor', mode='gt'), data_root, iou)
    gone = write_config(tmp_path, 'gone', dict(type='SuiteStubSegmentor', mode='gt'), str(tmp_path / 'no'), iou)
    assert tool.main([good, '--out-dir', str(tmp_path / 'a')]) == 0
    assert tool.main([good, gone, '--out-dir', str(tmp_path / 'b')]) == 1
    assert len(read_csv(str(tmp_path / 'b' / 'results.csv'))) == 3


def test_dataset_paths_of_the_benchmark_configs():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'zero_shot_seg', 'zeroshot_vit-b16-openai_ade847-336.py'))
    root = 'data/ADE20K_2021_17_01'
    assert dataset_paths(cfg.test_dataloader.dataset) == [
        root, f'{root}/ade847_classes.txt', f'{root}/images_detectron2/validation',
        f'{root}/annotations_detectron2/validation']


def test_coco_object_labels_from_coco_stuff_maps(tmp_path):
    (tmp_path / 'img').mkdir()
    (tmp_path / 'ann').mkdir()
    Image.fromarray(np.zeros((2, 3, 3), np.uint8)).save(tmp_path / 'img' / '1.jpg')
    stuff = np.array([[0, 79, 80], [170, 255, 14]], np.uint8)  # person, toothbrush, banner, wood, unlabeled, bird
    Image.fromarray(stuff).save(tmp_path / 'ann' / '1_labelTrainIds.png')
    cfg = dict(type='COCOObjectDataset', data_root=str(tmp_path), data_prefix=dict(img_path='img', seg_map_path='ann'),
               pipeline=[dict(type='LoadAnnotations')])
    dataset = DATASETS.build(cfg)
    assert len(dataset.metainfo['classes']) == 81 and dataset.metainfo['classes'][15] == 'bird'
    # unlabeled -> background, as GroupViT's cvt_coco_object.py (SCLIP / NACLIP's COCO-Object maps)
    np.testing.assert_array_equal(dataset[0]['gt_seg_map'], [[1, 80, 0], [0, 0, 15]])
    kept = DATASETS.build(dict(cfg, unlabeled_as_background=False))
    np.testing.assert_array_equal(kept[0]['gt_seg_map'], [[1, 80, 0], [0, 255, 15]])


def test_names_file_datasets_and_wide_label_maps(tmp_path):
    (tmp_path / 'img').mkdir()
    (tmp_path / 'ann').mkdir()
    cfg = dict(type='PascalContext459Dataset', data_root=str(tmp_path), classes_file='names.txt',
               data_prefix=dict(img_path='img', seg_map_path='ann'), pipeline=[dict(type='LoadWideAnnotations')])
    with pytest.raises(FileNotFoundError, match='names.txt not found: PASCAL Context 459 needs'):
        DATASETS.build(cfg)
    (tmp_path / 'names.txt').write_text('\n'.join(f'class {i}' for i in range(458)))
    with pytest.raises(ValueError, match='has 459 classes, the file names 458'):
        DATASETS.build(cfg)
    (tmp_path / 'names.txt').write_text('\n'.join(f'class {i}' for i in range(459)))
    wide = np.array([[0, 300], [458, 65535]], np.uint16)
    Image.fromarray(wide).save(tmp_path / 'ann' / 'x.tif')
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / 'img' / 'x.jpg')
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / 'img' / 'not_in_val.jpg')
    dataset = DATASETS.build(cfg)
    assert len(dataset) == 1 and dataset.metainfo['classes'][300] == 'class 300'
    np.testing.assert_array_equal(dataset[0]['gt_seg_map'], wide)  # not cast to uint8
    loader = TRANSFORMS.build(dict(type='LoadWideAnnotations'))
    buffer = io.BytesIO()
    Image.fromarray(wide).save(buffer, format='PNG')
    (tmp_path / 'x.png').write_bytes(buffer.getvalue())
    out = loader(dict(seg_map_path=str(tmp_path / 'x.png'), seg_fields=[], reduce_zero_label=False))
    np.testing.assert_array_equal(out['gt_seg_map'], wide)


@pytest.fixture(autouse=True)
def mmseg_default_scope():
    """The dataset and transform types of these tests are mmseg's, as in an mmseg config."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield
