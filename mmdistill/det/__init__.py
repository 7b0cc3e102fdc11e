"""Open-vocabulary detection in mmdet 3.x: F-ViT on any CLIP tower.

The only package of mmdistill that imports mmdet model code. Everything here is registered in
mmdet's registries, so mmdet configs (default scope ``mmdet``) name the types directly.
"""
from mmdet.registry import MODELS as MMDET_MODELS

from ..clip.tower import CLIPTower
from ..clip.vocabulary import TextClassifier
from .backbone import CLIPViTBackbone
from .bbox_head import CosineTextClassifier, FViTBBoxHead, geometric_ensemble
from .detector import CLIPFeatureLevels, FViT
from .hooks import VocabularyCheckHook
from .roi_head import FViTRoIHead
from .rpn_head import NormRPNHead

MMDET_MODELS.register_module(name='CLIPTower', module=CLIPTower, force=True)
MMDET_MODELS.register_module(name='TextClassifier', module=TextClassifier, force=True)

__all__ = ['CLIPViTBackbone', 'CosineTextClassifier', 'FViTBBoxHead', 'geometric_ensemble', 'FViT',
           'CLIPFeatureLevels', 'FViTRoIHead', 'NormRPNHead', 'VocabularyCheckHook']
