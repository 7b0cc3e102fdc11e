"""Generated pictures and label maps of the config check's data (:mod:`.check_data`, :mod:`.check_releases`),
and the file writers it shares with the preparation commands."""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Sequence, Union

import cv2
import numpy as np

NUM_IMAGES = 2


class CheckDataError(ValueError):
    """A dataset config the check cannot write data for."""


def image_names(split: str, num: int = NUM_IMAGES) -> list[str]:
    """COCO-style file names (no extension) of a split's generated images."""
    return [f'{index + 1:012d}' for index in range(num)] if split else [f'check_{index:06d}' for index in range(num)]


def region_boxes(size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Four non-overlapping ``(x1, y1, x2, y2)`` blocks tiling most of an image (objects / label regions)."""
    h, w = size
    hh, hw = h // 2, w // 2
    return [(2, 2, hw - 2, hh - 2), (hw + 2, 2, w - 2, hh - 2), (2, hh + 2, hw - 2, h - 2),
            (hw + 2, hh + 2, w - 2, h - 2)]


def render_image(index: int, size: tuple[int, int]) -> np.ndarray:
    """A ``(H, W, 3)`` uint8 BGR picture: a smooth gradient with a few coloured blocks."""
    h, w = size
    rng = np.random.default_rng(index)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), np.full_like(xx, 96)], -1)
    for x1, y1, x2, y2 in region_boxes(size):
        img[y1:y2, x1:x2] = rng.integers(0, 256, 3)
    return img.astype(np.uint8)


def block_map(index: int, size: tuple[int, int], labels: Sequence[int], background: int,
              outline: Union[int, None] = None, dtype: type = np.uint8) -> np.ndarray:
    """``(H, W)`` label map of image ``index``: its :func:`region_boxes` hold ``labels`` in turn (starting at
    ``index``) on ``background``, each block optionally framed by a 1-pixel ``outline`` value."""
    label = np.full(size, background, dtype)
    for j, (x1, y1, x2, y2) in enumerate(region_boxes(size)):
        label[y1:y2, x1:x2] = labels[(index + j) % len(labels)]
        if outline is not None:
            cv2.rectangle(label, (x1, y1), (x2 - 1, y2 - 1), int(outline), 1)
    return label


def spread(num_classes: int, count: int = 4) -> list[int]:
    """``count`` class indices spread over ``range(num_classes)`` (first, last and between)."""
    return sorted({round(i * (num_classes - 1) / max(count - 1, 1)) for i in range(count)})


def makedirs_for(path: str) -> str:
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    return path


def write_image(path: str, img) -> None:
    """Write a numpy image (OpenCV, BGR / grey / 16-bit) or a PIL image (e.g. a palette map)."""
    makedirs_for(path)
    if hasattr(img, 'save'):
        img.save(path)
    elif not cv2.imwrite(path, img):
        raise OSError(f'cannot write image {path!r}')


def write_json(path: str, obj: object) -> None:
    with open(makedirs_for(path), 'w', encoding='utf-8') as f:
        json.dump(obj, f)


def write_lines(path: str, lines: Sequence[str]) -> None:
    with open(makedirs_for(path), 'w', encoding='utf-8') as f:
        f.write(''.join(f'{line}\n' for line in lines))


def write_mat(path: str, variables: dict) -> None:
    """A MATLAB file (as the SBD and PASCAL Context releases ship their maps)."""
    from scipy.io import savemat
    savemat(makedirs_for(path), variables)
