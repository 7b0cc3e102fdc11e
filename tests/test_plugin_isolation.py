"""Importing mmdistill registers modules and changes nothing else: a stock mmdet and a stock mmseg model train
to bit-identical weights with and without the import, and the classes of a training step keep their methods.

Imports are process-wide, so each side runs in a fresh interpreter (CPU, one thread, fixed seeds,
deterministic algorithms). Each model takes two ordinary steps and then one whose input holds a NaN: stock
mmengine takes that step too (its weights turn NaN); a guard installed at import would stop it instead.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]

TRAIN = textwrap.dedent('''
    import sys

    import torch
    import mmengine.fileio.backends.local_backend as local_backend
    import mmengine.model as mmengine_model
    import mmengine.optim as mmengine_optim
    import mmengine.runner as mmengine_runner
    import mmdet.models as mmdet_models
    import mmseg.models as mmseg_models
    from mmengine.registry import DefaultScope
    from mmengine.structures import InstanceData, PixelData
    from mmdet.registry import MODELS as DET_MODELS
    from mmdet.structures import DetDataSample
    from mmseg.registry import MODELS as SEG_MODELS
    from mmseg.structures import SegDataSample

    CLASSES = [mmengine_model.BaseModel, mmengine_model.BaseDataPreprocessor, mmengine_model.ImgDataPreprocessor,
               mmengine_optim.OptimWrapper, mmengine_optim.AmpOptimWrapper, mmengine_runner.Runner,
               mmengine_runner.IterBasedTrainLoop, mmengine_runner.EpochBasedTrainLoop, local_backend.LocalBackend,
               mmdet_models.BaseDetector, mmdet_models.SingleStageDetector, mmdet_models.TwoStageDetector,
               mmdet_models.DetDataPreprocessor, mmseg_models.BaseSegmentor, mmseg_models.EncoderDecoder,
               mmseg_models.SegDataPreProcessor]

    def members(cls):
        return {name: value for c in cls.__mro__ for name, value in vars(c).items()}

    before = {cls: members(cls) for cls in CLASSES}
    if sys.argv[1] == 'with':
        import mmdistill  # noqa: F401
    for cls in CLASSES:
        after = members(cls)
        changed = sorted(k for k in set(before[cls]) | set(after) if before[cls].get(k) is not after.get(k))
        assert not changed, f'importing mmdistill changed {cls.__qualname__}: {changed}'

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    DETECTOR = dict(
        type='RetinaNet',
        data_preprocessor=dict(type='DetDataPreprocessor', mean=[0., 0., 0.], std=[255., 255., 255.],
                               pad_size_divisor=32),
        backbone=dict(type='ResNet', depth=18, base_channels=8, out_indices=(1, 2, 3), norm_eval=False),
        neck=dict(type='FPN', in_channels=[16, 32, 64], out_channels=16, num_outs=3),
        bbox_head=dict(
            type='RetinaHead', num_classes=3, in_channels=16, stacked_convs=1, feat_channels=16,
            anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=1, ratios=[1.0],
                                  strides=[8, 16, 32]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4, target_stds=[1.] * 4),
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0),
                       sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1, debug=False))
    SEGMENTOR = dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0., 0., 0.], std=[255., 255., 255.], size=(64, 64),
                               seg_pad_val=255),
        backbone=dict(type='MixVisionTransformer', embed_dims=8, num_layers=[1, 1, 1, 1], num_heads=[1, 2, 4, 8],
                      mlp_ratio=2, drop_path_rate=0.0),
        decode_head=dict(type='SegformerHead', in_channels=[8, 16, 32, 64], in_index=[0, 1, 2, 3], channels=16,
                         dropout_ratio=0.0, num_classes=4, norm_cfg=dict(type='BN'),
                         loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
        train_cfg=dict(), test_cfg=dict(mode='whole'))

    def det_batch(gen, bad=False):
        inputs, samples = [], []
        for _ in range(2):
            image = torch.rand(3, 64, 64, generator=gen) * 255
            if bad:
                image[0, 0, 0] = float('nan')
            xy = torch.rand(2, 2, generator=gen) * 28
            boxes = torch.cat([xy, xy + 12 + torch.rand(2, 2, generator=gen) * 20], dim=1)
            sample = DetDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64), scale_factor=(1., 1.)))
            sample.gt_instances = InstanceData(bboxes=boxes, labels=torch.randint(0, 3, (2,), generator=gen))
            inputs.append(image)
            samples.append(sample)
        return dict(inputs=inputs, data_samples=samples)

    def seg_batch(gen, bad=False):
        inputs, samples = [], []
        for _ in range(2):
            image = torch.rand(3, 64, 64, generator=gen) * 255
            if bad:
                image[0, 0, 0] = float('nan')
            sample = SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64)))
            sample.gt_sem_seg = PixelData(data=torch.randint(0, 4, (1, 64, 64), generator=gen))
            inputs.append(image)
            samples.append(sample)
        return dict(inputs=inputs, data_samples=samples)

    def train(registry, cfg, make_batch):
        torch.manual_seed(0)
        with DefaultScope.overwrite_default_scope(registry.scope):
            model = registry.build(cfg)
        model.init_weights()
        model.train()
        optim = mmengine_optim.OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
        gen = torch.Generator().manual_seed(1)
        states, losses = [], []
        for bad in (False, False, True):
            log_vars = model.train_step(make_batch(gen, bad), optim)
            losses.append(float(log_vars['loss']))
            states.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return dict(states=states, losses=losses)

    torch.save(dict(det=train(DET_MODELS, DETECTOR, det_batch), seg=train(SEG_MODELS, SEGMENTOR, seg_batch)),
               sys.argv[2])
    print('TRAINED')
''')


@pytest.fixture(scope='module')
def runs(tmp_path_factory) -> dict:
    """Both sides at once, one thread each: ``{'without': ..., 'with': ...}``, each ``{'det': ..., 'seg': ...}``."""
    tmp_path = tmp_path_factory.mktemp('isolation')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')]),
               OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    env.pop('MMDISTILL_OFFLINE', None)  # the import alone, as a user's unrelated config gets it
    procs = {side: subprocess.Popen([sys.executable, '-c', TRAIN, side, str(tmp_path / f'{side}.pth')],
                                    cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for side in ('without', 'with')}
    for side, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0 and 'TRAINED' in stdout, f'{side}: {(stdout + stderr)[-4000:]}'
    return {side: torch.load(tmp_path / f'{side}.pth', weights_only=False) for side in procs}


@pytest.mark.parametrize('model', ['det', 'seg'])
def test_a_stock_model_trains_to_bit_identical_weights_with_and_without_the_import(runs, model):
    without, with_ = runs['without'][model], runs['with'][model]
    assert with_['losses'][:2] == without['losses'][:2]
    assert all(v == v for v in without['losses'][:2])  # two ordinary steps with finite losses
    for step in (0, 1):
        a, b = without['states'][step], with_['states'][step]
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), f'step {step + 1}: {key} differs'
    moved = [k for k in without['states'][0] if without['states'][0][k].is_floating_point()
             and not torch.equal(without['states'][0][k], without['states'][1][k])]
    assert moved  # the second step changed weights: the comparison is not of two untouched models
    # the step with a NaN input: mmengine takes it, with or without mmdistill
    assert without['losses'][2] != without['losses'][2] and with_['losses'][2] != with_['losses'][2]
    for key, value in without['states'][2].items():
        torch.testing.assert_close(with_['states'][2][key], value, rtol=0, atol=0, equal_nan=True)
    assert any(torch.isnan(v).any() for v in without['states'][2].values() if v.is_floating_point())
