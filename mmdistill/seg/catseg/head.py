"""Cat-Seg's decode head: cosine cost volume, cost aggregation, upsampling decoder, per-class logits."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from .aggregation import AggregatorLayer, GuidedUp

TRUNCATED_LOGIT = -100.0  # logit of the classes top-k truncation leaves out of an image


@MODELS.register_module()
class CatSegHead(BaseDecodeHead):
    """Cost aggregation head of Cat-Seg, fed by a CLIP tower's dense map, intermediate layers and text embeddings.

    ``forward((dense, layers, text))`` with ``dense (B, D, h, w)`` (unit cells), ``layers``: one raw token map
    ``(B, W, h, w)`` per decoder stage (shallow first), ``text (B, C, T, D)`` (unit embeddings per class and
    template) gives logits ``(B, C, 2^S h, 2^S w)`` (``S`` decoder stages). The classes of an image are
    independent items everywhere except in the class aggregation, which treats them as an unordered set.

    Args:
        in_channels: CLIP embedding size ``D``.
        channels: aggregation channels ``E``.
        num_classes: classes of the training vocabulary (the output follows the vocabulary in use).
        guidance_channels: width ``W`` of the tower's token maps.
        num_templates: prompt templates ``T`` (channels of the cost volume per class).
        num_layers: aggregation layers (each: two Swin blocks, one class aggregation).
        num_heads: attention heads of both aggregations.
        window_size: Swin window side, in cells.
        class_pool / test_class_pool: average pooling before the class aggregation in training / evaluation
            (1: none).
        appearance_dim / text_dim: projected appearance (dense map) and text guidance channels.
        decoder_channels: output channels of each decoder stage.
        decoder_guidance_channels: channels of the transposed convolutions that upsample the layer maps
            (x2 for stage 0, x4 for stage 1, ...).
        decoder_guidance_proj: channels each layer guidance is projected to before joining the decoder.
        max_classes: the most classes aggregated per image (``None``: no limit).
        truncate: above ``max_classes``, keep each image's top ``max_classes`` classes by their highest cost
            (others get logit -100); without it, more classes are an error.
        with_cp: activation checkpointing of each aggregation layer and decoder stage while gradients are
            recorded: their ``(B, K, E, h, w)``-sized intermediates are recomputed in the backward pass instead of
            kept (the largest share of a training step's memory at 150+ classes).
    """

    def __init__(self, in_channels: int, channels: int, num_classes: int, guidance_channels: int,
                 num_templates: int = 1, num_layers: int = 2, num_heads: int = 4, window_size: int = 12,
                 class_pool: int = 1, test_class_pool: int = 1, appearance_dim: int = 128, text_dim: int = 128,
                 decoder_channels: Sequence[int] = (64, 32), decoder_guidance_channels: Sequence[int] = (256, 128),
                 decoder_guidance_proj: Sequence[int] = (32, 16), max_classes: Optional[int] = None,
                 truncate: bool = False, with_cp: bool = False, **kwargs) -> None:
        kwargs.setdefault('init_cfg', None)
        super().__init__(in_channels=in_channels, channels=channels, num_classes=num_classes, **kwargs)
        del self.conv_seg  # the classes are scored by the aggregated cost, not a classifier
        stages = len(decoder_channels)
        if not len(decoder_guidance_channels) == len(decoder_guidance_proj) == stages:
            raise ValueError('decoder_channels, decoder_guidance_channels and decoder_guidance_proj need one entry '
                             f'per decoder stage, got {decoder_channels}, {decoder_guidance_channels}, '
                             f'{decoder_guidance_proj}')
        if truncate and max_classes is None:
            raise ValueError('truncate=True needs max_classes (the classes kept per image)')
        self.num_stages = stages
        self.max_classes, self.truncate = max_classes, truncate
        self.with_cp = with_cp
        self.cost_embed = nn.Conv2d(num_templates, channels, kernel_size=7, padding=3)
        self.appearance_proj = nn.Sequential(nn.Conv2d(in_channels, appearance_dim, 3, padding=1), nn.ReLU(True))
        self.text_proj = nn.Sequential(nn.Linear(in_channels, text_dim), nn.ReLU(True))
        self.layers = nn.ModuleList(
            AggregatorLayer(channels, appearance_dim, text_dim, num_heads, window_size, class_pool, test_class_pool)
            for _ in range(num_layers))
        self.layer_up = nn.ModuleList(
            nn.ConvTranspose2d(guidance_channels, c, kernel_size=2 ** (i + 1), stride=2 ** (i + 1))
            for i, c in enumerate(decoder_guidance_channels))
        self.layer_proj = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, p, 3, padding=1), nn.ReLU(True))
            for c, p in zip(decoder_guidance_channels, decoder_guidance_proj))
        dims = (channels, *decoder_channels)
        self.decoder = nn.ModuleList(GuidedUp(dims[i], dims[i + 1], decoder_guidance_proj[i]) for i in range(stages))
        self.logit = nn.Conv2d(dims[-1], 1, 3, padding=1)

    def check_num_classes(self, num_classes: int) -> None:
        """ValueError when a vocabulary of ``num_classes`` exceeds ``max_classes`` without truncation."""
        if self.max_classes is not None and num_classes > self.max_classes and not self.truncate:
            raise ValueError(f'the vocabulary has {num_classes} classes, more than max_classes={self.max_classes}; '
                             f'set decode_head.truncate=True to keep the top {self.max_classes} classes of each '
                             'image, or raise decode_head.max_classes')

    def select_classes(self, cost: Tensor, text: Tensor) -> tuple[Tensor, Tensor, Optional[Tensor]]:
        """Top-k truncation: ``cost (B, C, T, h, w)``, ``text (B, C, T, D)`` -> the kept classes' cost and text,
        and their indices ``(B, K)`` (``None`` when all classes are kept)."""
        self.check_num_classes(cost.shape[1])
        if self.max_classes is None or cost.shape[1] <= self.max_classes:
            return cost, text, None
        kept = cost.flatten(2).amax(dim=-1).topk(self.max_classes, dim=1).indices  # (B, K)
        cost = cost.gather(1, kept[..., None, None, None].expand(-1, -1, *cost.shape[2:]))
        text = text.gather(1, kept[..., None, None].expand(-1, -1, *text.shape[2:]))
        return cost, text, kept

    def _run(self, module: nn.Module, *args: Tensor) -> Tensor:
        """``module(*args)``, under activation checkpointing when ``with_cp`` is on and gradients are recorded."""
        if self.with_cp and torch.is_grad_enabled():
            return checkpoint(module, *args, use_reentrant=False)
        return module(*args)

    def forward(self, inputs: tuple[Tensor, Sequence[Tensor], Tensor]) -> Tensor:
        """``(dense (B, D, h, w), layers [(B, W, h, w)] * S, text (B, C, T, D))`` -> logits ``(B, C, 2^S h, 2^S w)``."""
        dense, layers, text = inputs
        if len(layers) != self.num_stages:
            raise ValueError(f'the decoder has {self.num_stages} stages but {len(layers)} guidance layers were given')
        b, c = text.shape[:2]
        cost = torch.einsum('bdhw,bctd->bcthw', dense, text.to(dense.dtype))
        cost, text, kept = self.select_classes(cost, text)
        k = cost.shape[1]
        x = self.cost_embed(cost.flatten(0, 1)).unflatten(0, (b, k))  # (B, K, E, h, w)
        appearance = self.appearance_proj(dense)
        text_guidance = self.text_proj(F.normalize(text.mean(dim=2), dim=-1).to(dense.dtype))
        for layer in self.layers:
            x = self._run(layer, x, appearance, text_guidance)
        y = x.flatten(0, 1)
        for up, proj, stage, guidance in zip(self.layer_up, self.layer_proj, self.decoder, layers):
            y = self._run(stage, y, proj(up(guidance)))
        logits = self.logit(y).view(b, k, *y.shape[-2:])
        if kept is None:
            return logits
        full = logits.new_full((b, c, *logits.shape[-2:]), TRUNCATED_LOGIT)
        return full.scatter(1, kept[..., None, None].expand_as(logits), logits)
