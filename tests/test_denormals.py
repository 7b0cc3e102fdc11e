"""Subnormal floats flushed to zero for training runs (mmdistill/engine/denormals.py)."""
import torch
from mmengine.config import Config

from mmdistill.engine import FlushDenormalsHook
from mmdistill.utils.runtime import add_training_hooks

SUBNORMAL = 1e-39  # below float32's smallest normal number, 1.18e-38


def test_the_hook_flushes_subnormals_and_can_be_disabled():
    try:
        torch.set_flush_denormal(False)  # an earlier run in this process may have flushed
        x = torch.tensor([SUBNORMAL, 1e-30])
        FlushDenormalsHook(enabled=False).before_run(None)
        assert (x * 1.0)[0].item() > 0
        FlushDenormalsHook().before_run(None)
        assert (x * 1.0)[0].item() == 0.0
        assert (x * 1.0)[1].item() == torch.tensor(1e-30).item()  # normal numbers untouched
    finally:
        torch.set_flush_denormal(False)


def test_training_runs_get_the_hook_unless_their_config_lists_it():
    cfg = Config(dict(custom_hooks=[]))
    add_training_hooks(cfg)
    assert [h['type'] for h in cfg.custom_hooks] == [
        'mmdistill.RNGStateHook', 'mmdistill.NonEmptyTrainDataHook', 'mmdistill.FlushDenormalsHook',
        'mmdistill.LossGuardHook', 'mmdistill.TeacherUpdateHook']
    cfg = Config(dict(custom_hooks=[dict(type='mmdistill.FlushDenormalsHook', enabled=False)]))
    add_training_hooks(cfg)
    flush = [h for h in cfg.custom_hooks if h['type'].endswith('FlushDenormalsHook')]
    assert flush == [dict(type='mmdistill.FlushDenormalsHook', enabled=False)]
