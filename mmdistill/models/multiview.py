"""Data preprocessing of images that come with several photometric draws each (``PhotometricViews``)."""
from __future__ import annotations

import torch
from mmengine.model import ImgDataPreprocessor
from mmengine.utils import is_seq_of

from ..registry import MODELS


@MODELS.register_module()
class MultiViewDataPreprocessor(ImgDataPreprocessor):
    """mmengine's ``ImgDataPreprocessor`` that also takes ``V`` draws per image.

    Samples whose ``inputs`` are ``(V, 3, H, W)`` (``PackImageText`` after ``PhotometricViews``)
    are normalised and padded draw by draw, as ``B * V`` images, and returned as
    ``(B, V, 3, H, W)``; ``(3, H, W)`` samples are ``ImgDataPreprocessor``'s ``(B, 3, H, W)``.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data['inputs']
        if not (is_seq_of(inputs, torch.Tensor) and inputs[0].dim() == 4):
            return super().forward(data, training)
        views = {len(x) for x in inputs}
        if len(views) != 1:
            raise ValueError(f'every image of a batch needs the same number of draws, got {sorted(views)}')
        out = super().forward({**data, 'inputs': [draw for x in inputs for draw in x]}, training)
        out['inputs'] = out['inputs'].unflatten(0, (len(inputs), views.pop()))
        return out
