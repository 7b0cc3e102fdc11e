"""Semantic coupling ratio (paper 001, App. C.3, Eq. 15).

Two independent images ``A``, ``B`` (``S x S`` each) go through the tower alone and side by side
(``AB``, ``S x 2S``); ``Z_{A|AB}`` / ``Z_{B|AB}`` are the left / right halves of ``AB``'s map. For
every token ``i`` of ``A``, ``j`` is the token of ``B`` most similar to it in the joint forward:

    CR = E_i [ cos(Z_{A|AB}[i], Z_{B|AB}[j]) / cos(Z_A[i], Z_B[j]) ],   j = argmax_k cos(Z_{A|AB}[i], Z_{B|AB}[k])

1 means the joint forward adds no similarity between unrelated images (tokens keep their own
content); above 1, context leaks from one image into the other's tokens. The paper reports 2.32 for
EVA-CLIP, 1.86 after CLIPSelf, 0.95 for its Refiner (COCO val2017).

The per-token ratio is ill-conditioned where ``cos(Z_A[i], Z_B[j])`` is near 0 or negative (small towers
whose features are not all in one cone); :class:`Coupling` therefore also keeps both means, whose
quotient ``E[joint] / E[alone]`` (the ratio of means) is the robust companion of Eq. 15.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from mmengine.utils import ProgressBar

from .encoders import DenseEncoder


@dataclass
class Coupling:
    """Per pair ``(P,)``: ``ratio`` (Eq. 15, mean over A's tokens of joint / alone), ``joint`` (mean of
    ``cos(Z_{A|AB}[i], Z_{B|AB}[j])``) and ``alone`` (mean of ``cos(Z_A[i], Z_B[j])``)."""

    ratio: torch.Tensor
    joint: torch.Tensor
    alone: torch.Tensor

    @property
    def ratio_of_means(self) -> float:
        """``E[joint] / E[alone]`` over all tokens of all pairs."""
        return (self.joint.mean() / self.alone.mean()).item()


@torch.no_grad()
def coupling_ratio(encoder: DenseEncoder, images_a: torch.Tensor, images_b: torch.Tensor) -> Coupling:
    """Eq. 15 for pairs of ``(P, 3, S, S)`` images.

    The width ``S`` must be a multiple of the stride, so that the halves of ``AB`` are ``A`` and ``B``'s cells.
    """
    if images_a.shape != images_b.shape:
        raise ValueError(f'pairs need images of one shape, got {tuple(images_a.shape)} and {tuple(images_b.shape)}')
    if images_a.shape[-1] % encoder.stride:
        raise ValueError(f'image width {images_a.shape[-1]} is not a multiple of the stride {encoder.stride}')
    p = len(images_a)
    alone = encoder.dense_features(torch.cat([images_a, images_b]))  # (2P, D, h, w)
    joint = encoder.dense_features(torch.cat([images_a, images_b], dim=-1))  # (P, D, h, 2w)
    w = alone.shape[-1]

    def tokens(x: torch.Tensor) -> torch.Tensor:  # (P, D, h, w) -> (P, h*w, D), unit norm
        return F.normalize(x.flatten(2).transpose(1, 2), dim=-1)

    z_a, z_b = tokens(alone[:p]), tokens(alone[p:])
    z_a_ab, z_b_ab = tokens(joint[..., :w]), tokens(joint[..., w:])
    joint_cos = z_a_ab @ z_b_ab.transpose(1, 2)  # (P, N, N)
    best, j = joint_cos.max(dim=-1)  # (P, N)
    alone_cos = (z_a * z_b.gather(1, j[..., None].expand_as(z_b))).sum(-1)  # cos(Z_A[i], Z_B[j])
    return Coupling((best / alone_cos).mean(dim=1), best.mean(dim=1), alone_cos.mean(dim=1))


def dataset_coupling_ratio(encoder: DenseEncoder, images: torch.Tensor, num_pairs: int, seed: int = 0,
                           batch_size: int = 32, progress: bool = False) -> Coupling:
    """Eq. 15 over ``num_pairs`` disjoint random pairs of the ``(N, 3, S, S)`` images (fields ``(num_pairs,)``).

    Raises:
        ValueError: fewer than ``2 * num_pairs`` images.
    """
    if not 0 < 2 * num_pairs <= len(images):
        raise ValueError(f'{num_pairs} pairs need {2 * num_pairs} images, the set has {len(images)}')
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:2 * num_pairs]
    a, b = images[order[0::2]], images[order[1::2]]
    bar = ProgressBar(num_pairs) if progress else None
    out = []
    for start in range(0, num_pairs, batch_size):
        out.append(coupling_ratio(encoder, a[start:start + batch_size], b[start:start + batch_size]))
        if bar is not None:
            bar.update(len(out[-1].ratio))
    if bar is not None:
        print()
    return Coupling(*(torch.cat([getattr(c, k) for c in out]) for k in ('ratio', 'joint', 'alone')))
