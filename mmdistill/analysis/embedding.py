"""Low-dimensional pictures of features: PCA to RGB, and t-SNE (van der Maaten & Hinton, 2008) in torch.

t-SNE here is the exact O(N^2) method, meant for the few hundred to few thousand mask-pooled
features a picture shows: per-point Gaussian affinities whose entropy matches ``log(perplexity)``
(bisection on the precision), symmetrised ``P = (P_{j|i} + P_{i|j}) / 2N``; Student-t affinities
``Q_ij ~ (1 + ||y_i - y_j||^2)^-1`` in 2-D; gradient ``4 sum_j (P_ij - Q_ij)(y_i - y_j)(1 + ||y_i - y_j||^2)^-1``
descended with momentum, adaptive gains and early exaggeration (x12 for the first 250 steps).
"""
from __future__ import annotations

import math

import torch


def pca_rgb(tokens: torch.Tensor, low: float = 0.01, high: float = 0.99) -> torch.Tensor:
    """The first three principal components of ``(M, D)`` tokens as RGB in [0, 1] ``(M, 3)``.

    Each component is scaled so that its ``low`` / ``high`` quantiles map to 0 / 1 (clipped).
    """
    x = tokens.float() - tokens.float().mean(0)
    _, _, v = torch.linalg.svd(x, full_matrices=False)
    proj = x @ v[:3].T  # (M, <=3)
    proj = torch.cat([proj, proj.new_zeros(len(proj), 3 - proj.shape[1])], dim=1)
    lo, hi = torch.quantile(proj, low, dim=0), torch.quantile(proj, high, dim=0)
    return ((proj - lo) / (hi - lo).clamp_min(1e-12)).clamp(0, 1)


def affinities(x: torch.Tensor, perplexity: float, steps: int = 64) -> torch.Tensor:
    """Symmetrised t-SNE input affinities ``P`` ``(N, N)`` of ``(N, D)`` points (sum 1, zero diagonal)."""
    n = len(x)
    d2 = torch.cdist(x, x).square()
    d2 = d2 / d2[d2 > 0].mean().clamp_min(1e-12)  # scale-free bisection range
    d2.fill_diagonal_(float('inf'))
    target = math.log(min(perplexity, n - 1))
    lo, hi = torch.full((n, 1), -30.0), torch.full((n, 1), 30.0)  # bounds of log(precision)
    for _ in range(steps):
        mid = (lo + hi) / 2
        p = torch.softmax(-mid.exp() * d2, dim=1)
        entropy = -(p * p.clamp_min(1e-30).log()).sum(1, keepdim=True)
        too_flat = entropy > target  # raise the precision
        lo, hi = torch.where(too_flat, mid, lo), torch.where(too_flat, hi, mid)
    p = torch.softmax(-((lo + hi) / 2).exp() * d2, dim=1)
    return (p + p.T) / (2 * n)


def tsne(x: torch.Tensor, perplexity: float = 30.0, iters: int = 1000, seed: int = 0) -> torch.Tensor:
    """2-D t-SNE embedding ``(N, 2)`` of ``(N, D)`` points (module docstring)."""
    n = len(x)
    if n < 3:
        raise ValueError(f't-SNE needs at least 3 points, got {n}')
    p = affinities(x.double(), perplexity)
    y = 1e-4 * torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    velocity, gains = torch.zeros_like(y), torch.ones_like(y)
    lr = max(n / 12 / 4, 50.0)
    for it in range(iters):
        exaggeration, momentum = (12.0, 0.5) if it < 250 else (1.0, 0.8)
        diff = y[:, None] - y[None]  # (N, N, 2)
        kernel = 1 / (1 + diff.square().sum(-1))
        kernel.fill_diagonal_(0)
        q = (kernel / kernel.sum()).clamp_min(1e-12)
        grad = 4 * (((exaggeration * p - q) * kernel)[..., None] * diff).sum(1)
        same_sign = (grad > 0) == (velocity > 0)
        gains = torch.where(same_sign, gains * 0.8, gains + 0.2).clamp_min(0.01)
        velocity = momentum * velocity - lr * gains * grad
        y = y + velocity
        y = y - y.mean(0)
    return y.float()
