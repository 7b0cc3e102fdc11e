"""Caption sampling and packing for image-text training."""
from __future__ import annotations

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from ...registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomCaption(BaseTransform):
    """Pick one of ``results['captions']`` at random into ``results['caption']``."""

    def transform(self, results: dict) -> dict:
        captions = results['captions']
        results['caption'] = captions[np.random.randint(len(captions))]
        return results


@TRANSFORMS.register_module()
class PackImageText(BaseTransform):
    """``img`` (H, W, 3) -> ``inputs`` (3, H, W) uint8 tensor (per-view draws of ``PhotometricViews``
    (V, H, W, 3) -> (V, 3, H, W)); caption(s) and ids into a data sample."""

    def __init__(self, meta_keys: tuple[str, ...] = ('img_id', 'img_path', 'caption', 'captions', 'ori_shape',
                                                     'img_shape')) -> None:
        self.meta_keys = meta_keys

    def transform(self, results: dict) -> dict:
        img = results['img']
        img = np.ascontiguousarray(img.transpose(0, 3, 1, 2) if img.ndim == 4 else img.transpose(2, 0, 1))
        sample = BaseDataElement(metainfo={k: results[k] for k in self.meta_keys if k in results})
        return dict(inputs=torch.from_numpy(img), data_samples=sample)
