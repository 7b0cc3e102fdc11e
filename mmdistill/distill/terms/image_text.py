"""Image-text contrastive loss (CLIP softmax InfoNCE or SigLIP sigmoid), distributed-aware."""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.dist import get_dist_info
from open_clip.loss import ClipLoss, SigLipLoss
from torch import nn

from ...registry import MODELS


@MODELS.register_module()
class ImageTextContrastiveLoss(nn.Module):
    """Contrastive loss between paired image and text embeddings, L2-normalised here in fp32 (CLIP's loss is
    on unit vectors; a distiller's ``cls`` signals are the tower's unnormalised embeddings).

    ``kind='softmax'``: CLIP's symmetric InfoNCE,
    ``(CE(s I T^T, arange) + CE(s T I^T, arange)) / 2``;
    ``kind='sigmoid'``: SigLIP, ``-sum_ij log sigmoid(z_ij (s I_i . T_j + b)) / B`` with ``z = +1`` on
    the diagonal and ``-1`` elsewhere. Under DDP, embeddings of all ranks are gathered
    (open_clip's ``ClipLoss`` / ``SigLipLoss``), so negatives come from the global batch.

    As a distiller term (SILC), ``image`` may hold ``V`` views of each image, crop-major
    ``(V * B, D)``, against the ``B`` captions ``(B, D)``: the loss is computed per view and
    averaged. The term then owns its scale ``s`` (and SigLIP's bias ``b``) as trainable parameters,
    initialised at ``logit_scale`` (and ``logit_bias``); without them (CLIP pretraining) the caller
    passes the model's own.

    Args:
        kind: ``'softmax'`` or ``'sigmoid'``.
        logit_scale: initial ``s`` of a term-owned scale (CLIP: 1 / 0.07; SigLIP: 10), learnt as
            ``log s``; ``None``: the caller passes it.
        logit_bias: initial ``b`` of a term-owned SigLIP bias (SigLIP: -10).
        max_logit_scale: ``s`` is clamped to it (CLIP: 100).
        loss_weight: applied by the caller, not in :meth:`forward`.
    """

    inputs = ('image', 'text')

    def __init__(self, kind: str = 'softmax', logit_scale: Optional[float] = None, logit_bias: Optional[float] = None,
                 max_logit_scale: float = 100.0, loss_weight: float = 1.0) -> None:
        super().__init__()
        if kind not in ('softmax', 'sigmoid'):
            raise ValueError(f"kind must be 'softmax' or 'sigmoid', got {kind!r}")
        if logit_bias is not None and kind != 'sigmoid':
            raise ValueError('logit_bias is a parameter of the sigmoid (SigLIP) loss only')
        self.kind = kind
        self.loss_weight = loss_weight
        self.max_logit_scale = max_logit_scale
        self.log_scale = nn.Parameter(torch.tensor(math.log(logit_scale))) if logit_scale is not None else None
        self.bias = nn.Parameter(torch.tensor(float(logit_bias))) if logit_bias is not None else None
        rank, world_size = get_dist_info()
        self.loss = (ClipLoss(gather_with_grad=True, cache_labels=True, rank=rank, world_size=world_size)
                     if kind == 'softmax' else SigLipLoss(rank=rank, world_size=world_size))

    def forward(self, image: torch.Tensor, text: torch.Tensor, logit_scale: Optional[torch.Tensor] = None,
                logit_bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Unweighted loss of ``image`` ``(V * B, D)`` and ``text`` ``(B, D)``, averaged over the ``V`` views.

        ``logit_scale`` (already exponentiated) and ``logit_bias`` default to the term's own.
        Computed in fp32 even under autocast: a logit scale of up to 100 would magnify the
        rounding of bfloat16 / fp16 similarities into logit errors of a few tenths.
        """
        if image.dim() != 2 or text.dim() != 2 or len(image) % max(len(text), 1) or image.shape[1] != text.shape[1]:
            raise ValueError(f'image must be (V * B, D) and text (B, D), got {tuple(image.shape)} and '
                             f'{tuple(text.shape)}')
        if logit_scale is None:
            if self.log_scale is None:
                raise ValueError('no logit_scale: pass one or configure the term with logit_scale=...')
            logit_scale = self.log_scale.exp().clamp(max=self.max_logit_scale)
        if logit_bias is None:
            logit_bias = self.bias
        with torch.autocast(image.device.type, enabled=False):
            text, logit_scale = F.normalize(text.float(), dim=-1), logit_scale.float()
            losses = []
            for view in F.normalize(image.float(), dim=-1).split(len(text)):  # V views, a handful
                if self.kind == 'softmax':
                    losses.append(self.loss(view, text, logit_scale))
                else:
                    losses.append(self.loss(view, text, logit_scale,
                                            None if logit_bias is None else logit_bias.float()))
            return torch.stack(losses).mean()
