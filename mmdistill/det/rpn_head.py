"""An RPN head whose stacked convolutions carry a norm layer (official F-ViT's OV-LVIS detector)."""
from __future__ import annotations

from mmcv.cnn import ConvModule
from mmdet.models.dense_heads import RPNHead
from mmdet.registry import MODELS
from mmdet.utils import OptConfigType
from torch import nn


@MODELS.register_module()
class NormRPNHead(RPNHead):
    """mmdet's ``RPNHead`` with ``num_convs`` 3x3 convolutions, each followed by ``norm_cfg`` and ReLU.

    CLIPSelf's F-ViT trains OV-LVIS with such a head (2 convs with SyncBN); mmdet 3.x's ``RPNHead`` takes no
    ``norm_cfg`` (its stacked convolutions are plain). Objectness and box layers are ``RPNHead``'s.

    Args:
        norm_cfg: norm layer after each of the stacked convolutions, e.g. ``dict(type='SyncBN')``.
        num_convs: number of stacked convolutions; must be > 1 (a single conv is ``RPNHead``'s plain one).
    """

    def __init__(self, *args, norm_cfg: OptConfigType = None, num_convs: int = 2, **kwargs) -> None:
        if num_convs < 2:
            raise ValueError(f'NormRPNHead needs num_convs >= 2 (got {num_convs}); use RPNHead for a single conv')
        self.norm_cfg = norm_cfg
        super().__init__(*args, num_convs=num_convs, **kwargs)

    def _init_layers(self) -> None:
        super()._init_layers()
        # inplace=False: the ReLU output feeds both the objectness and the box branch
        self.rpn_conv = nn.Sequential(*(
            ConvModule(self.in_channels if i == 0 else self.feat_channels, self.feat_channels, 3, padding=1,
                       norm_cfg=self.norm_cfg, inplace=False) for i in range(self.num_convs)))
