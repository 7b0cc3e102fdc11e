"""Distillation: terms (losses), teachers, views, heads and the models that combine them."""
from .distiller import Distiller, StepContext
from .heads import DINOHead
from .pretrainer import CLIPPretrainer
from .refiner import Refiner, RefinerOutput
from .teachers import EMATeacher, FrozenTeacher, RefinerTeacher
from .terms import *  # noqa: F401,F403
from .views import GridPatches, Mosaic, MultiCrop, ProposalBoxes, RandomCrops, View, Views, ViewSet

__all__ = ['Distiller', 'StepContext', 'CLIPPretrainer', 'DINOHead', 'EMATeacher', 'FrozenTeacher', 'RefinerTeacher',
           'Refiner', 'RefinerOutput', 'GridPatches', 'Mosaic', 'MultiCrop',
           'ProposalBoxes', 'RandomCrops', 'View', 'Views', 'ViewSet']
