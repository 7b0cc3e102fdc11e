"""Stop a training at the first non-finite loss, naming the terms and the iteration; or skip that step.

mmengine's ``BaseModel.parse_losses`` sums the terms a model returns and ``OptimWrapper.update_params`` takes
the sum to the backward pass and the optimiser: a NaN or inf in any term would silently ruin the weights (and
the next checkpoint). A config opts in with ``custom_hooks = [dict(type='mmdistill.LossGuardHook')]`` (the
``_base_`` runtimes of this project do; ``tools/train.py`` adds it to every config that lacks it). Nothing
changes for runners without the hook: importing mmdistill leaves mmengine's classes as they are.

The hook guards the optimiser wrapper of its own runner: from ``before_train`` to ``after_train`` that one
wrapper object checks the summed loss before its backward pass (on every process, so DDP stays in step). A
non-finite loss takes no backward pass and no optimiser step; after the iteration the hook names the terms:

* ``mode='raise'`` (the default): ``FloatingPointError`` naming the terms and the iteration; the weights are
  those of the step before;
* ``mode='skip'``: a warning naming the terms, the step skipped, the non-finite terms kept out of the log, the
  number of skipped steps logged (``skipped_steps``) and bounded by ``max_skips``. The runner's message hub
  says whether the last step was skipped (``loss_guard_step_skipped``), for what follows an optimiser step
  (:class:`~mmdistill.engine.TeacherUpdateHook` moves no EMA teacher after a skipped step).
"""
from __future__ import annotations

import logging
import math
from typing import Optional

import torch
from mmengine.dist import all_reduce, is_distributed
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper

from ..registry import HOOKS

MODES = ('raise', 'skip')
SKIPPED_INFO = 'loss_guard_step_skipped'  # runner.message_hub info: whether the last step was skipped
SKIP_COUNT_INFO = 'loss_guard_skipped'  # runner.message_hub info (travels with checkpoints): steps skipped


def non_finite_terms(log_vars: dict) -> list[tuple[str, float]]:
    """``(name, value)`` of the terms of ``log_vars`` (all but the total ``loss``) that are NaN or infinite."""
    names = [k for k in log_vars if k != 'loss']
    values = torch.stack([torch.as_tensor(log_vars[k], dtype=torch.float32).detach().reshape(()).cpu()
                          for k in names]) if names else torch.zeros(0)
    return [(n, float(v)) for n, v in zip(names, values) if not math.isfinite(float(v))]


def describe_terms(bad: list[tuple[str, float]]) -> str:
    """``'loss_a = nan, loss_b = inf'``, or what a process with only finite terms reports."""
    if not bad:
        return 'every term of this process is finite (another process had a non-finite loss)'
    return ', '.join(f'{n} = {v}' for n, v in bad)


def check_finite_terms(log_vars: dict, iteration: int = -1) -> None:
    """Raise ``FloatingPointError`` naming the terms of ``log_vars`` that are NaN or infinite."""
    bad = non_finite_terms(log_vars)
    if bad:
        raise FloatingPointError(f'non-finite loss at iteration {iteration}: {describe_terms(bad)}; the step was '
                                 'not taken (the weights are those of the previous step)')


@HOOKS.register_module()
class LossGuardHook(Hook):
    """What a non-finite loss does during this runner's training.

    Args:
        mode: ``'raise'``: stop with ``FloatingPointError`` before the backward pass; ``'skip'``: skip the
            step (no backward, no optimiser step, momentum untouched), warn and count it.
        max_skips: in skip mode, stop once more steps than this were skipped (``None``: no bound).
    """

    priority = 'HIGHEST'  # after an iteration: before RuntimeInfoHook logs the outputs

    def __init__(self, mode: str = 'raise', max_skips: Optional[int] = None) -> None:
        if mode not in MODES:
            raise ValueError(f'LossGuardHook mode must be one of {MODES}, got {mode!r}')
        self.mode, self.max_skips = mode, max_skips
        self._wrapper: Optional[OptimWrapper] = None
        self._skipped = False

    def before_train(self, runner) -> None:
        wrapper = runner.optim_wrapper
        if not isinstance(wrapper, OptimWrapper):  # an OptimWrapperDict: the model steps each optimiser itself
            print_log(f'LossGuardHook guards one OptimWrapper; this runner has {type(wrapper).__name__}: '
                      'non-finite losses are not checked', logger='current', level=logging.WARNING)
            return
        update_params = wrapper.update_params  # bound to this wrapper object only

        def guarded_update_params(loss: torch.Tensor, step_kwargs: Optional[dict] = None,
                                  zero_kwargs: Optional[dict] = None) -> None:
            finite = torch.isfinite(loss.detach()).all().float().reshape(1)
            if is_distributed():
                all_reduce(finite, op='min')
            self._skipped = not bool(finite.item())
            runner.message_hub.update_info(SKIPPED_INFO, self._skipped, resumed=False)
            if self._skipped:
                wrapper.zero_grad(**(zero_kwargs or {}))
                return
            update_params(loss, step_kwargs=step_kwargs, zero_kwargs=zero_kwargs)

        wrapper.update_params = guarded_update_params
        self._wrapper = wrapper

    def after_train(self, runner) -> None:
        if self._wrapper is not None:
            del self._wrapper.update_params  # the class's method again
            self._wrapper = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs: Optional[dict] = None) -> None:
        if not self._skipped:
            return
        self._skipped = False
        outputs = outputs if outputs is not None else {}
        bad = non_finite_terms(outputs)
        if self.mode == 'raise':
            check_finite_terms(outputs, runner.iter)
            raise FloatingPointError(f'non-finite loss at iteration {runner.iter}: {describe_terms(bad)}; the '
                                     'step was not taken on any process')
        print_log(f'non-finite loss at iteration {runner.iter}: {describe_terms(bad)}; the step is skipped',
                  logger='current', level=logging.WARNING)
        for name in ['loss', *(n for n, _ in bad)]:  # keep NaN out of the smoothed log
            outputs.pop(name, None)
        skipped = int(runner.message_hub.get_info(SKIP_COUNT_INFO, 0)) + 1
        runner.message_hub.update_info(SKIP_COUNT_INFO, skipped)
        runner.message_hub.update_scalar('train/skipped_steps', skipped)
        if self.max_skips is not None and skipped > self.max_skips:
            raise FloatingPointError(f'{skipped} steps with a non-finite loss skipped, more than '
                                     f'max_skips={self.max_skips} (last at iteration {runner.iter})')
