"""Stop a training at the first non-finite loss term, naming the term and the iteration.

mmengine's ``BaseModel.parse_losses`` sums the terms a model returns; a NaN or inf in any of them would
silently reach the optimiser and ruin the weights (and the next checkpoint). Importing mmdistill wraps it
so that such a step raises ``FloatingPointError`` before the backward pass, for every model of every
scope (distillers, F-ViT, C2S, Cat-Seg, stock mmdet / mmseg models run through ``tools/train.py``).
"""
from __future__ import annotations

import math

import torch
from mmengine.logging import MessageHub
from mmengine.model import BaseModel

_ORIGINAL = BaseModel.parse_losses


def current_iteration() -> int:
    """The runner's current iteration (-1 outside a runner)."""
    hub = MessageHub.get_current_instance()
    return int(hub.get_info('iter', -1))


def check_finite_terms(log_vars: dict) -> None:
    """Raise ``FloatingPointError`` naming the first term of ``log_vars`` that is NaN or infinite."""
    names = [k for k in log_vars if k != 'loss']
    values = torch.stack([torch.as_tensor(log_vars[k], dtype=torch.float32).detach().reshape(()).cpu()
                          for k in names]) if names else torch.zeros(0)
    bad = [(n, float(v)) for n, v in zip(names, values) if not math.isfinite(float(v))]
    if bad:
        terms = ', '.join(f'{n} = {v}' for n, v in bad)
        raise FloatingPointError(f'non-finite loss at iteration {current_iteration()}: {terms}; the step was not '
                                 'taken (the weights are those of the previous step)')


def guarded_parse_losses(self: BaseModel, losses: dict):
    loss, log_vars = _ORIGINAL(self, losses)
    if self.training:
        check_finite_terms(log_vars)
    return loss, log_vars


def install_loss_guard() -> None:
    """Wrap ``BaseModel.parse_losses`` (idempotent)."""
    BaseModel.parse_losses = guarded_parse_losses
