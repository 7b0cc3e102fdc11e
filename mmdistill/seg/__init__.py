"""Segmentation in mmseg 1.x: the only package of mmdistill that imports mmseg model code.

Everything here is registered in mmseg's registries, so mmseg configs (default scope ``mmseg``)
name the types directly.
"""
from mmseg.registry import MODELS as MMSEG_MODELS

from ..clip.tower import CLIPTower
from ..clip.vocabulary import TextClassifier
from .c2s import C2SSegmentor, export_student
from .catseg import CatSegHead, CatSegSegmentor
from .inference import window_boxes
from .inferencer import OVSegInferencer, add_legend, vocabulary_palette
from .pamr import PAMR
from .zero_shot import ZeroShotSegmentor

MMSEG_MODELS.register_module(name='CLIPTower', module=CLIPTower, force=True)
MMSEG_MODELS.register_module(name='TextClassifier', module=TextClassifier, force=True)

__all__ = ['C2SSegmentor', 'export_student', 'CatSegHead', 'CatSegSegmentor', 'PAMR',
           'ZeroShotSegmentor', 'window_boxes', 'OVSegInferencer', 'add_legend',
           'vocabulary_palette']
