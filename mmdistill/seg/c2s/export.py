"""Export a C2S student as a stock mmseg ``EncoderDecoder``: no CLIP, no extra parameter.

The student's ``conv_seg`` maps decoder features to ``F`` (``D`` channels) and test logits are
``alpha A F``: two linear maps, folded into one ``conv_seg`` with ``N`` output channels::

    W' = alpha A W        b' = alpha A b        (A: (N, D) test text embeddings)
"""
from __future__ import annotations

import copy

import torch
from mmengine.config import Config

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
    text = model.seen_scale * model.test_embeddings.to(weight.dtype)  # (N, D)
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
