"""The losses of C2S (paper 003): prototypes (Sec. 3.2, Eq. 3), the NEL pixel loss (Eq. 5) and Table 4's
residual distillation head."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce, get_world_size
from torch import nn
from torchvision.ops import sigmoid_focal_loss


def global_prototypes(features: torch.Tensor, cls_tokens: torch.Tensor) -> torch.Tensor:
    """``F_g = softmax(C_g^T F / sqrt(D)) F^T`` (Sec. 3.2): each image's features weighted by its CLS token.

    Args:
        features: ``(B, D, h, w)`` student features ``F``.
        cls_tokens: ``(B, D)`` teacher global CLS tokens ``C_g``.

    Returns:
        ``(B, D)``.
    """
    flat = features.flatten(2)  # (B, D, L)
    weights = torch.einsum('bd,bdl->bl', cls_tokens.to(flat.dtype), flat).div(math.sqrt(flat.shape[1])).softmax(-1)
    return torch.einsum('bl,bdl->bd', weights, flat)


def class_prototypes(features: torch.Tensor, labels: torch.Tensor, num_classes: int,
                     ignore_index: int = 255) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 3: the mean feature of each class of each image.

    Args:
        features: ``(B, D, h, w)``.
        labels: ``(B, h, w)`` long in ``[0, num_classes)`` or ``ignore_index``.

    Returns:
        prototypes ``(B, num_classes, D)`` (zero for absent classes) and ``present`` ``(B, num_classes)`` bool.
    """
    valid = labels != ignore_index
    onehot = F.one_hot(torch.where(valid, labels, 0).flatten(1), num_classes).to(features.dtype)
    onehot = onehot * valid.flatten(1)[..., None].to(features.dtype)  # (B, L, C)
    counts = onehot.sum(1)  # (B, C)
    sums = onehot.transpose(1, 2) @ features.flatten(2).transpose(1, 2)  # (B, C, D)
    return sums / counts.clamp(min=1)[..., None], counts > 0


def per_process_count(count: torch.Tensor) -> torch.Tensor:
    """The total of ``count`` over all processes (at least 1) divided by their number.

    A process's sum divided by it, averaged over the processes (as DDP averages gradients), is the sum over
    the global batch divided by its count: the loss a single process would compute on the whole batch,
    however the batch is split. With one process it is ``max(count, 1)``.
    """
    total = count.detach().float().clone()
    world_size = get_world_size()
    if world_size > 1:
        all_reduce(total)
    return total.clamp(min=1) / world_size


def nel_loss(logits: torch.Tensor, labels: torch.Tensor, valid_classes: torch.Tensor, ignore_index: int = 255,
             focal_weight: float = 100.0, dice_weight: float = 1.0) -> torch.Tensor:
    """NEL as ZegCLIP uses it: ``focal_weight`` x sigmoid focal loss (alpha 0.25, gamma 2) + ``dice_weight`` x dice.

    The focal loss runs over every valid class map of every image (one-hot targets) and the dice loss over the
    (image, class) pairs present in the labels; each map's loss is its mean over non-ignored pixels, and both
    sums are divided by the number of present pairs (over all processes: :func:`per_process_count`).

    Args:
        logits: ``(B, C, H, W)``.
        labels: ``(B, H, W)`` long in ``[0, C)`` or ``ignore_index``.
        valid_classes: ``(B, C)`` bool: the maps that exist for each image (latent classes vary per image).
    """
    b, c = logits.shape[:2]
    pixels = (labels != ignore_index).flatten(1)  # (B, P)
    targets = F.one_hot(torch.where(pixels.view_as(labels), labels, 0).flatten(1), c).transpose(1, 2)
    targets = (targets * pixels[:, None]).to(logits.dtype)  # (B, C, P)
    flat = logits.flatten(2).masked_fill(~valid_classes[..., None], 0.0)  # (B, C, P)
    area = pixels.sum(1).clamp(min=1)[:, None].to(logits.dtype)  # (B, 1)
    present = (targets.sum(-1) > 0) & valid_classes
    num_pairs = per_process_count(present.sum())
    focal = sigmoid_focal_loss(flat, targets, alpha=0.25, gamma=2.0, reduction='none')
    focal = (focal * pixels[:, None]).sum(-1) / area * valid_classes  # (B, C)
    probs = flat.sigmoid() * pixels[:, None]
    dice = 1 - (2 * (probs * targets).sum(-1) + 1) / (probs.sum(-1) + targets.sum(-1) + 1)  # (B, C)
    return (focal_weight * focal.sum() + dice_weight * (dice * present).sum()) / num_pairs


class ResidualProjector(nn.Module):
    """FROSTER's residual feature distillation head (Huang et al., ICLR 2024; paper 003 Table 4).

    ``p' = p + alpha MLP(p)`` with ``MLP = Linear(D, hidden) - GELU - Linear(hidden, D)`` applied to the student's
    prototypes before the distillation loss only (the features ``F`` and the rest of the loss never see it), so the
    student may keep its own features while a small residual branch meets the teacher. The last layer starts at
    zero: training begins from the identity.

    Args:
        dim: ``D``.
        alpha: weight of the residual branch.
        hidden_dim: width of the MLP; default ``D``.
    """

    def __init__(self, dim: int, alpha: float = 0.1, hidden_dim: int | None = None) -> None:
        super().__init__()
        hidden_dim = hidden_dim or dim
        self.alpha = alpha
        self.mlp = nn.Sequential(nn.Linear(dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, dim))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, prototypes: torch.Tensor) -> torch.Tensor:
        """``(N, D)`` -> ``(N, D)``."""
        return prototypes + self.alpha * self.mlp(prototypes)
