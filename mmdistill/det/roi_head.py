"""F-ViT's RoI head: mmdet's ``StandardRoIHead`` plus a 1x1 RoIAlign on the CLIP dense map at test time."""
from __future__ import annotations

import torch.nn.functional as F
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.registry import MODELS
from torch import Tensor

from ..clip.pooling import roi_embeddings
from ..datasets.class_names import ClassesType


@MODELS.register_module()
class FViTRoIHead(StandardRoIHead):
    """Box features from the FPN as usual; at test time (when the box head ensembles) also the CLIP
    region embeddings of the same RoIs, pooled from ``x.clip_dense`` (see ``FViT.extract_feat``)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if self.with_mask:  # class-agnostic masks: the class count follows the vocabulary
            self.mask_head.num_classes = self.bbox_head.num_classes

    def _bbox_forward(self, x: tuple, rois: Tensor) -> dict:
        bbox_feats = self.bbox_roi_extractor(x[:self.bbox_roi_extractor.num_inputs], rois)
        clip_regions = None
        if not self.training and self.bbox_head.ensemble:
            size = tuple(s * x.clip_stride for s in x.clip_dense.shape[-2:])
            clip_regions = F.normalize(roi_embeddings(x.clip_dense, rois, x.clip_stride, size, validate=False), dim=-1)
        cls_score, bbox_pred = self.bbox_head(bbox_feats, clip_regions)
        return dict(cls_score=cls_score, bbox_pred=bbox_pred, bbox_feats=bbox_feats)

    def set_vocabulary(self, classes: ClassesType) -> None:
        """Classify ``classes`` (any form of ``parse_classes``) from now on."""
        self.bbox_head.set_vocabulary(classes)
        if self.with_mask:
            self.mask_head.num_classes = len(self.bbox_head.class_names)
