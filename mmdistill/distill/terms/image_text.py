"""Image-text contrastive loss (CLIP softmax InfoNCE or SigLIP sigmoid), distributed-aware."""
from __future__ import annotations

from typing import Optional

import torch
from mmengine.dist import get_dist_info
from open_clip.loss import ClipLoss, SigLipLoss
from torch import nn

from ...registry import MODELS


@MODELS.register_module()
class ImageTextContrastiveLoss(nn.Module):
    """Contrastive loss between paired, L2-normalised image and text embeddings ``(B, D)``.

    ``kind='softmax'``: symmetric InfoNCE of CLIP; ``kind='sigmoid'``: SigLIP.
    Under DDP, embeddings of all ranks are gathered (open_clip's implementation),
    so negatives come from the global batch.
    """

    def __init__(self, kind: str = 'softmax', loss_weight: float = 1.0) -> None:
        super().__init__()
        if kind not in ('softmax', 'sigmoid'):
            raise ValueError(f"kind must be 'softmax' or 'sigmoid', got {kind!r}")
        self.kind = kind
        self.loss_weight = loss_weight
        rank, world_size = get_dist_info()
        self.loss = (ClipLoss(gather_with_grad=True, cache_labels=True, rank=rank, world_size=world_size)
                     if kind == 'softmax' else SigLipLoss(rank=rank, world_size=world_size))

    def forward(self, image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor,
                logit_bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Unweighted loss (the caller applies ``loss_weight``); ``logit_scale`` is already exponentiated.

        Computed in fp32 even under autocast: a logit scale of up to 100 would magnify the
        rounding of bfloat16 / fp16 similarities into logit errors of a few tenths.
        """
        with torch.autocast(image_emb.device.type, enabled=False):
            image_emb, text_emb, logit_scale = image_emb.float(), text_emb.float(), logit_scale.float()
            if self.kind == 'softmax':
                return self.loss(image_emb, text_emb, logit_scale)
            return self.loss(image_emb, text_emb, logit_scale,
                             None if logit_bias is None else logit_bias.float())
