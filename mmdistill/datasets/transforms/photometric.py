"""Per-view photometric draws of one image, for multi-crop training (SILC, DINO).

Each view of an image gets its own colour jitter, grayscale, blur and solarisation draw
(mmpretrain's ``MultiView`` idea), while the geometry stays the model's: every draw keeps the
image's size and pixel grid, so the crop boxes the view sampler (``MultiCrop``) samples in the
source image are exact in each draw, and crop ``c`` is cut from draw ``c``.
"""
from __future__ import annotations

import math
from typing import Sequence, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from torchvision.transforms.v2 import ColorJitter
from torchvision.transforms.v2 import functional as TF

from ...registry import TRANSFORMS

Prob = Union[float, Sequence[float]]


@TRANSFORMS.register_module()
class PhotometricViews(BaseTransform):
    """``img`` ``(H, W, 3)`` BGR uint8 -> ``(V, H, W, 3)``: ``num_views`` independent photometric draws.

    In order, each view: colour jitter (brightness, contrast, saturation, hue in a random order)
    with probability ``jitter``, grayscale with ``grayscale``, Gaussian blur with ``blur`` (sigma
    uniform in ``blur_sigma``, kernel ``2 ceil(3 sigma) + 1``), solarisation above 128 with
    ``solarize``. Each probability is one value for all views or one per view (DINO's asymmetric
    views: ``blur=[1.0, 0.1] + [0.5] * 8``, ``solarize=[0.0, 0.2] + [0.0] * 8``).

    Put it after every geometric transform (flips, resizes): those act on ``(H, W, 3)`` images.
    ``PackImageText`` packs the draws as ``inputs`` ``(V, 3, H, W)`` and
    ``MultiViewDataPreprocessor`` normalises them into ``(B, V, 3, H, W)``; ``num_views`` must
    equal the multi-crop's ``num_global + num_local``.
    """

    def __init__(self, num_views: int, jitter: Prob = 0.8, brightness: float = 0.4, contrast: float = 0.4,
                 saturation: float = 0.2, hue: float = 0.1, grayscale: Prob = 0.2, blur: Prob = 0.5,
                 blur_sigma: tuple[float, float] = (0.1, 2.0), solarize: Prob = 0.0) -> None:
        if num_views < 1:
            raise ValueError(f'num_views must be >= 1, got {num_views}')
        self.num_views = num_views
        self.probs = {name: self._per_view(name, p) for name, p in
                      (('jitter', jitter), ('grayscale', grayscale), ('blur', blur), ('solarize', solarize))}
        self.color_jitter = ColorJitter(brightness=brightness, contrast=contrast, saturation=saturation, hue=hue)
        self.blur_sigma = blur_sigma

    def _per_view(self, name: str, prob: Prob) -> list[float]:
        probs = [float(prob)] * self.num_views if isinstance(prob, (int, float)) else [float(p) for p in prob]
        if len(probs) != self.num_views or not all(0 <= p <= 1 for p in probs):
            raise ValueError(f'{name}: one probability in [0, 1] or one per view ({self.num_views}), got {prob}')
        return probs

    def draw(self, rgb: torch.Tensor, view: int) -> torch.Tensor:
        """One photometric draw of ``rgb`` ``(3, H, W)`` uint8 with view ``view``'s probabilities."""
        if np.random.rand() < self.probs['jitter'][view]:
            rgb = self.color_jitter(rgb)
        if np.random.rand() < self.probs['grayscale'][view]:
            rgb = TF.rgb_to_grayscale(rgb, num_output_channels=3)
        if np.random.rand() < self.probs['blur'][view]:
            sigma = float(np.random.uniform(*self.blur_sigma))
            rgb = TF.gaussian_blur(rgb, kernel_size=2 * math.ceil(3 * sigma) + 1, sigma=sigma)
        if np.random.rand() < self.probs['solarize'][view]:
            rgb = TF.solarize(rgb, threshold=128)
        return rgb

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f'PhotometricViews takes one (H, W, 3) image, got shape {img.shape}: put it after '
                             f'the geometric transforms and only once')
        rgb = torch.from_numpy(np.ascontiguousarray(img[..., ::-1])).permute(2, 0, 1)
        draws = [self.draw(rgb, v) for v in range(self.num_views)]
        results['img'] = np.ascontiguousarray(torch.stack(draws).permute(0, 2, 3, 1).numpy()[..., ::-1])
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(num_views={self.num_views}, probs={self.probs}, {self.color_jitter})'
