"""F-ViT's box head: a cosine classifier over text embeddings, masked cross-entropy, the CLIP ensemble.

Eq. references are to CLIPSelf / F-ViT (paper 001, App. D.1) and ViLD's geometric ensemble.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmdet.models.layers import multiclass_nms
from mmdet.models.roi_heads.bbox_heads import ConvFCBBoxHead
from mmdet.registry import MODELS
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor, nn

from ..clip.vocabulary import build_text_classifier_module
from ..datasets.class_names import ClassesType, check_class_names
from ..datasets.ov_splits import load_split


@MODELS.register_module()
class CosineTextClassifier(nn.Module):
    """``logits = t * normalize(x) @ E^T`` with ``E (C + 1, D)`` unit text embeddings (background last).

    Built by mmdet's ``BBoxHead`` as its ``cls_predictor_cfg`` (``in_features = D``,
    ``out_features = C + 1``); the head fills ``E`` from its vocabulary. ``t`` is learnable (init 50).
    """

    def __init__(self, in_features: int, out_features: int, temperature: float = 50.0,
                 learn_temperature: bool = True) -> None:
        super().__init__()
        self.register_buffer('embeddings', torch.zeros(out_features, in_features), persistent=False)
        self.temperature = nn.Parameter(torch.tensor(float(temperature)), requires_grad=learn_temperature)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, D)`` -> ``(N, C + 1)``."""
        return F.normalize(x, dim=-1) @ self.embeddings.to(x.dtype).T * self.temperature


def geometric_ensemble(det_logits: Tensor, clip_logits: Tensor, alpha: Tensor) -> Tensor:
    """``p_det^(1 - a_c) * p_clip^(a_c)`` per class column ``c`` (F-ViT's test-time ensemble).

    Args:
        det_logits, clip_logits: ``(N, C + 1)`` logits of the detector and of the CLIP region score.
        alpha: ``(C + 1,)`` CLIP weight per column (alpha for base classes and background, beta else).
    Returns:
        ``(N, C + 1)`` scores; rows do not sum to 1.
    """
    return det_logits.softmax(-1).pow(1 - alpha) * clip_logits.softmax(-1).pow(alpha)


@MODELS.register_module()
class FViTBBoxHead(ConvFCBBoxHead):
    """mmdet's shared-convs-and-FCs box head whose classifier is the vocabulary's text embeddings.

    * classification: :class:`CosineTextClassifier` over the classes plus a 'background' text
      embedding; ``fc_out_channels`` must equal the text embedding size;
    * training: softmax cross-entropy in which classes not in ``base_classes`` get logit -inf and
      weight 0 (so they receive no gradient), background weight ``background_weight``;
    * test: with ``ensemble``, the geometric ensemble with the CLIP region score
      ``softmax(T_vlm * cos(clip_region, E))``: base classes and background weighted by ``alpha``,
      the others by ``beta``; regression is class-agnostic.

    Args:
        vocabulary: the vocabulary schema (:mod:`mmdistill.clip.vocabulary`, docs/vocabulary.md):
            ``dict(classes=..., text=dict(arch=..., checkpoint=...), templates='vild', base_classes=<list or split
            JSON file with a "base" list>)``; ``base_classes`` left out trains every class. Built into the
            :class:`~mmdistill.clip.vocabulary.TextClassifier` ``text`` with a last 'background' row.
        background_weight: cross-entropy weight of the background class (0.6 COCO, 0.9 LVIS).
        temperature: initial learnable temperature of the classifier.
        ensemble: ``dict(alpha=0.1, beta=0.8, temperature=75.0)`` or ``None`` (detector scores only).
    """

    def __init__(self, vocabulary: dict, background_weight: float = 0.6, temperature: float = 50.0,
                 ensemble: Optional[dict] = None, num_classes: Optional[int] = None, **kwargs) -> None:
        text = build_text_classifier_module(vocabulary, type(self).__name__, splits=('base_classes', ),
                                            background=True)
        classes = text.vocabulary
        if num_classes is not None and num_classes != len(classes):
            raise ValueError(f'num_classes={num_classes} but the vocabulary has {len(classes)} classes; '
                             'leave num_classes out (it follows the vocabulary)')
        kwargs.setdefault('reg_class_agnostic', True)
        kwargs['cls_predictor_cfg'] = dict(type='CosineTextClassifier', temperature=temperature)
        super().__init__(num_classes=len(classes), **kwargs)
        self.text = text
        self.base_classes = self._read_base(vocabulary.get('base_classes'), classes)
        self.background_weight = background_weight
        self.ensemble = dict(ensemble) if ensemble else None
        self._use_vocabulary()

    @staticmethod
    def _read_base(base: Union[None, str, Sequence[str]], classes: list[str]) -> Optional[frozenset]:
        if base is None:
            return None
        names = load_split(base)['base'] if isinstance(base, str) else check_class_names(base, 'base_classes')
        unknown = [n for n in names if n not in classes]
        if unknown:
            source = base if isinstance(base, str) else 'base_classes'
            raise ValueError(f'{source} names classes that are not in the vocabulary: {unknown}')
        return frozenset(names)

    def set_vocabulary(self, classes: ClassesType) -> None:
        """Classify ``classes`` (+ background; any form of ``parse_classes``); classes outside ``base_classes``
        count as novel."""
        self.text.set_vocabulary(classes)
        self._use_vocabulary()

    def _use_vocabulary(self) -> None:
        """The classifier, class count, base mask and loss weights of the text classifier's vocabulary."""
        emb = self.text.embeddings  # (C + 1, D), background last
        if emb.shape[1] != self.fc_cls.embeddings.shape[1]:
            raise ValueError(f'fc_out_channels is {self.fc_cls.embeddings.shape[1]} but the text embeddings '
                             f'of {self.text.text_cfg["arch"]} have {emb.shape[1]} dimensions; make them equal')
        device = self.fc_cls.temperature.device
        self.class_names = self.text.vocabulary
        self.num_classes = len(self.class_names)
        self.fc_cls.embeddings = emb.to(device)
        base = torch.tensor([self.base_classes is None or n in self.base_classes for n in self.class_names] + [True])
        self.register_buffer('is_base', base.to(device), persistent=False)  # background counts as base
        self.loss_cls.class_weight = (base.float() * torch.tensor([1.0] * self.num_classes + [self.background_weight])
                                      ).tolist()

    def forward(self, x: Tensor, clip_regions: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        """``(N, C_in, 7, 7)`` RoI features (+ ``(N, D)`` unit CLIP region embeddings at test time)
        -> class logits ``(N, C + 1)`` (with ``clip_regions``: the ensemble's scores, see
        :func:`geometric_ensemble`) and class-agnostic deltas ``(N, 4)``."""
        cls_score, bbox_pred = super().forward(x)
        if clip_regions is None:
            return cls_score, bbox_pred
        clip_logits = self.ensemble['temperature'] * clip_regions.to(cls_score.dtype) @ \
            self.fc_cls.embeddings.to(cls_score.dtype).T
        alpha = torch.where(self.is_base, self.ensemble['alpha'], self.ensemble['beta']).to(cls_score.dtype)
        return geometric_ensemble(cls_score, clip_logits, alpha), bbox_pred

    def _predict_by_feat_single(self, roi: Tensor, cls_score: Tensor, bbox_pred: Tensor, img_meta: dict,
                                rescale: bool = False, rcnn_test_cfg: Optional[ConfigDict] = None) -> InstanceData:
        """mmdet's, except that with the ensemble ``cls_score`` holds the final scores: no softmax (the
        ensemble's rows do not sum to 1, and renormalising them would change the ranking across boxes)."""
        if not self.ensemble or rcnn_test_cfg is None or roi.shape[0] == 0:
            return super()._predict_by_feat_single(roi, cls_score, bbox_pred, img_meta, rescale, rcnn_test_cfg)
        boxes = super()._predict_by_feat_single(roi, cls_score, bbox_pred, img_meta, rescale, None).bboxes
        dets, labels = multiclass_nms(boxes, cls_score, rcnn_test_cfg.score_thr, rcnn_test_cfg.nms,
                                      rcnn_test_cfg.max_per_img)
        return InstanceData(bboxes=dets[:, :-1], scores=dets[:, -1], labels=labels)

    def loss(self, cls_score: Tensor, *args, **kwargs) -> dict:
        """mmdet's loss on logits where classes absent from training are -inf (weight 0 in the CE)."""
        return super().loss(cls_score.masked_fill(~self.is_base, float('-inf')), *args, **kwargs)
