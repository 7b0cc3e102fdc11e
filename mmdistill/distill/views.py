"""View samplers: which regions of an image the student and the teachers look at.

A sampler returns, per image, boxes in ORIGINAL image pixels: ``boxes`` (what the
student pools from its dense map) and ``crop_boxes`` (what the teachers cut out
and encode alone; equal to ``boxes`` except for proposals, expanded 1.5x).
Sampling is vectorised per image; the number of images is the only loop.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from ..registry import MODELS


@dataclass
class Views:
    """Sampled regions of a batch, original image pixels, ``(N_i, 4)`` per image."""

    boxes: list[torch.Tensor]
    crop_boxes: list[torch.Tensor]

    @property
    def counts(self) -> list[int]:
        return [len(b) for b in self.boxes]


def expand_boxes(boxes: torch.Tensor, factor: float, height: int, width: int) -> torch.Tensor:
    """Scale ``(N, 4)`` boxes about their centres by ``factor``, clipped to the image."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * factor / 2
    out = torch.cat([centre - half, centre + half], dim=1)
    return torch.stack([out[:, 0].clamp(0, width), out[:, 1].clamp(0, height),
                        out[:, 2].clamp(0, width), out[:, 3].clamp(0, height)], dim=1)


@MODELS.register_module()
class GridPatches:
    """CLIPSelf's "patches" mode: a random M x N grid per image, up to ``max_cells`` random cells.

    M is drawn from ``1..max_split`` and N from ``[ceil(M / 2), min(2 M, max_split)]``.
    """

    def __init__(self, max_split: int = 6, max_cells: int = 20) -> None:
        if max_split < 1 or max_cells < 1:
            raise ValueError(f'max_split and max_cells must be >= 1, got {max_split}, {max_cells}')
        self.max_split = max_split
        self.max_cells = max_cells

    def sample_image(self, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
        m = int(torch.randint(1, self.max_split + 1, (1,), generator=generator))
        lo, hi = math.ceil(m / 2), min(2 * m, self.max_split)
        n = int(torch.randint(lo, hi + 1, (1,), generator=generator))
        rows, cols = torch.meshgrid(torch.arange(m), torch.arange(n), indexing='ij')
        cell_h, cell_w = height / m, width / n
        boxes = torch.stack([cols * cell_w, rows * cell_h, (cols + 1) * cell_w, (rows + 1) * cell_h], -1)
        boxes = boxes.reshape(-1, 4).float()
        keep = torch.randperm(len(boxes), generator=generator)[:self.max_cells]
        return boxes[keep]

    def __call__(self, image_sizes: Sequence[tuple[int, int]], generator: torch.Generator,
                 proposals: Optional[Sequence[torch.Tensor]] = None) -> Views:
        boxes = [self.sample_image(h, w, generator) for h, w in image_sizes]
        return Views(boxes, boxes)


@MODELS.register_module()
class ProposalBoxes:
    """CLIPSelf's "proposals" mode: region proposals of each image (e.g. from an RPN JSON).

    Keeps proposals with area in ``[min_area, max_area]``, shuffles them, takes
    at most ``max_num``; the teacher crop is the box expanded ``crop_expand`` times.
    """

    def __init__(self, max_num: int = 20, min_area: float = 8 ** 2, max_area: float = 1024 ** 2,
                 crop_expand: float = 1.5) -> None:
        self.max_num = max_num
        self.min_area = min_area
        self.max_area = max_area
        self.crop_expand = crop_expand

    def __call__(self, image_sizes: Sequence[tuple[int, int]], generator: torch.Generator,
                 proposals: Optional[Sequence[torch.Tensor]] = None) -> Views:
        if proposals is None:
            raise ValueError('ProposalBoxes needs proposals: give the dataset a proposal_file')
        boxes, crops = [], []
        for (h, w), props in zip(image_sizes, proposals):
            props = torch.as_tensor(props, dtype=torch.float32).reshape(-1, props.shape[-1])[:, :4]
            props = torch.stack([props[:, 0].clamp(0, w), props[:, 1].clamp(0, h),
                                 props[:, 2].clamp(0, w), props[:, 3].clamp(0, h)], dim=1)
            area = (props[:, 2] - props[:, 0]) * (props[:, 3] - props[:, 1])
            props = props[(area >= self.min_area) & (area <= self.max_area)]
            props = props[torch.randperm(len(props), generator=generator)[:self.max_num]]
            boxes.append(props)
            crops.append(expand_boxes(props, self.crop_expand, h, w))
        return Views(boxes, crops)


@MODELS.register_module()
class RandomCrops:
    """``num`` random crops per image whose sides are ``scale`` (uniform in the range) of the image's."""

    def __init__(self, num: int = 4, scale: tuple[float, float] = (0.3, 0.7)) -> None:
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f'scale must satisfy 0 < low <= high <= 1, got {scale}')
        self.num = num
        self.scale = scale

    def __call__(self, image_sizes: Sequence[tuple[int, int]], generator: torch.Generator,
                 proposals: Optional[Sequence[torch.Tensor]] = None) -> Views:
        boxes = []
        lo, hi = self.scale
        for h, w in image_sizes:
            s = lo + (hi - lo) * torch.rand(self.num, 1, generator=generator)
            size = s * torch.tensor([[w, h]], dtype=torch.float32)
            start = torch.rand(self.num, 2, generator=generator) * (torch.tensor([[w, h]]) - size)
            boxes.append(torch.cat([start, start + size], dim=1))
        return Views(boxes, boxes)
