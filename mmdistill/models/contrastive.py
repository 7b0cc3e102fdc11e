"""InfoNCE: the one contrastive loss every method here uses (C2S global / local distillation, ...)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(query: torch.Tensor, keys: torch.Tensor, positive: torch.Tensor, tau: float,
             normalize: bool = True) -> torch.Tensor:
    """``-mean_i log softmax_j(q_i . k_j / tau)[positive_i]`` (van den Oord et al., 2018).

    Args:
        query: ``(N, D)``.
        keys: ``(M, D)``: the positives and the negatives of every query.
        positive: ``(N,)`` index into ``keys`` of each query's positive.
        tau: temperature.
        normalize: L2-normalise queries and keys first (cosine logits).

    Returns:
        Scalar; ``0 * query.sum()`` when ``N = 0`` (keeps the graph for DDP).
    """
    if query.shape[0] == 0:
        return query.sum() * 0.0
    if normalize:
        query, keys = F.normalize(query, dim=-1), F.normalize(keys, dim=-1)
    return F.cross_entropy(query @ keys.t() / tau, positive)
