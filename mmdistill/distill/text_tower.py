"""The text tower of a CLIP, trainable or frozen, for image-text terms of the distiller (SILC)."""
from __future__ import annotations

import os.path as osp
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from ..clip.builder import build_clip_model, build_tokenizer
from ..clip.export import load_mmengine_state_dict, replace_weights, save_checkpoint_atomic, strip_prefix
from ..registry import MODELS


@MODELS.register_module()
class CLIPTextTower(BaseModule):
    """The text half of an open_clip model: ``encode(captions) -> (B, D)`` L2-normalised embeddings.

    ``clip`` is the open_clip model without its image tower: a distiller checkpoint's
    ``text_tower.clip.*`` plus ``student.visual.*`` is a whole open_clip model
    (:func:`export_student_clip`).

    Args:
        arch: open_clip architecture name.
        checkpoint: local checkpoint of the whole CLIP model; ``None`` keeps a random
            initialisation (pretraining from scratch).
        trainable: whether the text tower trains (SILC fine-tuning: either).
    """

    def __init__(self, arch: str, checkpoint: Optional[str] = None, trainable: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.clip = build_clip_model(arch, checkpoint)
        del self.clip.visual
        self.arch = arch
        self.tokenizer = build_tokenizer(arch)
        self.requires_grad_(trainable)
        for name in ('logit_scale', 'logit_bias'):  # image-text terms own their scale and bias
            if isinstance(getattr(self.clip, name, None), torch.nn.Parameter):
                getattr(self.clip, name).requires_grad_(False)

    def forward(self, captions: Sequence[str]) -> torch.Tensor:
        """``B`` captions -> ``(B, D)`` normalised embeddings (fp32)."""
        tokens = self.tokenizer(list(captions)).to(self.clip.token_embedding.weight.device)
        return F.normalize(self.clip.encode_text(tokens).float(), dim=-1)

    def init_weights(self) -> None:
        """Nothing to do: the weights come from ``checkpoint`` at construction."""


def export_student_clip(checkpoint: str, arch: str, out: str, original: Optional[str] = None) -> str:
    """Write a distiller checkpoint's student image tower and, if it has one, its text tower
    (``text_tower.*``) as one open_clip checkpoint; missing parts come from ``original``."""
    state = load_mmengine_state_dict(checkpoint)
    weights = strip_prefix(state, 'student.')
    with_text = any(k.startswith('text_tower.clip.') for k in state)
    if with_text:
        weights.update(strip_prefix(state, 'text_tower.clip.'))
    scope = '' if original is None or with_text else 'visual.'
    model = build_clip_model(arch, original)
    source = f'{osp.basename(checkpoint)} (student + text tower)'
    return save_checkpoint_atomic(replace_weights(model, weights, source, scope=scope), out)
