"""F-ViT: a two-stage detector (stock mmdet ``TwoStageDetector``) on a frozen CLIP backbone."""
from __future__ import annotations

from typing import Sequence

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.registry import MODELS

from ..datasets.class_names import ClassesType


class CLIPFeatureLevels(tuple):
    """The FPN levels (a tuple, as mmdet's heads expect) carrying the CLIP dense map for the region score.

    Attributes:
        clip_dense: ``(B, D, h, w)`` L2-normalised CLIP-space map.
        clip_stride: input pixels per cell of ``clip_dense``.
    """

    clip_dense: torch.Tensor
    clip_stride: int

    def __new__(cls, levels: Sequence[torch.Tensor], clip_dense: torch.Tensor, clip_stride: int):
        obj = super().__new__(cls, levels)
        obj.clip_dense, obj.clip_stride = clip_dense, clip_stride
        return obj


@MODELS.register_module()
class FViT(TwoStageDetector):
    """F-ViT (CLIPSelf, App. D.1 of paper 001): ``CLIPViTBackbone`` + FPN + RPN + ``FViTRoIHead``.

    Everything but feature extraction is mmdet's ``TwoStageDetector``: the features are the FPN
    levels plus the CLIP dense map, which the RoI head pools for the test-time ensemble.
    """

    def extract_feat(self, batch_inputs: torch.Tensor) -> CLIPFeatureLevels:
        levels, dense = self.backbone(batch_inputs)
        return CLIPFeatureLevels(self.neck(levels), dense, self.backbone.stride)

    @property
    def vocabulary(self) -> list[str]:
        """The class names the detector predicts, in label order."""
        return list(self.roi_head.bbox_head.class_names)

    def set_vocabulary(self, classes: ClassesType) -> None:
        """Predict ``classes`` (any form of ``parse_classes``) from now on (no retraining: the classifier is text
        embeddings)."""
        self.roi_head.set_vocabulary(classes)
        meta = dict(getattr(self, 'dataset_meta', None) or {})
        meta['classes'] = tuple(self.vocabulary)
        self.dataset_meta = meta
