"""Region and mask pooling of dense maps: the one implementation the project uses.

Boxes are ``(x1, y1, x2, y2)`` in input pixels; masks are in input pixels too.
All boxes (masks) of a batch are pooled in one call, no loop over boxes.
"""
from __future__ import annotations

from typing import Sequence, Union

import torch
import torch.nn.functional as F
from torchvision.ops import roi_align

BoxList = Union[torch.Tensor, Sequence[torch.Tensor]]


def boxes_to_rois(boxes: BoxList, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``list[(N_i, 4)]`` or ``(K, 5)`` (batch index first) -> ``(K, 5)`` rois."""
    if isinstance(boxes, torch.Tensor):
        if boxes.dim() != 2 or boxes.shape[1] != 5:
            raise ValueError(f'rois must be (K, 5) [batch_idx, x1, y1, x2, y2], got {tuple(boxes.shape)}')
        return boxes.to(device=device, dtype=dtype)
    idx = torch.cat([torch.full((len(b),), i, device=device, dtype=dtype) for i, b in enumerate(boxes)])
    cat = torch.cat([b.to(device=device, dtype=dtype).reshape(-1, 4) for b in boxes]) if len(boxes) else \
        torch.zeros(0, 4, device=device, dtype=dtype)
    return torch.cat([idx[:, None], cat], dim=1)


def check_rois(rois: torch.Tensor, image_size: tuple[int, int]) -> None:
    """Raise a ValueError naming the first zero-area or out-of-image box."""
    h, w = image_size
    x1, y1, x2, y2 = rois[:, 1:].unbind(1)
    empty = (x2 <= x1) | (y2 <= y1)
    outside = (x1 < 0) | (y1 < 0) | (x2 > w) | (y2 > h)
    for bad, what in ((empty, 'has zero or negative area'), (outside, f'lies outside the {w}x{h} input')):
        if bool(bad.any()):
            k = int(bad.nonzero()[0, 0])
            raise ValueError(f'box {k} (image {int(rois[k, 0])}) {rois[k, 1:].tolist()} {what}; '
                             f'{int(bad.sum())} such boxes in all (boxes are x1, y1, x2, y2 in input pixels)')


def roi_embeddings(dense: torch.Tensor, boxes: BoxList, stride: int, image_size: tuple[int, int],
                   output_size: int = 1, validate: bool = True) -> torch.Tensor:
    """RoIAlign of a dense map over boxes.

    Args:
        dense: ``(B, D, h, w)`` map whose cell ``(i, j)`` covers input pixels
            ``[j * stride, (j + 1) * stride)`` horizontally.
        boxes: per image ``(N_i, 4)`` boxes, or ``(K, 5)`` rois, in input pixels.
        stride: input pixels per cell (the patch size).
        image_size: ``(H, W)`` of the input, for validation.
        output_size: ``1`` gives ``(K, D)``; ``L > 1`` gives ``(K, L * L, D)`` tokens.
    """
    rois = boxes_to_rois(boxes, dense.device, dense.dtype)
    if validate:
        check_rois(rois, image_size)
    out = roi_align(dense, rois, output_size=output_size, spatial_scale=1.0 / stride,
                    sampling_ratio=-1, aligned=True)  # (K, D, L, L)
    return out.flatten(2).squeeze(2) if output_size == 1 else out.flatten(2).transpose(1, 2)


def masks_to_grid(masks: torch.Tensor, stride: int, grid: tuple[int, int]) -> torch.Tensor:
    """``(K, H, W)`` input-pixel masks -> ``(K, h, w)`` fraction of each cell the mask covers."""
    h, w = grid
    masks = masks[:, :h * stride, :w * stride].float()
    pad_h, pad_w = h * stride - masks.shape[1], w * stride - masks.shape[2]
    if pad_h or pad_w:
        masks = F.pad(masks, (0, pad_w, 0, pad_h))
    return F.avg_pool2d(masks[:, None], kernel_size=stride)[:, 0]


def mask_embeddings(dense: torch.Tensor, masks: Sequence[torch.Tensor], stride: int) -> torch.Tensor:
    """Mean of a dense map over masks, weighted by each cell's mask coverage.

    Args:
        dense: ``(B, D, h, w)``.
        masks: per image ``(N_i, H, W)`` boolean masks in input pixels.
    Returns:
        ``(sum N_i, D)``.
    """
    b, d, h, w = dense.shape
    counts = [len(m) for m in masks]
    if sum(counts) == 0:
        return dense.new_zeros(0, d)
    weights = masks_to_grid(torch.cat([m.reshape(-1, *m.shape[-2:]) for m in masks]).to(dense.device),
                            stride, (h, w)).flatten(1)  # (K, h*w)
    area = weights.sum(1)
    if bool((area <= 0).any()):
        k = int((area <= 0).nonzero()[0, 0])
        raise ValueError(f'mask {k} is empty on the {h}x{w} feature grid (masks are in input pixels)')
    image_of = torch.repeat_interleave(torch.arange(b, device=dense.device),
                                       torch.tensor(counts, device=dense.device))
    # Block-diagonal weights: one matmul pools every mask of every image.
    block = weights.new_zeros(len(weights), b, h * w)
    block[torch.arange(len(weights), device=dense.device), image_of] = weights
    pooled = block.flatten(1).to(dense.dtype) @ dense.flatten(2).transpose(1, 2).reshape(b * h * w, d)
    return pooled / area[:, None].to(dense.dtype)


def square_boxes(boxes: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``(..., 4)`` boxes -> squares of side ``scale * max(w, h)`` with the same centres."""
    cx, cy = (boxes[..., 0] + boxes[..., 2]) / 2, (boxes[..., 1] + boxes[..., 3]) / 2
    half = scale * torch.maximum(boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]) / 2
    return torch.stack([cx - half, cy - half, cx + half, cy + half], dim=-1)


def crop_and_resize(images: torch.Tensor, boxes: BoxList, size: tuple[int, int], scale: float = 1.0,
                    square: bool = True, letterbox: bool = True) -> torch.Tensor:
    """Cut every box out of its image and resize it to ``size``, all in one call.

    The box is first scaled by ``scale`` about its centre. With ``square=True`` the crop is
    the square of side ``max(w, h)`` around the box; with ``letterbox=True`` only the box's
    own content is kept (CLIPSelf's teacher crops): resized so its longest side fills
    ``size``, centred, the rest zero (the mean colour of normalised images); with
    ``letterbox=False`` the square keeps the image's pixels around the box.
    With ``square=False`` the box is stretched to ``size``, so output pixel (i, j)
    lies at the same relative position as cell (i, j) of a RoIAlign grid over the
    box (targets aligned token to token). Pixels outside the image are 0. Each
    output pixel averages the input pixels it covers (adaptive sampling), so
    shrinking is anti-aliased.

    Args:
        images: ``(B, 3, H, W)``.
        boxes: per image ``(N_i, 4)`` or ``(K, 5)`` rois, input pixels.
    Returns:
        ``(K, 3, size[0], size[1])``.
    """
    rois = boxes_to_rois(boxes, images.device, images.dtype)
    box = scale_boxes(rois[:, 1:], scale) if scale != 1.0 else rois[:, 1:]
    if not square:
        return roi_align(images, torch.cat([rois[:, :1], box], 1), output_size=size, spatial_scale=1.0,
                         sampling_ratio=-1, aligned=True)
    sq = square_boxes(box)
    crops = roi_align(images, torch.cat([rois[:, :1], sq], 1), output_size=size, spatial_scale=1.0,
                      sampling_ratio=-1, aligned=True)
    if not letterbox:
        return crops
    side = (sq[:, 2] - sq[:, 0]).clamp(min=1e-6)[:, None]
    # the box's footprint in output pixels; everything else is padding
    x0, x1 = [(box[:, i] - sq[:, 0])[:, None] / side * size[1] for i in (0, 2)]
    y0, y1 = [(box[:, i] - sq[:, 1])[:, None] / side * size[0] for i in (1, 3)]
    cx = torch.arange(size[1], device=images.device, dtype=images.dtype)[None] + 0.5
    cy = torch.arange(size[0], device=images.device, dtype=images.dtype)[None] + 0.5
    inside = ((cy >= y0) & (cy <= y1))[:, :, None] & ((cx >= x0) & (cx <= x1))[:, None, :]
    return crops * inside[:, None].to(crops.dtype)


def scale_boxes(boxes: torch.Tensor, factor: float) -> torch.Tensor:
    """``(N, 4)`` boxes scaled ``factor`` times about their centres (not clipped)."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * factor / 2
    return torch.cat([centre - half, centre + half], dim=1)
