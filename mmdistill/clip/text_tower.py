"""The text tower of a CLIP, trainable or frozen."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from ..registry import MODELS
from .builder import build_clip_model, build_tokenizer


@MODELS.register_module()
class CLIPTextTower(BaseModule):
    """The text half of an open_clip model: ``encode(captions) -> (B, D)`` L2-normalised embeddings.

    ``clip`` is the open_clip model without its image tower: a ``CLIP`` (text transformer at the top level:
    OpenAI, DFN, MetaCLIP towers) or a ``CustomTextCLIP`` (text module under ``.text``: EVA02, SigLIP...);
    both encode through ``encode_text``. A trained one is exported with the image tower as one open_clip
    checkpoint by :func:`~mmdistill.clip.export.export_open_clip` (``text_prefix``).

    Args:
        arch: open_clip architecture name.
        checkpoint: local checkpoint of the whole CLIP model; ``None`` keeps a random
            initialisation (pretraining from scratch).
        trainable: whether the text tower trains.
        grad_checkpointing: activation checkpointing of the text transformer's blocks while gradients are
            recorded (open_clip's own; saves the blocks' activations, at one more forward in the backward).
    """

    def __init__(self, arch: str, checkpoint: Optional[str] = None, trainable: bool = True,
                 grad_checkpointing: bool = False, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.clip = build_clip_model(arch, checkpoint)
        del self.clip.visual
        self.arch = arch
        self.tokenizer = build_tokenizer(arch)
        self.requires_grad_(trainable)
        for name in ('logit_scale', 'logit_bias'):  # image-text terms own their scale and bias
            if isinstance(getattr(self.clip, name, None), torch.nn.Parameter):
                getattr(self.clip, name).requires_grad_(False)
        self.grad_checkpointing = grad_checkpointing

    @property
    def grad_checkpointing(self) -> bool:
        """Whether the text transformer's blocks run under activation checkpointing."""
        return any(m.grad_checkpointing for m in self._transformers())

    @grad_checkpointing.setter
    def grad_checkpointing(self, enable: bool) -> None:
        transformers = self._transformers()
        if enable and not transformers:
            raise ValueError(f'the text tower of {self.arch} has no open_clip transformer to checkpoint')
        for module in transformers:
            module.grad_checkpointing = bool(enable)

    def _transformers(self) -> list[torch.nn.Module]:
        """The open_clip ``Transformer`` modules of the text tower (those with a ``grad_checkpointing`` flag)."""
        return [m for m in self.clip.modules() if isinstance(getattr(m, 'grad_checkpointing', None), bool)]

    @property
    def device(self) -> torch.device:
        """Where the tower's weights are."""
        return next(self.clip.parameters()).device

    def forward(self, captions: Sequence[str]) -> torch.Tensor:
        """``B`` captions -> ``(B, D)`` normalised embeddings (fp32)."""
        tokens = self.tokenizer(list(captions)).to(self.device)
        return F.normalize(self.clip.encode_text(tokens).float(), dim=-1)

    def init_weights(self) -> None:
        """Nothing to do: the weights come from ``checkpoint`` at construction."""

