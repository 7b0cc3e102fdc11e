"""Distillation: terms (losses), teachers, views and the models that combine them."""
from .pretrainer import CLIPPretrainer
from .terms import ImageTextContrastiveLoss

__all__ = ['CLIPPretrainer', 'ImageTextContrastiveLoss']
