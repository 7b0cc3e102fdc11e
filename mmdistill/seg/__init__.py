"""Segmentation in mmseg 1.x: the only package of mmdistill that imports mmseg model code."""
from mmseg.registry import MODELS as MMSEG_MODELS

from ..clip.tower import CLIPTower

MMSEG_MODELS.register_module(name='CLIPTower', module=CLIPTower, force=True)
