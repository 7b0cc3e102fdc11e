"""Attention fine-tuning of CLIP towers as Cat-Seg does: only the query and value projections train.

open_clip's attention (``nn.MultiheadAttention``) fuses the three projections into ``in_proj_weight``
``(3C, C)`` and ``in_proj_bias`` ``(3C,)``. A gradient mask on the fused tensor would not keep the key
rows fixed (AdamW's decoupled weight decay still moves them), so the fused tensors are re-parametrised as
the concatenation of three separate parameters (``torch.nn.utils.parametrize`` with three originals) and
only the chosen ones get ``requires_grad``. Towers whose attention already has separate ``q_proj`` /
``k_proj`` / ``v_proj`` linears (timm ``Eva`` with ``qkv_fused=False``) need no re-parametrisation.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn.utils import parametrize

PROJECTIONS = ('q', 'k', 'v')


class SplitQKV(nn.Module):
    """``(q, k, v)`` -> their concatenation along dim 0: a fused ``(3C, ...)`` projection from three parts."""

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return torch.cat([q, k, v])

    def right_inverse(self, fused: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return tuple(t.clone() for t in fused.chunk(3))


def tune_attention(module: nn.Module, projections: Sequence[str] = ('q', 'v')) -> list[str]:
    """Freeze ``module``, then let the chosen attention projections (weights and biases) of all its blocks train.

    Args:
        module: a tower (open_clip image or text transformer, timm ``Eva``).
        projections: a subset of ``('q', 'k', 'v')``; empty freezes everything.

    Returns:
        The names of the parameters that train.

    Raises:
        ValueError: an unknown projection, or ``projections`` given but no attention layer found.
    """
    bad = [p for p in projections if p not in PROJECTIONS]
    if bad:
        raise ValueError(f'projections must be a subset of {PROJECTIONS}, got {bad}')
    module.requires_grad_(False)
    if not projections:
        return []
    index = [PROJECTIONS.index(p) for p in projections]
    found = False
    for sub in list(module.modules()):
        if isinstance(sub, nn.MultiheadAttention):
            if not sub._qkv_same_embed_dim:
                raise ValueError('attention with separate key / value sizes is not supported')
            for name in ('in_proj_weight', 'in_proj_bias'):
                if getattr(sub, name, None) is None:
                    continue
                if not parametrize.is_parametrized(sub, name):
                    parametrize.register_parametrization(sub, name, SplitQKV(), unsafe=True)
                originals = sub.parametrizations[name]
                for i in index:
                    getattr(originals, f'original{i}').requires_grad_(True)
            found = True
        elif all(isinstance(getattr(sub, f'{p}_proj', None), nn.Linear) for p in PROJECTIONS):
            for p in projections:
                getattr(sub, f'{p}_proj').requires_grad_(True)
            found = True
    if not found:
        raise ValueError(f'{type(module).__name__} has no attention layer with fused in_proj or separate '
                         'q_proj / k_proj / v_proj linears')
    return [n for n, p in module.named_parameters() if p.requires_grad]
