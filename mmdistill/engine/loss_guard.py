"""Stop a training at the first non-finite loss term, naming the term and the iteration; or skip that step.

mmengine's ``BaseModel.parse_losses`` sums the terms a model returns; a NaN or inf in any of them would
silently reach the optimiser and ruin the weights (and the next checkpoint). Importing mmdistill wraps it
so that such a step raises ``FloatingPointError`` before the backward pass, for every model of every
scope (distillers, F-ViT, C2S, Cat-Seg, stock mmdet / mmseg models run through ``tools/train.py``).

With ``custom_hooks = [dict(type='mmdistill.LossGuardHook', mode='skip')]`` such a step is skipped instead:
no backward pass, no optimiser step (on every process, so DDP stays in step), a warning naming the terms,
and the number of skipped steps in the log (``skipped_steps``); ``max_skips`` bounds them. What follows an
optimiser step (an EMA teacher's average) asks :func:`last_step_skipped` first.
"""
from __future__ import annotations

import logging
import math
from typing import Optional

import torch
from mmengine.dist import all_reduce, is_distributed
from mmengine.hooks import Hook
from mmengine.logging import MessageHub, print_log
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper

from ..registry import HOOKS

_ORIGINAL = BaseModel.parse_losses
_ORIGINAL_UPDATE = OptimWrapper.update_params
MODES = ('raise', 'skip')




def guard_mode() -> str:
    """``'raise'``, or ``'skip'`` when the current runner has a ``LossGuardHook(mode='skip')`` (kept in the
    runner's message hub, so that it ends with that runner)."""
    return MessageHub.get_current_instance().get_info('loss_guard_mode', 'raise')


def current_iteration() -> int:
    """The runner's current iteration (-1 outside a runner)."""
    hub = MessageHub.get_current_instance()
    return int(hub.get_info('iter', -1))


def non_finite_terms(log_vars: dict) -> list[tuple[str, float]]:
    """``(name, value)`` of the terms of ``log_vars`` (all but the total ``loss``) that are NaN or infinite."""
    names = [k for k in log_vars if k != 'loss']
    values = torch.stack([torch.as_tensor(log_vars[k], dtype=torch.float32).detach().reshape(()).cpu()
                          for k in names]) if names else torch.zeros(0)
    return [(n, float(v)) for n, v in zip(names, values) if not math.isfinite(float(v))]


def check_finite_terms(log_vars: dict) -> None:
    """Raise ``FloatingPointError`` naming the first term of ``log_vars`` that is NaN or infinite."""
    bad = non_finite_terms(log_vars)
    if bad:
        terms = ', '.join(f'{n} = {v}' for n, v in bad)
        raise FloatingPointError(f'non-finite loss at iteration {current_iteration()}: {terms}; the step was not '
                                 'taken (the weights are those of the previous step)')


def last_step_skipped() -> bool:
    """Whether the last ``update_params`` of the current runner skipped its step (skip mode, non-finite loss)."""
    return bool(MessageHub.get_current_instance().get_info('loss_guard_step_skipped', False))


def guarded_parse_losses(self: BaseModel, losses: dict):
    loss, log_vars = _ORIGINAL(self, losses)
    if self.training and guard_mode() == 'raise':
        check_finite_terms(log_vars)
    elif self.training:
        bad = non_finite_terms(log_vars)
        if bad:
            print_log(f'non-finite loss at iteration {current_iteration()}: '
                      + ', '.join(f'{n} = {v}' for n, v in bad) + '; the step is skipped',
                      logger='current', level=logging.WARNING)
            for name in ['loss', *(n for n, _ in bad)]:  # keep NaN out of the smoothed log
                log_vars.pop(name)
    return loss, log_vars


def guarded_update_params(self: OptimWrapper, loss: torch.Tensor, step_kwargs: Optional[dict] = None,
                          zero_kwargs: Optional[dict] = None) -> None:
    """In skip mode, a non-finite loss on any process skips backward and step on all of them."""
    hub = MessageHub.get_current_instance()
    hub.update_info('loss_guard_step_skipped', False)
    if guard_mode() == 'skip':
        finite = torch.isfinite(loss.detach()).all().float().reshape(1)
        if is_distributed():
            all_reduce(finite, op='min')
        if not bool(finite.item()):
            self.zero_grad(**(zero_kwargs or {}))
            hub.update_info('loss_guard_step_skipped', True)
            skipped = int(hub.get_info('loss_guard_skipped', 0)) + 1
            hub.update_info('loss_guard_skipped', skipped)  # travels with checkpoints
            hub.update_scalar('train/skipped_steps', skipped)
            max_skips = hub.get_info('loss_guard_max_skips')
            if max_skips is not None and skipped > max_skips:
                raise FloatingPointError(f'{skipped} steps with a non-finite loss skipped, more than '
                                         f'max_skips={max_skips} (last at iteration {current_iteration()})')
            return
    _ORIGINAL_UPDATE(self, loss, step_kwargs=step_kwargs, zero_kwargs=zero_kwargs)


def install_loss_guard() -> None:
    """Wrap ``BaseModel.parse_losses`` and ``OptimWrapper.update_params`` (idempotent)."""
    BaseModel.parse_losses = guarded_parse_losses
    OptimWrapper.update_params = guarded_update_params


@HOOKS.register_module()
class LossGuardHook(Hook):
    """Sets what a non-finite loss term does during this training.

    Args:
        mode: ``'raise'`` (the default without this hook): stop with ``FloatingPointError``; ``'skip'``: skip
            the step (no backward, no optimiser step), warn and count it (``skipped_steps`` in the log).
        max_skips: in skip mode, stop once more steps than this were skipped (``None``: no bound).
    """

    priority = 'VERY_HIGH'

    def __init__(self, mode: str = 'skip', max_skips: Optional[int] = None) -> None:
        if mode not in MODES:
            raise ValueError(f'LossGuardHook mode must be one of {MODES}, got {mode!r}')
        self.mode, self.max_skips = mode, max_skips

    def before_train(self, runner) -> None:
        runner.message_hub.update_info('loss_guard_mode', self.mode)
        runner.message_hub.update_info('loss_guard_max_skips', self.max_skips)
