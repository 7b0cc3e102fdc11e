"""K-means on dense features and the unsupervised-segmentation probe (Hungarian-matched mIoU).

The probe (paper 001, Table 9's visual-centric measure, here without CAUSE's trained heads): all cells
of all images of a set are clustered with k-means into ``K`` clusters (``K`` = number of classes); each
pixel takes the cluster whose centroid is nearest to its (bilinearly upsampled) cell features; the
clusters are matched one-to-one to the classes by the Hungarian algorithm on the ``K x C`` confusion
matrix ``M`` (``M_kc`` = pixels of class ``c`` in cluster ``k``), maximising the matched pixels, and

    IoU_c = M_{k(c) c} / (sum_c' M_{k(c) c'} + sum_k' M_{k' c} - M_{k(c) c})

with ``k(c)`` the cluster matched to class ``c``; mIoU is the mean over classes whose union is not
empty (as mmseg's ``IoUMetric``), a class left without a cluster scores 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.utils import ProgressBar
from scipy.optimize import linear_sum_assignment


def kmeans(x: torch.Tensor, k: int, iters: int = 50, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched k-means (k-means++ seeding, Lloyd steps) of ``(B, N, D)`` points.

    Returns:
        labels ``(B, N)`` in ``[0, k)`` and centroids ``(B, k, D)``; an emptied cluster keeps its centroid.
    """
    b, n, d = x.shape
    if not 0 < k <= n:
        raise ValueError(f'k={k} clusters need 1..{n} points')
    gen = torch.Generator(device=x.device).manual_seed(seed)
    rows = torch.arange(b, device=x.device)
    sq = x.square().sum(-1)  # (B, N)

    def nearest(c: torch.Tensor) -> torch.Tensor:  # (B, k, D) -> index of the nearest centroid (B, N)
        return torch.baddbmm(c.square().sum(-1)[:, None], x, c.transpose(1, 2), alpha=-2).argmin(-1)

    first = x[rows, torch.randint(n, (b,), generator=gen, device=x.device)]
    centroids = [first]
    dist = sq - 2 * torch.einsum('bnd,bd->bn', x, first) + first.square().sum(-1, keepdim=True)
    for _ in range(1, k):  # k-means++: the next centroid with probability ~ squared distance to the nearest
        weights = dist.clamp_min(0)
        weights = torch.where(weights.sum(-1, keepdim=True) > 0, weights, torch.ones_like(weights))
        c = x[rows, torch.multinomial(weights, 1, generator=gen).squeeze(1)]
        centroids.append(c)
        dist = torch.minimum(dist, sq - 2 * torch.einsum('bnd,bd->bn', x, c) + c.square().sum(-1, keepdim=True))
    centroids = torch.stack(centroids, dim=1)  # (B, k, D)
    labels = nearest(centroids)
    for _ in range(iters):
        sums = x.new_zeros(b, k, d).scatter_add_(1, labels[..., None].expand(-1, -1, d), x)
        counts = x.new_zeros(b, k).scatter_add_(1, labels, x.new_ones(b, n))
        centroids = torch.where(counts[..., None] > 0, sums / counts.clamp_min(1)[..., None], centroids)
        new = nearest(centroids)
        if torch.equal(new, labels):
            break
        labels = new
    return labels, centroids


@dataclass
class ProbeResult:
    """Hungarian-matched scores: ``miou`` and ``accuracy`` in [0, 1], ``iou`` ``(C,)`` (NaN: empty union),
    ``cluster_of_class`` ``(C,)`` (-1: no cluster), ``confusion`` ``(K, C)``."""

    miou: float
    accuracy: float
    iou: np.ndarray
    cluster_of_class: np.ndarray
    confusion: np.ndarray


def hungarian_miou(confusion: np.ndarray) -> ProbeResult:
    """Match clusters to classes on the ``(K, C)`` confusion matrix (module docstring) and score."""
    confusion = np.asarray(confusion, dtype=np.float64)
    clusters, classes = linear_sum_assignment(confusion, maximize=True)
    cluster_of_class = np.full(confusion.shape[1], -1)
    cluster_of_class[classes] = clusters
    tp = np.zeros(confusion.shape[1])
    predicted = np.zeros(confusion.shape[1])
    tp[classes] = confusion[clusters, classes]
    predicted[classes] = confusion[clusters].sum(1)
    union = predicted + confusion.sum(0) - tp
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = np.where(union > 0, tp / union, np.nan)
    total = confusion.sum()
    return ProbeResult(float(np.nanmean(iou)) if np.isfinite(iou).any() else float('nan'),
                       float(tp.sum() / total) if total else float('nan'), iou, cluster_of_class, confusion)


@torch.no_grad()
def cluster_confusion(dense: torch.Tensor, centroids: torch.Tensor, labels: torch.Tensor, num_classes: int,
                      ignore_index: int = 255, batch_size: int = 32, progress: bool = False) -> np.ndarray:
    """``(K, C)`` pixel counts: nearest centroid ``(K, D)`` of each pixel's upsampled cell features
    (``dense`` ``(N, D, h, w)``) against ``labels`` ``(N, H, W)``."""
    k = len(centroids)
    counts = torch.zeros(k * num_classes, dtype=torch.long)
    bar = ProgressBar(len(dense)) if progress else None
    for start in range(0, len(dense), batch_size):
        x, y = dense[start:start + batch_size], labels[start:start + batch_size]
        # squared distance ||x||^2 - 2 x.c + ||c||^2 per cell, linear in x, so upsampling it = distance
        # of the upsampled features up to the ||x||^2 term, which is the same for every centroid
        scores = torch.einsum('ndhw,kd->nkhw', x, centroids) - 0.5 * centroids.square().sum(-1)[None, :, None, None]
        cluster = F.interpolate(scores, size=y.shape[-2:], mode='bilinear', align_corners=False).argmax(1)
        valid = (y != ignore_index) & (y >= 0) & (y < num_classes)
        counts += torch.bincount(cluster[valid] * num_classes + y[valid], minlength=k * num_classes)
        if bar is not None:
            bar.update(len(x))
    if bar is not None:
        print()
    return counts.view(k, num_classes).numpy()


def segmentation_probe(dense: torch.Tensor, labels: torch.Tensor, num_classes: int, num_clusters: int = 0,
                       ignore_index: int = 255, seed: int = 0, iters: int = 50, progress: bool = False
                       ) -> ProbeResult:
    """K-means over all cells of ``(N, D, h, w)`` dense maps (``num_clusters``, default ``num_classes``),
    then the Hungarian-matched mIoU against ``(N, H, W)`` labels."""
    tokens = dense.permute(0, 2, 3, 1).reshape(1, -1, dense.shape[1])
    _, centroids = kmeans(tokens, num_clusters or num_classes, iters=iters, seed=seed)
    confusion = cluster_confusion(dense, centroids[0], labels, num_classes, ignore_index, progress=progress)
    return hungarian_miou(confusion)
