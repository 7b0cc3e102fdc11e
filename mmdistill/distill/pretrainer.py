"""Image-text contrastive pretraining of a whole open_clip model (the synthetic world's tiny CLIP)."""
from __future__ import annotations

from typing import Optional, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from open_clip.transformer import PatchDropout

from ..clip.builder import build_clip_model, build_tokenizer
from ..registry import MODELS


@MODELS.register_module()
class CLIPPretrainer(BaseModel):
    """Trains both towers of ``arch`` with an image-text contrastive loss.

    ``patch_dropout`` (FLIP, arXiv:2212.00794): share of the patch tokens of each training
    image dropped at random before the blocks (the class token stays), which makes a step
    of the image tower about that much cheaper; evaluation always sees every patch.

    Data samples carry the caption in ``metainfo['caption']`` (see ``RandomCaption``).
    The state dict under ``clip.`` is an open_clip state dict
    (``tools/model_converters/export_open_clip.py`` strips the prefix).
    """

    def __init__(self, arch: str, checkpoint: Optional[str] = None,
                 loss: Optional[dict] = None, patch_dropout: float = 0.0,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.arch = arch
        self.clip = build_clip_model(arch, checkpoint)
        if patch_dropout:
            if not hasattr(self.clip.visual, 'patch_dropout'):
                raise ValueError(f'patch_dropout={patch_dropout}: the image tower of {arch!r} '
                                 f'({type(self.clip.visual).__name__}) has no patch dropout')
            self.clip.visual.patch_dropout = PatchDropout(patch_dropout)
        self.tokenizer = build_tokenizer(arch)
        self.loss = MODELS.build(loss or dict(type='ImageTextContrastiveLoss'))

    def encode(self, images: torch.Tensor, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """fp32 image ``(B, D)`` and caption ``(B, D)`` embeddings, not normalised (also under autocast)."""
        tokens = self.tokenizer(captions).to(images.device)
        return self.clip.encode_image(images).float(), self.clip.encode_text(tokens).float()

    def embed(self, images: torch.Tensor, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised fp32 image ``(B, D)`` and caption ``(B, D)`` embeddings."""
        return tuple(F.normalize(x, dim=-1) for x in self.encode(images, captions))

    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                mode: str = 'tensor') -> Union[dict, list, torch.Tensor]:
        captions = [s.caption for s in data_samples] if data_samples is not None else None
        if mode == 'loss':
            image, text = self.encode(inputs, captions)  # the loss normalises them
            scale = self.clip.logit_scale.exp().clamp(max=100)
            loss = self.loss.loss_weight * self.loss(image, text, scale)
            return dict(loss_image_text=loss, logit_scale=scale.detach())
        if mode == 'predict':
            image, text = self.embed(inputs, captions)
            for sample, i, t in zip(data_samples, image, text):
                sample.set_field(i, 'image_embedding')
                sample.set_field(t, 'text_embedding')
            return data_samples
        return F.normalize(self.clip.encode_image(inputs), dim=-1)
