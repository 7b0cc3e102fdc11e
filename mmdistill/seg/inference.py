"""Sliding-window inference shared by the segmentors of ``seg/`` (zero-shot, Cat-Seg).

mmseg's slide protocol: windows of ``crop_size`` start every ``stride``; the last window of a row / column
is shifted back to end at the border. Every window (and, optionally, the whole image resized to one window,
Cat-Seg's global view) goes through the model in one forward; per pixel, the maps of the windows covering it
are averaged::

    S(x) = 1 / |W(x)| * sum_{w in W(x)} s_w(x)                      W(x): the windows that contain x
    S(x) <- (S(x) + up(s_global)(x)) / 2                              with the global view

The caller's ``encode`` decides what ``s`` is (cosine logits for the training-free protocol, sigmoid
probabilities for Cat-Seg), so the average happens where the method's protocol puts it.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from torch import Tensor

TEST_MODES = ('whole', 'slide')
Box = tuple[int, int, int, int]


def check_test_cfg(test_cfg: Optional[dict], global_view: bool = False) -> ConfigDict:
    """A checked ``test_cfg``: ``dict(mode='whole')`` or ``dict(mode='slide', crop_size=(h, w), stride=(sh, sw),
    size=None | (H, W), global_view=bool)``.

    ``size`` resizes the input before the windows (Cat-Seg's 640 px); ``global_view`` (default given by the
    segmentor) adds the whole image resized to one window.

    Raises:
        ValueError: an unknown mode, or a slide mode whose ``crop_size`` / ``stride`` / ``size`` is not a pair
            of positive integers.
    """
    test_cfg = ConfigDict(test_cfg or dict(mode='whole'))
    test_cfg.setdefault('mode', 'whole')
    if test_cfg.mode not in TEST_MODES:
        raise ValueError(f'test_cfg.mode must be one of {TEST_MODES}, got {test_cfg.mode!r}')
    if test_cfg.mode == 'slide':
        for key in ('crop_size', 'stride', 'size'):
            value = test_cfg.get(key)
            if key == 'size' and value is None:
                continue
            if not isinstance(value, (tuple, list)) or len(value) != 2 or min(value) < 1:
                raise ValueError(f'test_cfg.mode="slide" needs {key}=(h, w) of positive integers, got {value!r}')
            test_cfg[key] = tuple(int(v) for v in value)
        test_cfg.setdefault('size', None)
        test_cfg.global_view = bool(test_cfg.get('global_view', global_view))
    return test_cfg


def window_boxes(size: tuple[int, int], crop_size: tuple[int, int], stride: tuple[int, int]) -> list[Box]:
    """``(y1, y2, x1, x2)`` of mmseg's sliding windows over an ``(H, W)`` input.

    Windows start every ``stride``; the last one of a row / column is shifted back to end at the
    border, so all windows have the size ``min(crop_size, size)`` and together cover the input.
    """
    (h, w), (hc, wc), (sh, sw) = size, crop_size, stride
    boxes = []
    for i in range(max(h - hc + sh - 1, 0) // sh + 1):
        for j in range(max(w - wc + sw - 1, 0) // sw + 1):
            y2, x2 = min(i * sh + hc, h), min(j * sw + wc, w)
            boxes.append((max(y2 - hc, 0), y2, max(x2 - wc, 0), x2))
    return boxes


def average_windows(maps: Tensor, boxes: Sequence[Box], size: tuple[int, int]) -> Tensor:
    """Per-window maps ``(B, K, C, hc, wc)`` -> their per-pixel mean ``(B, C, H, W)`` over the windows of ``boxes``."""
    total = maps.new_zeros(maps.shape[0], maps.shape[2], *size)
    count = maps.new_zeros(1, 1, *size)
    for k, (y1, y2, x1, x2) in enumerate(boxes):
        total[..., y1:y2, x1:x2] += maps[:, k]
        count[..., y1:y2, x1:x2] += 1
    return total / count


def slide_inference(encode: Callable[[Tensor], Tensor], inputs: Tensor, crop_size: tuple[int, int],
                    stride: tuple[int, int], size: Optional[tuple[int, int]] = None,
                    global_view: bool = False) -> Tensor:
    """Maps ``(B, C, H, W)`` of images ``(B, 3, H, W)`` averaged over sliding windows.

    Args:
        encode: views ``(V, 3, hc, wc)`` -> maps ``(V, C, hc, wc)`` at the view's size; called once with the
            views of all images.
        size: resize the images (bilinear) to ``(H', W')`` first and the result back to ``(H, W)``.
        global_view: add the whole (resized) image at the window size; its map, upsampled, is averaged
            with the windows' mean.
    """
    b, _, h, w = inputs.shape
    images = inputs if size is None else F.interpolate(inputs, size=size, mode='bilinear', align_corners=False)
    grid = tuple(images.shape[-2:])
    boxes = window_boxes(grid, crop_size, stride)
    views = [images[..., y1:y2, x1:x2] for y1, y2, x1, x2 in boxes]
    if global_view:
        crop = (boxes[0][1] - boxes[0][0], boxes[0][3] - boxes[0][2])  # smaller when the image is
        views.append(F.interpolate(images, size=crop, mode='bilinear', align_corners=False))
    maps = encode(torch.stack(views, dim=1).flatten(0, 1)).unflatten(0, (b, len(views)))  # (B, V, C, hc, wc)
    out = average_windows(maps, boxes, grid)
    if global_view:
        out = (out + F.interpolate(maps[:, -1], size=grid, mode='bilinear', align_corners=False)) / 2
    if size is not None:
        out = F.interpolate(out, size=(h, w), mode='bilinear', align_corners=False)
    return out

