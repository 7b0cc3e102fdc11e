"""Pictures of dense features: affinity maps, PCA colours, K-means segments (tile grids) and t-SNE plots.

Tile grids have a row per tower under a row of the input images and a label column on the left;
every tile is ``cell x cell`` pixels, so a grid of ``T`` towers and ``C`` columns is
``(T + 1) * cell`` x ``LABEL_WIDTH + C * cell`` pixels (RGB, uint8).
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Sequence

import cv2
import matplotlib
import numpy as np
import torch
import torch.nn.functional as F

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from ..clip.pooling import mask_embeddings  # noqa: E402
from .clustering import kmeans  # noqa: E402
from .data import ImageSet  # noqa: E402
from .embedding import pca_rgb, tsne  # noqa: E402
from .encoders import DenseEncoder  # noqa: E402

LABEL_WIDTH = 180
PALETTE = (np.array(plt.get_cmap('tab20').colors) * 255).astype(np.uint8)  # (20, 3) cluster colours
TSNE_PANEL, TSNE_LEGEND, TSNE_DPI = 4.0, 2.2, 100  # inches per panel, legend width, dots per inch


def label_tile(text: str, height: int, width: int = LABEL_WIDTH) -> np.ndarray:
    """White ``(height, width, 3)`` tile with ``text`` (wrapped at spaces) centred vertically."""
    tile = np.full((height, width, 3), 255, np.uint8)
    words, lines = text.split(), ['']
    for word in words:
        trial = f'{lines[-1]} {word}'.strip()
        if cv2.getTextSize(trial, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)[0][0] > width - 8 and lines[-1]:
            lines.append(word)
        else:
            lines[-1] = trial
    top = height // 2 - 9 * (len(lines) - 1)
    for i, line in enumerate(lines):
        cv2.putText(tile, line, (4, top + 18 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def resize_tile(image: np.ndarray, cell: int, nearest: bool = False) -> np.ndarray:
    return cv2.resize(image, (cell, cell), interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR)


def tile_grid(rows: Sequence[Sequence[np.ndarray]], labels: Sequence[str], cell: int) -> np.ndarray:
    """Rows of ``cell x cell`` tiles, each row led by its label -> one RGB picture."""
    return np.concatenate([np.concatenate([label_tile(label, cell), *row], axis=1)
                           for label, row in zip(labels, rows)], axis=0)


def mark(image: np.ndarray, points: Sequence[tuple[float, float]]) -> np.ndarray:
    """Copy of ``image`` with a cross (white on black) at each ``(x, y)`` pixel."""
    out = image.copy()
    for x, y in points:
        for colour, thickness in (((0, 0, 0), 4), ((255, 255, 255), 2)):
            cv2.drawMarker(out, (int(round(x)), int(round(y))), colour, cv2.MARKER_CROSS, 14, thickness)
    return out


def heat(values: np.ndarray, background: np.ndarray, alpha: float = 0.65) -> np.ndarray:
    """``(H, W)`` values min-max scaled through the jet colour map, blended over a grey ``background``."""
    v = (values - values.min()) / max(float(values.max() - values.min()), 1e-12)
    colour = (plt.get_cmap('jet')(v)[..., :3] * 255).astype(np.float32)
    grey = cv2.cvtColor(cv2.cvtColor(background, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB).astype(np.float32)
    return (alpha * colour + (1 - alpha) * grey).astype(np.uint8)


def save_rgb(picture: np.ndarray, path: str) -> str:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    if not cv2.imwrite(path, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)):
        raise OSError(f'could not write {path!r}')
    return path


def grid_points(num: int) -> list[tuple[float, float]]:
    """A ``num x num`` grid of query points ``(x, y)`` in relative image coordinates (cell centres)."""
    ticks = (np.arange(num) + 0.5) / num
    return [(float(x), float(y)) for y in ticks for x in ticks]


@torch.no_grad()
def affinity_picture(encoders: dict[str, DenseEncoder], data: ImageSet, indices: Sequence[int],
                     points: Sequence[tuple[float, float]], cell: int = 160) -> np.ndarray:
    """Cosine similarity of a query token with every token of its image (paper 001, Fig. 5).

    One column per (image, query point ``(x, y)`` in [0, 1]), the input row with the query marked, then
    a row per tower; similarities are min-max scaled per map.
    """
    size = data.images.shape[-1]
    columns = [(i, x, y) for i in indices for x, y in points]
    rows, labels = [[mark(resize_tile(data.pixels[i], cell), [(x * cell, y * cell)]) for i, x, y in columns]], ['input']
    for name, encoder in encoders.items():
        dense = encoder.dense_features(data.images[list(indices)])  # (B, D, h, w)
        h, w = dense.shape[-2:]
        row = []
        for k, i in enumerate(indices):
            for x, y in points:
                query = dense[k, :, min(int(y * size) // encoder.stride, h - 1),
                              min(int(x * size) // encoder.stride, w - 1)]
                sim = torch.einsum('d,dhw->hw', query, dense[k])[None, None]
                sim = F.interpolate(sim, size=(cell, cell), mode='bilinear', align_corners=False)[0, 0].numpy()
                row.append(mark(heat(sim, resize_tile(data.pixels[i], cell)), [(x * cell, y * cell)]))
        rows.append(row)
        labels.append(name)
    return tile_grid(rows, labels, cell)


@torch.no_grad()
def pca_picture(encoders: dict[str, DenseEncoder], data: ImageSet, indices: Sequence[int],
                cell: int = 160) -> np.ndarray:
    """First three principal components of each tower's dense features as RGB; one PCA per tower over
    the cells of all shown images, so colours compare across images."""
    rows, labels = [[resize_tile(data.pixels[i], cell) for i in indices]], ['input']
    for name, encoder in encoders.items():
        dense = encoder.dense_features(data.images[list(indices)])
        b, d, h, w = dense.shape
        rgb = pca_rgb(dense.permute(0, 2, 3, 1).reshape(-1, d)).reshape(b, h, w, 3)
        rows.append([resize_tile((255 * rgb[k].numpy()).astype(np.uint8), cell, nearest=True) for k in range(b)])
        labels.append(name)
    return tile_grid(rows, labels, cell)


@torch.no_grad()
def kmeans_picture(encoders: dict[str, DenseEncoder], data: ImageSet, indices: Sequence[int], k: int = 6,
                   cell: int = 160, seed: int = 0) -> np.ndarray:
    """K-means segments (``k`` per image, cosine geometry: the cells are unit vectors) of each tower's map."""
    rows, labels = [[resize_tile(data.pixels[i], cell) for i in indices]], ['input']
    for name, encoder in encoders.items():
        dense = encoder.dense_features(data.images[list(indices)])
        b, d, h, w = dense.shape
        clusters, _ = kmeans(dense.flatten(2).transpose(1, 2), min(k, h * w), seed=seed)  # (B, h*w)
        segments = PALETTE[clusters.numpy() % len(PALETTE)].reshape(b, h, w, 3)
        rows.append([resize_tile(segments[j], cell, nearest=True) for j in range(b)])
        labels.append(name)
    return tile_grid(rows, labels, cell)


@torch.no_grad()
def instance_features(encoder: DenseEncoder, data: ImageSet, batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask-pooled features of every (image, class) region of the label maps (paper 001, App. A.2, with
    the semantic maps' class regions as instances): ``(M, D)`` unit rows and their classes ``(M,)``."""
    if data.labels is None:
        raise ValueError('instance features need label maps (an image set with labels)')
    num_classes = len(data.class_names)
    onehot = F.one_hot(data.labels.clamp(0, num_classes), num_classes + 1)[..., :num_classes]  # ignore -> none
    present = onehot.flatten(1, 2).any(1)  # (N, C)
    feats, classes = [], []
    for start in range(0, len(data), batch_size):
        stop = min(start + batch_size, len(data))
        dense = encoder.dense_features(data.images[start:stop])
        masks = [onehot[i].permute(2, 0, 1)[present[i]].bool() for i in range(start, stop)]
        feats.append(F.normalize(mask_embeddings(dense, masks, encoder.stride), dim=-1))
        classes.append(present[start:stop].nonzero()[:, 1])
    return torch.cat(feats), torch.cat(classes)


def sample_instances(classes: torch.Tensor, num_classes: int, per_class: int, seed: int = 0,
                     chosen: Sequence[int] = ()) -> torch.Tensor:
    """Indices of up to ``per_class`` random instances of each ``chosen`` class (default: the
    ``num_classes`` most frequent)."""
    gen = torch.Generator().manual_seed(seed)
    chosen = list(chosen) or torch.bincount(classes).argsort(descending=True)[:num_classes].tolist()
    picks = [idx[torch.randperm(len(idx), generator=gen)[:per_class]]
             for idx in ((classes == c).nonzero()[:, 0] for c in chosen)]
    return torch.cat(picks)


def tsne_picture(features: dict[str, torch.Tensor], classes: torch.Tensor, class_names: Sequence[str],
                 path: str, perplexity: float = 30.0, seed: int = 0) -> str:
    """One t-SNE panel per tower of the same instances, coloured by class; saved to ``path``, which is
    ``len(features) * 400 + 220`` x ``400`` pixels."""
    towers = list(features)
    fig = plt.figure(figsize=(TSNE_PANEL * len(towers) + TSNE_LEGEND, TSNE_PANEL), dpi=TSNE_DPI)
    width = TSNE_PANEL * len(towers) + TSNE_LEGEND
    present = sorted(set(classes.tolist()))
    colours = plt.get_cmap('tab10' if len(present) <= 10 else 'tab20')
    for t, tower in enumerate(towers):
        ax = fig.add_axes((t * TSNE_PANEL / width + 0.01, 0.03, TSNE_PANEL / width - 0.02, 0.86))
        y = tsne(features[tower], perplexity=perplexity, seed=seed).numpy()
        for n, c in enumerate(present):
            sel = (classes == c).numpy()
            ax.scatter(y[sel, 0], y[sel, 1], s=6, color=colours(n % colours.N), label=class_names[c])
        ax.set_title(tower, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    handles, names = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc='center right', fontsize=7, markerscale=2, frameon=False)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=TSNE_DPI)
    plt.close(fig)
    return path

