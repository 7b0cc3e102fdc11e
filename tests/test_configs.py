"""Every config parses and names registered types; the synthetic-world configs build their models."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmdistill  # noqa: F401
from mmdistill.apis.runs import load_run_config
from mmdistill.clip import build_clip_model
from mmdistill.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p and not p.endswith('main_job.py'))  # the main job's description, not a model
SYNTHETIC = [p for p in CONFIGS if p.endswith('_synthetic.py')]


def types_in(node):
    if isinstance(node, dict):
        if isinstance(node.get('type'), str):
            yield node['type']
        for k, v in node.items():
            if k not in ('init_cfg', 'nms', 'roi_layer'):  # weight initialisers, NMS and RoI ops: not registry types
                yield from types_in(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from types_in(v)


def registries(scope: str) -> tuple:
    """MODELS, DATASETS, TRANSFORMS, METRICS of a default scope."""
    module = {'mmdistill': 'mmdistill.registry', 'mmdet': 'mmdet.registry', 'mmseg': 'mmseg.registry'}[scope]
    reg = __import__(module, fromlist=['MODELS'])
    models = [reg.MODELS] + ([reg.TASK_UTILS] if hasattr(reg, 'TASK_UTILS') else [])  # anchors, assigners
    return models, reg.DATASETS, reg.TRANSFORMS, reg.METRICS


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, REPO))
def test_config_parses_and_types_are_registered(path):
    cfg = Config.fromfile(path)
    assert 'custom_imports' in cfg and 'mmdistill' in cfg.custom_imports['imports']
    scope = cfg.get('default_scope', 'mmdistill')
    models, datasets, transforms, metrics = registries(scope)
    with DefaultScope.overwrite_default_scope(scope):
        for t in types_in(cfg.model):
            assert any(r.get(t) is not None for r in models), f'model part {t} of {osp.basename(path)} is unknown'
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'test_evaluator'):
            for t in types_in(cfg.get(key, {})):
                found = any(r.get(t) is not None for r in (datasets, transforms, metrics)) or 'Sampler' in t
                assert found, f'{key} part {t} of {osp.basename(path)} is not registered'
    # what alters training is named by the config (importing mmdistill installs nothing)
    hooks = [str(h['type']).split('.')[-1] for h in cfg.get('custom_hooks') or []]
    if 'train_dataloader' in cfg:
        assert 'LossGuardHook' in hooks, f'{osp.basename(path)} trains without LossGuardHook'
    if 'EMATeacher' in list(types_in(cfg.model)):
        assert 'TeacherUpdateHook' in hooks, f'{osp.basename(path)} has an EMA teacher but no TeacherUpdateHook'


@pytest.fixture(scope='module')
def random_checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp('ckpt')
    torch.manual_seed(0)
    clip = build_clip_model('mmdistill-world-ViT-P12')
    clip_path = str(folder / 'tiny_clip.pt')
    torch.save(clip.state_dict(), clip_path)
    return clip_path


@pytest.mark.parametrize('path', [p for p in SYNTHETIC if 'quickstart' not in p],
                         ids=lambda p: osp.basename(p))
def test_synthetic_world_configs_build(path, random_checkpoints):
    cfg = load_run_config(path, 'work_dirs/unused', 'data/synthetic_world', tiny_clip=random_checkpoints)
    for teacher in cfg.model.get('teachers', {}).values():
        if teacher.get('type') == 'RefinerTeacher':
            teacher['checkpoint'] = None  # a trained Refiner's weights: random here
    model = MODELS.build(cfg.model)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable, 'nothing trains'
    assert not any(n.startswith('teachers.') for n in trainable)
