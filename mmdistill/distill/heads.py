"""Heads on a tower's image embedding, owned by the student and averaged into an EMA teacher."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from ..registry import MODELS


@MODELS.register_module()
class DINOHead(BaseModule):
    """DINO's projection head: an MLP, L2 normalisation, then cosine scores against ``K`` prototypes.

    ``head(x) = normalize(W) normalize(MLP(x))``, ``(N, in_dim) -> (N, K)``: the last layer is
    DINO's weight-normalised linear layer with its norm fixed to 1 (``norm_last_layer=True``).

    Args:
        in_dim: input width (the tower's ``embed_dim``: the head reads the image embedding).
        out_dim: ``K`` prototypes (DINO: 65536; smaller for small data).
        hidden_dim: width of the hidden layers (DINO: 2048).
        bottleneck_dim: output width of the MLP (DINO: 256).
        num_layers: linear layers of the MLP (DINO: 3), GELU between them.
    """

    def __init__(self, in_dim: int, out_dim: int = 4096, hidden_dim: int = 2048, bottleneck_dim: int = 256,
                 num_layers: int = 3, init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [bottleneck_dim]
        layers: list[nn.Module] = []
        for i in range(num_layers):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if i < num_layers - 1:
                layers.append(nn.GELU())
        self.mlp = nn.Sequential(*layers)
        for layer in self.mlp:
            if isinstance(layer, nn.Linear):
                nn.init.trunc_normal_(layer.weight, std=0.02)
                nn.init.zeros_(layer.bias)
        self.prototypes = nn.Parameter(torch.empty(out_dim, bottleneck_dim))
        nn.init.trunc_normal_(self.prototypes, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_dim)`` -> ``(N, K)`` scores in ``[-1, 1]``."""
        return F.normalize(self.mlp(x), dim=-1) @ F.normalize(self.prototypes, dim=-1).t()
