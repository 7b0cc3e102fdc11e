"""Latent class mining (paper 003 Sec. 3.1, Eq. 1): cluster CLIP's dense tokens where no seen label is.

Batched over the images of a step: seeds, k-means and merging are tensor operations on
``(B, ...)`` arrays; the only Python loops run over k-means and merge iterations.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from ...utils import at_least_float32


def window_seeds(tokens: torch.Tensor, unlabelled: torch.Tensor,
                 window_sizes: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 1: mean tokens of sliding windows, seen tokens set to zero.

    Windows of side ``o`` move by ``round(o / 2)`` cells (at least 1).

    Args:
        tokens: ``(B, D, h, w)`` CLIP dense tokens.
        unlabelled: ``(B, h, w)`` bool, True where no seen label is.
        window_sizes: the set ``O`` of window sides, in cells.

    Returns:
        seeds ``(B, S, D)`` and ``valid`` ``(B, S)`` (the window holds at least one unlabelled token).
    """
    h, w = tokens.shape[-2:]
    mask = unlabelled[:, None].to(tokens.dtype)
    seeds, valid = [], []
    for o in window_sizes:
        o = min(int(o), h, w)
        stride = max(int(round(o / 2)), 1)
        seeds.append(F.avg_pool2d(tokens * mask, o, stride).flatten(2).transpose(1, 2))
        valid.append(F.avg_pool2d(mask, o, stride).flatten(1) > 0)
    return torch.cat(seeds, 1), torch.cat(valid, 1)


def connected_components(adjacency: torch.Tensor) -> torch.Tensor:
    """Component label (the smallest member index) of each node, for ``(B, S, S)`` symmetric adjacency.

    Min-label propagation: at most ``S`` matrix steps, usually a few.
    """
    b, s, _ = adjacency.shape
    labels = torch.arange(s, device=adjacency.device).expand(b, s).clone()
    big = torch.full_like(adjacency, s, dtype=torch.long)
    for _ in range(s):
        neighbours = torch.where(adjacency, labels[:, None, :].expand(b, s, s), big).amin(-1)
        new = torch.minimum(labels, neighbours)
        if torch.equal(new, labels):
            break
        labels = new
    return labels


class LatentClassMiner:
    """Seeded spherical k-means over the unlabelled tokens of each image, clusters merged by centre cosine.

    Args:
        window_sizes: seed window sides ``O`` of Eq. 1, in token cells.
        iterations: k-means iterations.
        merge_threshold: clusters whose centres have a cosine above it are one latent class.
        min_unlabelled: a token is unlabelled when at least this fraction of its pixels is.
    """

    def __init__(self, window_sizes: Sequence[int] = (2, 4), iterations: int = 10, merge_threshold: float = 0.8,
                 min_unlabelled: float = 0.5) -> None:
        if not window_sizes or min(window_sizes) < 1:
            raise ValueError(f'window_sizes must be positive cell counts, got {window_sizes!r}')
        self.window_sizes = tuple(int(o) for o in window_sizes)
        self.iterations = iterations
        self.merge_threshold = merge_threshold
        self.min_unlabelled = min_unlabelled

    def unlabelled_tokens(self, labels: torch.Tensor, grid: tuple[int, int], ignore_index: int) -> torch.Tensor:
        """``(B, h, w)`` bool: tokens of the ``grid`` whose pixels of ``labels`` ``(B, H, W)`` are mostly ignored."""
        ignored = (labels == ignore_index).to(torch.float32)[:, None]
        return F.adaptive_avg_pool2d(ignored, grid)[:, 0] >= self.min_unlabelled

    @torch.no_grad()
    def __call__(self, tokens: torch.Tensor, unlabelled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent classes of each image.

        Args:
            tokens: ``(B, D, h, w)`` CLIP dense tokens.
            unlabelled: ``(B, h, w)`` bool.

        Returns:
            ``latent`` ``(B, h, w)`` long: the latent class ``0 .. U_b - 1`` of each unlabelled token,
            ``-1`` on labelled tokens; ``num_latent`` ``(B,)``: ``U_b``.
        """
        b, d, h, w = tokens.shape
        x = F.normalize(at_least_float32(tokens).flatten(2).transpose(1, 2), dim=-1)  # (B, L, D)
        free = unlabelled.flatten(1)  # (B, L)
        seeds, alive = window_seeds(at_least_float32(tokens), unlabelled, self.window_sizes)
        centres = F.normalize(seeds, dim=-1)  # (B, S, D)
        s = centres.shape[1]
        for _ in range(self.iterations):
            sim = (x @ centres.transpose(1, 2)).masked_fill(~alive[:, None], -2.0)  # (B, L, S)
            members = F.one_hot(sim.argmax(-1), s).to(x.dtype) * free[..., None]  # (B, L, S)
            counts = members.sum(1)  # (B, S)
            alive = alive & (counts > 0)
            centres = torch.where(alive[..., None], F.normalize(members.transpose(1, 2) @ x, dim=-1), centres)
        assign = (x @ centres.transpose(1, 2)).masked_fill(~alive[:, None], -2.0).argmax(-1)  # (B, L)
        near = (centres @ centres.transpose(1, 2)) > self.merge_threshold
        component = connected_components(near & alive[:, :, None] & alive[:, None, :])  # (B, S)
        root = component.gather(1, assign)  # (B, L)
        used = torch.zeros(b, s, dtype=torch.long, device=x.device).scatter_add_(1, root, free.long()) > 0
        contiguous = used.long().cumsum(1) - 1  # (B, S): latent id of each used root
        latent = torch.where(free, contiguous.gather(1, root), torch.full_like(root, -1))
        return latent.view(b, h, w), used.sum(1)
