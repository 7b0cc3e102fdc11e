"""Subnormal floats on CPUs: flushed to zero for the run (``tools/train.py`` adds the hook to every config)."""
from __future__ import annotations

import logging

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log

from ..registry import HOOKS


@HOOKS.register_module()
class FlushDenormalsHook(Hook):
    """Before the run, make the process's CPU float operations flush subnormal numbers (below 1.2e-38 in
    float32) to zero.

    Fine-tuning a trained tower produces them: a softmax sharpened at temperature 0.04 (DINO's teacher)
    underflows to about 1e-40, and gradients carry such values back through the tower, where x86 cores
    multiply matrices holding them several times slower. Measured on one AVX-512 core
    (docs/benchmarks.md, "Subnormal floats on CPUs"): SILC fine-tuning 0.98 -> 0.30 s per step; the other
    world configs change within the machine's noise; runs from random weights and GPUs are unaffected.
    The setting is process-wide and stays after the run; values this small change no loss or gradient
    that matters.

    Args:
        enabled: ``False`` keeps subnormals (a config that lists the hook this way opts out).
    """

    priority = 'VERY_HIGH'

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def before_run(self, runner) -> None:
        if self.enabled and not torch.set_flush_denormal(True):
            print_log('this CPU cannot flush subnormal floats to zero (it needs SSE3): matrix products with '
                      'values below 1e-38 may run several times slower', logger='current', level=logging.WARNING)
