"""Training-free dense readouts of a CLIP tower's last block: SCLIP, ClearCLIP, NACLIP.

Each replaces the last block's query-key attention weights ``A`` (per head, all tokens
including the prefix ones). With per-head ``q, k, v`` of shape ``(B, H, N, d)``, ``N = P + h * w``
(``P`` prefix tokens first, then the patches row-major) and ``s = 1 / sqrt(d)``:

* ``'sclip'`` (Wang et al., SCLIP, ECCV 2024), correlative self-attention:
  ``A = softmax(s q q^T) + softmax(s k k^T)`` (rows sum to 2); the block keeps its residual and FFN.
* ``'clearclip'`` (Lan et al., ClearCLIP, ECCV 2024): ``A = softmax(s q q^T)``; the block's
  output is its attention branch alone (no residual, no FFN).
* ``'naclip'`` (Hajimiri et al., NACLIP, WACV 2025): ``A = softmax(s k k^T + Omega)`` with the
  Gaussian neighbourhood prior :func:`gaussian_prior`; attention branch alone.

The adapters supply ``q, k, v`` and the block's own output projection (``adapters.py``).

Towers that pool with an attention head instead of a class token (SigLIP / SigLIP 2's MAP head,
timm's ``AttentionPoolLatent``) project each token into the image-embedding space with
:func:`attention_pool_values`: the head as it would be if its attention put all weight on that token.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

READOUTS = ('sclip', 'clearclip', 'naclip')
KEEPS_RESIDUAL = {'sclip': True, 'clearclip': False, 'naclip': False}  # residual and FFN kept together


def gaussian_prior(grid: tuple[int, int], num_prefix: int, sigma: float, device: Optional[torch.device] = None,
                   dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """NACLIP's ``Omega`` ``(N, N)``, ``N = num_prefix + h * w``.

    ``Omega_ij = exp(-||p_i - p_j||^2 / (2 sigma^2))`` for patches at grid coordinates ``p = (row, col)``,
    unnormalised, 0 on the rows and columns of prefix tokens. The Gaussian factorises over rows and
    columns, so ``Omega`` on the patches is ``kron(G_rows, G_cols)`` with ``G_ab = exp(-(a - b)^2 / (2 sigma^2))``.
    """
    def gauss(n: int) -> torch.Tensor:
        pos = torch.arange(n, device=device, dtype=torch.float32)
        return torch.exp(-(pos[:, None] - pos[None]).square() / (2 * sigma ** 2))

    omega = torch.kron(gauss(grid[0]), gauss(grid[1]))
    return F.pad(omega, (num_prefix, 0, num_prefix, 0)).to(dtype)


def readout_values(readout: str, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, grid: tuple[int, int],
                   sigma: float = 5.0) -> torch.Tensor:
    """The mixed values ``A v`` ``(B, H, N, e)`` of ``readout`` for ``q, k`` ``(B, H, N, d)``, ``v`` ``(B, H, N, e)``.

    ``A`` as in the module docstring; the prefix tokens are the first ``N - h * w``. All heads at once
    (``scaled_dot_product_attention`` computes ``softmax(s a b^T + bias) v``).
    """
    scale = q.shape[-1] ** -0.5
    if readout == 'sclip':
        return (F.scaled_dot_product_attention(q, q, v, scale=scale)
                + F.scaled_dot_product_attention(k, k, v, scale=scale))
    if readout == 'clearclip':
        return F.scaled_dot_product_attention(q, q, v, scale=scale)
    if readout == 'naclip':
        omega = gaussian_prior(grid, q.shape[2] - grid[0] * grid[1], sigma, q.device, q.dtype)
        return F.scaled_dot_product_attention(k, k, v, attn_mask=omega, scale=scale)
    raise ValueError(f'readout must be one of {READOUTS}, got {readout!r}')


def attention_pool_values(pool: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per-token readout of a MAP head (timm ``AttentionPoolLatent``): ``(..., C)`` -> ``(..., D)``.

    The head pools ``N`` tokens as ``o = W_o sum_j a_j (W_v x_j + b_v) + b_o``, ``y = o + MLP(LN(o))``
    with ``a = softmax(s q k^T)`` for its learnt latent query. With all weight on token ``i``
    (``a = e_i``, whatever the query) it gives, per token and without q or k:

        o_i = W_o (W_v x_i + b_v) + b_o,    y_i = o_i + MLP(LN(o_i))

    the value path of MaskCLIP applied to the pooling head, so the ``y_i`` live where the pooled
    image embedding does, and an image of identical tokens gives ``y_i`` = its pooled embedding.
    """
    width = pool.kv.out_features // 2  # kv = [k; v]
    bias = pool.kv.bias[width:] if pool.kv.bias is not None else None
    o = pool.proj(F.linear(x, pool.kv.weight[width:], bias))
    return o + pool.mlp(pool.norm(o)) if pool.mlp is not None else o
