"""Image sets for the analysis tools: a folder of images, optionally with semantic label maps.

Images are resized (bilinear, squashed) to ``size x size`` and normalised with CLIP's mean / std;
label maps are resized with nearest neighbours. The synthetic world's semantic split is found
through its ``meta.json`` (:func:`world_image_set`); real data (e.g. COCO val2017 images, COCO-Stuff
label maps) is a pair of folders (:func:`load_image_set`).
"""
from __future__ import annotations

import os
import os.path as osp
from dataclasses import dataclass
from typing import Optional, Sequence

import mmcv
import numpy as np
import torch
from mmengine.utils import ProgressBar
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

from ..datasets.label_maps import read_label_map

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.webp')


@dataclass
class ImageSet:
    """``N`` images of one size.

    Attributes:
        pixels: ``(N, S, S, 3)`` uint8 RGB, for drawing.
        images: ``(N, 3, S, S)`` float32, normalised with CLIP's mean / std, for the towers.
        labels: ``(N, S, S)`` int64 class ids (``ignore_index`` where unlabelled), or ``None``.
        class_names: names of the label ids (empty without labels).
        names: file names of the images.
    """

    pixels: np.ndarray
    images: torch.Tensor
    labels: Optional[torch.Tensor]
    class_names: list[str]
    names: list[str]
    ignore_index: int = 255

    def __len__(self) -> int:
        return len(self.names)


def normalise(pixels: np.ndarray) -> torch.Tensor:
    """``(N, S, S, 3)`` uint8 RGB -> ``(N, 3, S, S)`` float32 with CLIP's mean / std."""
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255
    mean = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def load_image_set(img_dir: str, size: int, ann_dir: Optional[str] = None, num: Optional[int] = None,
                   class_names: Sequence[str] = (), ann_suffix: str = '.png', ignore_index: int = 255,
                   progress: bool = True) -> ImageSet:
    """The first ``num`` images of ``img_dir`` (sorted by name) and, with ``ann_dir``, their label maps
    (same stem, ``ann_suffix``).

    Raises:
        FileNotFoundError: ``img_dir`` holds no image, or an image has no label map in ``ann_dir``.
    """
    if not osp.isdir(img_dir):
        raise FileNotFoundError(f'image folder not found: {img_dir!r}')
    names = sorted(n for n in os.listdir(img_dir) if n.lower().endswith(IMAGE_SUFFIXES))[:num]
    if not names:
        raise FileNotFoundError(f'no images ({", ".join(IMAGE_SUFFIXES)}) in {img_dir!r}')
    pixels = np.empty((len(names), size, size, 3), np.uint8)
    labels = np.empty((len(names), size, size), np.int64) if ann_dir is not None else None
    bar = ProgressBar(len(names)) if progress else None
    for i, name in enumerate(names):
        image = mmcv.imread(osp.join(img_dir, name), channel_order='rgb')
        pixels[i] = mmcv.imresize(image, (size, size), interpolation='bilinear')
        if labels is not None:
            ann = osp.join(ann_dir, osp.splitext(name)[0] + ann_suffix)
            if not osp.isfile(ann):
                raise FileNotFoundError(f'label map of {name!r} not found: {ann!r}')
            labels[i] = mmcv.imresize(read_label_map(ann), (size, size), interpolation='nearest')
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    return ImageSet(pixels, normalise(pixels), torch.from_numpy(labels) if labels is not None else None,
                    list(class_names), names, ignore_index)


def world_image_set(world: str, size: int, split: str = 'val', num: Optional[int] = None,
                    progress: bool = True) -> ImageSet:
    """The synthetic world's semantic ``split`` (images, label maps of its 32 classes) at ``world``."""
    from ..datasets.synthetic import load_world_meta
    if not osp.isfile(osp.join(world, 'meta.json')):
        raise FileNotFoundError(f'no synthetic world at {world!r} (meta.json missing): run '
                                'python tools/data/make_synthetic_world.py or bash tools/quickstart.sh first')
    meta = load_world_meta(world)
    layout = meta['layout'][split]
    return load_image_set(osp.join(world, layout['semantic_images']), size,
                          ann_dir=osp.join(world, layout['semantic_masks']), num=num,
                          class_names=meta['semantic_classes'], ignore_index=meta['ignore_index'],
                          progress=progress)
