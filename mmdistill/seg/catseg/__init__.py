"""Cat-Seg: open-vocabulary segmentation by cost aggregation, in mmseg 1.x (registered in mmseg's ``MODELS``)."""
from .finetune import tune_attention
from .head import CatSegHead
from .segmentor import CatSegSegmentor

__all__ = ['CatSegHead', 'CatSegSegmentor', 'tune_attention']
