"""Export a C2S student as a stock mmseg ``EncoderDecoder``: no CLIP, no extra parameter.

The student's ``conv_seg`` maps decoder features to ``F`` (``D`` channels) and test logits are
``alpha A F``: two linear maps, folded into one ``conv_seg`` with ``N`` output channels::

    W' = alpha A W        b' = alpha A b        (A: (N, D) test text embeddings)
"""
from __future__ import annotations

import copy
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config

from ...clip.export import save_checkpoint_atomic
from .segmentor import C2SSegmentor

STUDENT_PREFIXES = ('backbone.', 'neck.', 'decode_head.')


def export_student(model: C2SSegmentor) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The stock model's state dict (backbone, neck, decode head with the text classifier folded in) and its classes.

    Raises:
        ValueError: the model calibrates seen scores (``seen_score_offset > 0``), which stock mmseg cannot express.
    """
    if model.seen_score_offset > 0:
        raise ValueError(f'seen_score_offset={model.seen_score_offset}: a stock mmseg model takes the argmax of '
                         'the logits and cannot subtract an offset after a sigmoid; export a model tested with '
                         'seen_score_offset=0')
    state = {k: v.detach().clone() for k, v in model.state_dict().items() if k.startswith(STUDENT_PREFIXES)}
    weight, bias = state['decode_head.conv_seg.weight'], state['decode_head.conv_seg.bias']  # (D, C, 1, 1), (D,)
    text = model.seen_scale * model.text.embeddings.to(weight.dtype)  # (N, D)
    state['decode_head.conv_seg.weight'] = (text @ weight.flatten(1)).view(len(text), *weight.shape[1:])
    state['decode_head.conv_seg.bias'] = text @ bias
    return state, list(model.vocabulary)


def student_config(cfg: Config, classes: list[str]) -> Config:
    """A test config for the exported model: ``EncoderDecoder`` with ``num_classes = len(classes)``, mmseg only.

    The test data pipeline is kept; the evaluator becomes mmseg's ``IoUMetric``.
    """
    model = copy.deepcopy(cfg.model)
    decode_head = dict(model['decode_head'], num_classes=len(classes))
    student = dict(type='EncoderDecoder', data_preprocessor=model.get('data_preprocessor'),
                   backbone=model['backbone'], decode_head=decode_head, test_cfg=model.get('test_cfg'))
    if model.get('neck') is not None:
        student['neck'] = model['neck']
    student['backbone'].pop('init_cfg', None)
    out = dict(default_scope='mmseg', model=student, test_cfg=dict(type='TestLoop'),
               test_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU']))
    for key in ('test_dataloader', 'env_cfg', 'default_hooks', 'vis_backends', 'visualizer', 'log_processor',
                'log_level'):
        if key in cfg:
            out[key] = copy.deepcopy(cfg[key])
    if 'test_dataloader' in out:
        out['test_dataloader']['dataset'].setdefault('metainfo', {})['classes'] = classes
    if 'default_hooks' in out:
        keep = ('timer', 'logger', 'visualization')
        out['default_hooks'] = {k: v for k, v in out['default_hooks'].items() if k in keep}
    return Config(out)


def export_c2s(config: str, checkpoint: str, out_dir: str, cfg_options: Optional[dict] = None) -> tuple[str, str]:
    """Build the C2S model of ``config``, load ``checkpoint`` and write the stock student: ``(weights, config)`` paths.

    The files are ``<out_dir>/<config name>_mmseg.pth`` (a plain state dict, written atomically) and
    ``<out_dir>/<config name>_mmseg.py``; ``python tools/test.py <config> <weights>`` then runs with mmseg alone.
    """
    from mmengine.registry import DefaultScope
    from mmengine.runner import load_checkpoint
    from mmseg.registry import MODELS

    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'C2S checkpoint not found: {checkpoint}')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.model.get('type') != 'C2SSegmentor':
        raise ValueError(f'{config}: model.type is {cfg.model.get("type")!r}, not C2SSegmentor')
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    state, classes = export_student(model.eval())
    name = osp.splitext(osp.basename(config))[0]
    os.makedirs(out_dir, exist_ok=True)
    weights = save_checkpoint_atomic(state, osp.join(out_dir, f'{name}_mmseg.pth'))
    cfg_path = osp.join(out_dir, f'{name}_mmseg.py')
    student_config(cfg, classes).dump(cfg_path)
    return weights, cfg_path
