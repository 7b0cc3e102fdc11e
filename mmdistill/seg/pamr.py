"""PAMR: pixel-adaptive mask refinement (Araslanov & Roth, CVPR 2020), a post-processing step of segmentors.

Each pixel i takes, ``num_iter`` times, the affinity-weighted mean of its neighbours' scores; the neighbours
are the 8 pixels at each dilation d (replicate padding at the border), the affinities come from the image::

    k(i, j) = -1 / K * sum_c |I_c(i) - I_c(j)| / (eps + 0.1 * sigma_c(i))    j in N(i), over the K channels
    alpha(i, j) = softmax_{j in N(i)} k(i, j)
    m_{t+1}(i) = sum_{j in N(i)} alpha(i, j) m_t(j)

sigma_c(i) is the (unbiased) standard deviation of channel c over the 3 x 3 neighbourhoods of i at every
dilation (the centre counted once per dilation). NACLIP applies it with 10 iterations and dilations (8, 16)
to the averaged cosine logits at image resolution, with the normalised image.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

CENTRE = 4  # index of the centre in a row-major 3 x 3 neighbourhood


def neighbourhoods(x: Tensor, dilations: Sequence[int]) -> Tensor:
    """The 3 x 3 neighbourhood of every pixel at each dilation: ``(B, C, H, W)`` -> ``(B, C, D, 9, H, W)``.

    Borders are padded by replicating the edge pixels.
    """
    b, c, h, w = x.shape
    flat = x.reshape(b * c, 1, h, w)
    rows = [F.unfold(F.pad(flat, [d] * 4, mode='replicate'), kernel_size=3, dilation=d) for d in dilations]
    return torch.stack(rows, dim=1).view(b, c, len(dilations), 9, h, w)


def neighbour_offsets(dilations: Sequence[int]) -> list[tuple[int, int, int]]:
    """``(d, dy, dx)`` of the ``8 D`` neighbours, in the order of :func:`drop_centre`'s ``P`` axis."""
    return [(d, (k // 3 - 1) * d, (k % 3 - 1) * d) for d in dilations for k in range(9) if k != CENTRE]


def drop_centre(patches: Tensor) -> Tensor:
    """``(B, C, D, 9, H, W)`` neighbourhoods -> the ``P = 8 D`` neighbours ``(B, C, P, H, W)``."""
    return torch.cat([patches[:, :, :, :CENTRE], patches[:, :, :, CENTRE + 1:]], dim=3).flatten(2, 3)


@MODELS.register_module()
class PAMR(BaseModule):
    """Pixel-adaptive mask refinement of class scores ``(B, C, H, W)`` guided by images ``(B, K, H, W)``.

    Args:
        num_iter: propagation steps.
        dilations: neighbourhood dilations, in pixels.
    """

    def __init__(self, num_iter: int = 10, dilations: Sequence[int] = (8, 16), init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_iter < 1 or not dilations or min(dilations) < 1:
            raise ValueError(f'PAMR needs num_iter >= 1 and positive dilations, got {num_iter} and {dilations}')
        self.num_iter = int(num_iter)
        self.dilations = tuple(int(d) for d in dilations)

    def affinities(self, images: Tensor) -> Tensor:
        """Images ``(B, K, H, W)`` -> softmax weights ``(B, P, H, W)`` over the ``P = 8 D`` neighbours."""
        patches = neighbourhoods(images.float(), self.dilations)  # (B, K, D, 9, H, W)
        sigma = patches.flatten(2, 3).std(dim=2)  # (B, K, H, W)
        diff = drop_centre((patches - patches[:, :, :, CENTRE:CENTRE + 1]).abs())  # (B, K, P, H, W)
        kernel = -(diff / (1e-8 + 0.1 * sigma[:, :, None])).mean(dim=1)
        return kernel.softmax(dim=1)

    def forward(self, images: Tensor, scores: Tensor) -> Tensor:
        """Refined scores ``(B, C, H, W)``; ``scores`` are first resized (bilinear) to the images' size.

        Each step adds the ``8 D`` shifted copies of the padded scores, weighted, in place: no ``(B, C, 8 D, H, W)``
        tensor is made (its memory traffic is what a step costs).
        """
        if scores.shape[-2:] != images.shape[-2:]:
            scores = F.interpolate(scores, size=images.shape[-2:], mode='bilinear', align_corners=True)
        h, w = scores.shape[-2:]
        alpha = self.affinities(images)  # (B, P, H, W), P in the order of `neighbour_offsets`
        offsets = neighbour_offsets(self.dilations)
        out = scores.float()
        for _ in range(self.num_iter):
            padded = {d: F.pad(out, [d] * 4, mode='replicate') for d in self.dilations}
            step = torch.zeros_like(out)
            for k, (d, dy, dx) in enumerate(offsets):
                step.addcmul_(alpha[:, k:k + 1], padded[d][..., d + dy:d + dy + h, d + dx:d + dx + w])
            out = step
        return out.to(scores.dtype)
