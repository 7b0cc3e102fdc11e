"""Dense zero-shot classification of ground-truth segments by a CLIP tower.

For every segment of a panoptic sample (things and stuff) the model reads out
the tower's dense map in three ways and classifies each against class text
embeddings (cosine similarity):

* ``boxes``: RoIAlign 1x1 over the segment's box (stuff: the box around it);
* ``masks``: mean of the dense map over the segment's mask;
* ``crops``: the image embedding of the box cropped out and encoded alone
  (the square around it, native size): the baseline the dense readouts should approach.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from ..clip.pooling import crop_and_resize
from ..clip.vocabulary import build_text_classifier_module
from ..registry import MODELS

READOUTS = ('boxes', 'masks', 'crops')


@MODELS.register_module()
class DenseZeroShotClassifier(BaseModel):
    """Classifies GT segments with a tower's dense map; feeds ``DenseZeroShotAccuracy``.

    Args:
        tower: config of a ``CLIPTower`` (the one being evaluated).
        vocabulary: the vocabulary schema (:mod:`mmdistill.clip.vocabulary`, docs/vocabulary.md):
            ``dict(classes=..., text=dict(arch=..., checkpoint=...), templates=...)``: the classes in label
            order (e.g. ``dict(dataset='mmdet.CocoPanopticDataset')``) and the CLIP whose text tower gives the
            classifier (the original CLIP for distilled towers), built into the ``TextClassifier`` ``text``.
        readouts: any of ``('boxes', 'masks', 'crops')``.
        crop_scale: crops are squares of ``crop_scale * max(w, h)``.
        crop_letterbox: ``False``: the square keeps the image around the box (a
            photo of the object with its surroundings); ``True``: only the scaled box's
            pixels, the rest of the square zero (CLIPSelf's teacher crops).
        topk: predictions kept per segment.
        crop_batch: crops per tower forward.
    """

    def __init__(self, tower: dict, vocabulary: dict,
                 readouts: Sequence[str] = READOUTS, crop_scale: float = 1.0, crop_letterbox: bool = False,
                 topk: int = 5, crop_batch: int = 256, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        unknown = set(readouts) - set(READOUTS)
        if unknown:
            raise ValueError(f'unknown readouts {sorted(unknown)}; choose from {READOUTS}')
        self.tower = MODELS.build(tower)
        self.text = build_text_classifier_module(vocabulary, type(self).__name__)
        self.class_names = self.text.vocabulary
        self.readouts = tuple(readouts)
        self.crop_scale = crop_scale
        self.crop_letterbox = crop_letterbox
        self.topk = min(topk, len(self.class_names))
        self.crop_batch = crop_batch

    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None, mode: str = 'predict'):
        if mode != 'predict':
            raise ValueError(f'{type(self).__name__} only evaluates (mode="predict"), got mode={mode!r}')
        return self.predict(inputs, data_samples)

    @torch.no_grad()
    def embed_segments(self, inputs: torch.Tensor, boxes: list[torch.Tensor],
                       masks: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Normalised ``(K, D)`` embeddings of all segments of the batch for each readout."""
        size = tuple(inputs.shape[-2:])
        out = {}
        if 'boxes' in self.readouts or 'masks' in self.readouts:
            dense = self.tower(inputs).dense
            if 'boxes' in self.readouts:
                out['boxes'] = self.tower.region_embeddings(dense, boxes, size)
            if 'masks' in self.readouts:
                out['masks'] = self.tower.mask_embeddings(dense, masks)
        if 'crops' in self.readouts:
            crops = crop_and_resize(inputs, boxes, self.tower.native_size, scale=self.crop_scale,
                                    letterbox=self.crop_letterbox)
            out['crops'] = torch.cat([F.normalize(self.tower.encode_image(c), dim=-1)
                                      for c in crops.split(self.crop_batch)]) if len(crops) else \
                crops.new_zeros(0, self.text.embed_dim)
        return out

    def predict(self, inputs: torch.Tensor, data_samples: list) -> list:
        size = tuple(inputs.shape[-2:])
        boxes = [s.gt_instances.bboxes.tensor if hasattr(s.gt_instances.bboxes, 'tensor')
                 else s.gt_instances.bboxes for s in data_samples]
        masks = [pad_masks(s.gt_instances.masks, size, inputs.device) for s in data_samples]
        labels = torch.cat([s.gt_instances.labels for s in data_samples]).cpu()
        counts = [len(b) for b in boxes]
        for kind, emb in self.embed_segments(inputs, boxes, masks).items():
            topk = self.text(emb).topk(self.topk, dim=1).indices.cpu()
            for sample, k, lab in zip(data_samples, topk.split(counts), labels.split(counts)):
                preds = sample.get('pred_zero_shot', {})
                preds[kind] = dict(topk=k, labels=lab)
                sample.pred_zero_shot = preds
        return data_samples


def pad_masks(masks, size: tuple[int, int], device: torch.device) -> torch.Tensor:
    """mmdet ``BitmapMasks`` or a tensor ``(N, h, w)`` -> bool ``(N, H, W)`` zero-padded to ``size``."""
    tensor = masks.to_tensor(dtype=torch.bool, device=device) if hasattr(masks, 'to_tensor') else masks.bool()
    tensor = tensor.to(device)
    pad_h, pad_w = size[0] - tensor.shape[-2], size[1] - tensor.shape[-1]
    return F.pad(tensor, (0, pad_w, 0, pad_h)) if pad_h or pad_w else tensor
