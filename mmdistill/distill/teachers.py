"""Teachers: where the distillation targets come from.

* :class:`FrozenTeacher`: a frozen copy of the initial weights (CLIPSelf, SCD);
* :class:`EMATeacher`: an exponential moving average of the student (SILC);
* :class:`RefinerTeacher`: a frozen tower plus a trained Refiner (R-SCD, R-SC-V).

Every teacher is in eval mode and has no trainable parameter; its outputs are
computed under ``no_grad`` by the distiller, once per step.
"""
from __future__ import annotations

import copy
from typing import Optional

import torch
from mmengine.model import BaseModule, ExponentialMovingAverage
from torch import nn

from ..clip.export import load_mmengine_state_dict, strip_prefix
from ..clip.tower import CLIPTower
from ..registry import MODELS


class Teacher(BaseModule):
    """Base: frozen, always in eval mode. ``tower`` gives the CLIP outputs."""

    tower: CLIPTower

    def train(self, mode: bool = True) -> Teacher:
        return super().train(False)

    def freeze(self) -> None:
        for p in self.parameters():
            p.requires_grad_(False)

    def update(self, student: CLIPTower) -> None:
        """Called after each optimiser step; only the EMA teacher follows the student."""


@MODELS.register_module()
class FrozenTeacher(Teacher):
    """A frozen tower; ``tower=None`` copies the student's initial weights."""

    def __init__(self, tower: Optional[dict] = None, student: Optional[CLIPTower] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if tower is None and student is None:
            raise ValueError('FrozenTeacher needs a tower config or the student to copy')
        self.tower = MODELS.build(tower) if tower is not None else copy.deepcopy(student)
        self.freeze()
        self.train(False)


@MODELS.register_module()
class EMATeacher(Teacher):
    """EMA of the student: ``teacher = (1 - momentum) * teacher + momentum * student`` each step.

    ``momentum`` is mmengine's convention (the weight of the new value); SILC keeps it fixed.
    """

    def __init__(self, student: CLIPTower, momentum: float = 0.001, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.ema = ExponentialMovingAverage(student, momentum=momentum)
        self.freeze()
        self.train(False)

    @property
    def tower(self) -> CLIPTower:
        return self.ema.module

    @torch.no_grad()
    def update(self, student: CLIPTower) -> None:
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
