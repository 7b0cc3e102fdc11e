"""F-ViT's backbone: a frozen CLIP tower read out at four blocks and turned into a feature pyramid."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from mmcv.cnn import build_norm_layer
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import nn

from ..clip.tower import CLIPTower


def pyramid_adapters(width: int, norm_cfg: Optional[dict]) -> nn.ModuleList:
    """The 4x up / 2x up / identity / 2x down adapters that make strides p/4, p/2, p, 2p (p = patch)."""
    norm = build_norm_layer(norm_cfg, width)[1] if norm_cfg else nn.Identity()
    return nn.ModuleList([
        nn.Sequential(nn.ConvTranspose2d(width, width, 2, stride=2), norm, nn.GELU(),
                      nn.ConvTranspose2d(width, width, 2, stride=2)),
        nn.ConvTranspose2d(width, width, 2, stride=2),
        nn.Identity(),
        nn.MaxPool2d(2, stride=2),
    ])


@MODELS.register_module()
class CLIPViTBackbone(BaseModule):
    """A frozen ``CLIPTower`` (eval mode, no autograd) giving a 4-level pyramid and the CLIP dense map.

    Tokens after blocks ``out_indices`` (0-indexed; the last block, when named, is read on the
    tower's dense path, i.e. MaskCLIP's value-only block, as F-ViT does) go through the adapters.
    Only the adapters train.

    Args:
        tower: ``CLIPTower`` config; its ``trainable`` is forced to ``'none'``.
        out_indices: four block indices, e.g. ``(3, 5, 7, 11)`` for ViT-B, ``(6, 10, 14, 23)`` for ViT-L.
        norm_cfg: norm inside the 4x up adapter (the configs: ``SyncBN`` on GPUs, ``BN`` on one process);
            ``None`` for none.

    Returns (forward):
        ``(levels, dense)``: four maps ``(B, C, H / s, W / s)`` for ``s = p/4, p/2, p, 2p`` and the
        L2-normalised CLIP-space map ``(B, D, H / p, W / p)`` for the region score.
    """

    def __init__(self, tower: dict, out_indices: Sequence[int] = (3, 5, 7, 11),
                 norm_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.tower: CLIPTower = MODELS.build(dict(tower, trainable='none'))
        n = self.tower.num_blocks
        if len(out_indices) != 4:
            raise ValueError(f'out_indices must name 4 blocks (one per adapter), got {list(out_indices)}')
        bad = [i for i in out_indices if not -n <= i < n]
        if bad:
            raise ValueError(f'out_indices {bad} out of range for {self.tower.arch} with {n} blocks')
        self.out_indices = tuple(i % n for i in out_indices)
        self.adapters = pyramid_adapters(self.tower.width, norm_cfg)

    @property
    def stride(self) -> int:
        """Input pixels per cell of the CLIP dense map."""
        return self.tower.stride

    @property
    def strides(self) -> tuple[float, ...]:
        """Input pixels per cell of the four pyramid levels."""
        p = self.stride
        return p / 4, p / 2, p, 2 * p

    def train(self, mode: bool = True) -> CLIPViTBackbone:
        super().train(mode)
        self.tower.eval()
        return self

    def forward(self, images: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        last = self.tower.num_blocks - 1
        with torch.no_grad():
            out = self.tower(images, dense=True, layers=[i for i in self.out_indices if i != last])
        maps = [out.dense_tokens if i == last else out.layers[i] for i in self.out_indices]
        return tuple(adapt(m) for adapt, m in zip(self.adapters, maps)), out.dense
