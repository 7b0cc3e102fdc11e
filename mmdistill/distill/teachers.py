"""Teachers: where the distillation targets come from.

* :class:`FrozenTeacher`: a frozen copy of the initial weights (CLIPSelf, SCD);
* :class:`EMATeacher`: an exponential moving average of the student's tower and heads (SILC);
* :class:`RefinerTeacher`: a frozen tower plus a trained Refiner (R-SCD, R-SC-V).

Every teacher is in eval mode and has no trainable parameter; its outputs are
computed under ``no_grad`` by the distiller, once per step.
"""
from __future__ import annotations

import copy
from typing import Optional, Union

import torch
from mmengine.model import BaseModule, ExponentialMovingAverage
from torch import nn

from ..clip.export import load_mmengine_state_dict, strip_prefix
from ..clip.tower import CLIPTower
from ..registry import MODELS


class Teacher(BaseModule):
    """Base: frozen, always in eval mode. ``tower`` gives the CLIP outputs, ``heads`` its heads (if any)."""

    tower: CLIPTower

    @property
    def heads(self) -> nn.ModuleDict:
        return nn.ModuleDict()

    def train(self, mode: bool = True) -> Teacher:
        return super().train(False)

    def freeze(self) -> None:
        for p in self.parameters():
            p.requires_grad_(False)

    def update(self, student: nn.ModuleDict) -> None:
        """Called after each optimiser step with the student's ``tower`` and ``heads``; only the EMA
        teacher follows the student."""


@MODELS.register_module()
class FrozenTeacher(Teacher):
    """A frozen tower: ``tower`` is a config, or a tower instance (shared by name, see the distiller's
    ``towers``); ``tower=None`` copies the student's initial weights."""

    def __init__(self, tower: Optional[Union[dict, CLIPTower]] = None, student: Optional[CLIPTower] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if tower is None and student is None:
            raise ValueError('FrozenTeacher needs a tower config or the student to copy')
        if tower is None:
            tower = copy.deepcopy(student)
        self.tower = tower if isinstance(tower, nn.Module) else MODELS.build(tower)
        self.freeze()
        self.train(False)


@MODELS.register_module()
class EMATeacher(Teacher):
    """EMA of the student's tower and heads: ``teacher = (1 - m) * teacher + m * student`` after every step.

    ``momentum`` ``m`` is mmengine's convention (the weight of the new value; DINO's teacher
    momentum 0.996 is ``m = 0.004``); SILC keeps it fixed. The average starts as a copy of the
    student, so the first update already averages (mmengine's ``ExponentialMovingAverage`` would copy
    at its step 0); its step counter and weights are buffers and parameters, saved in checkpoints.
    """

    def __init__(self, student: nn.ModuleDict, momentum: float = 0.001, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.ema = ExponentialMovingAverage(student, momentum=momentum)
        self.ema.steps.fill_(1)  # the copy is the step-0 state
        self.freeze()
        self.train(False)

    @property
    def tower(self) -> CLIPTower:
        return self.ema.module['tower']

    @property
    def heads(self) -> nn.ModuleDict:
        return self.ema.module['heads']

    @torch.no_grad()
    def update(self, student: nn.ModuleDict) -> None:
        self.ema.update_parameters(student)


@MODELS.register_module()
class RefinerTeacher(Teacher):
    """A frozen tower with a trained Refiner on top (paper 001, Sec. 3.3-3.4).

    Args:
        refiner: config of a ``Refiner`` (it builds / receives its frozen tower).
        checkpoint: the Refiner stage's mmengine checkpoint; weights under
            ``prefix`` are loaded (``student.``: the Refiner stage trains it as the distiller's student).
    """

    def __init__(self, refiner: dict, checkpoint: Optional[str] = None, prefix: str = 'student.',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.refiner: nn.Module = MODELS.build(refiner)
        if checkpoint is not None:
            state = strip_prefix(load_mmengine_state_dict(checkpoint), prefix)
            missing, unexpected = self.refiner.load_state_dict(state, strict=False)
            if missing or unexpected:
                raise KeyError(f'Refiner checkpoint {checkpoint!r} does not fit: missing {missing[:10]}, '
                               f'unexpected {unexpected[:10]}')
        self.freeze()
        self.train(False)

    @property
    def tower(self) -> CLIPTower:
        return self.refiner.tower
