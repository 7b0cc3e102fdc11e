"""Distillation: terms (losses), teachers, views and the models that combine them."""
from .distiller import Distiller, StepContext
from .pretrainer import CLIPPretrainer
from .refiner import Refiner, RefinerOutput
from .teachers import EMATeacher, FrozenTeacher, RefinerTeacher
from .terms import *  # noqa: F401,F403
from .views import GridPatches, ProposalBoxes, RandomCrops, Views

__all__ = ['Distiller', 'StepContext', 'CLIPPretrainer', 'EMATeacher', 'FrozenTeacher', 'RefinerTeacher', 'Refiner',
           'RefinerOutput',
           'GridPatches', 'ProposalBoxes', 'RandomCrops', 'Views']
