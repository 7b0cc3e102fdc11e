"""The losses of C2S (CLIP-to-Seg distillation, paper 003): prototypes (Sec. 3.2, Eq. 3), the distillation terms
(Eq. 2 / 4 and Table 4's alternatives), the pixel terms of Eq. 5 (NEL, cross-entropy) and Table 4's residual
distillation head.

The terms are registered in mmseg's ``MODELS`` (C2S configs run under the ``mmseg`` scope) and named by
``dict(type=...)`` in a config, as the distiller's terms are. Each term keeps its ``loss_weight``, applied by
:class:`~mmdistill.seg.c2s.C2SSegmentor`, and returns an unweighted scalar.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce, get_world_size
from mmseg.registry import MODELS
from torch import nn
from torchvision.ops import sigmoid_focal_loss

from ...models.contrastive import info_nce

IGNORED_PIXELS = ('negative', 'excluded')


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
             focal_weight: float = 100.0, dice_weight: float = 1.0, ignored_pixels: str = 'negative',
             alpha: float = 0.25, gamma: float = 2.0) -> torch.Tensor:
    """NEL (ZegCLIP, Zhou et al., CVPR 2023; C2S Eq. 5): ``focal_weight`` x sigmoid focal + ``dice_weight``
    x dice.

    With ``x_bcp`` the logit of class ``c`` at pixel ``p`` of image ``b``, ``t_bcp = 1(y_bp = c)`` (0 at ignored
    pixels), ``s = sigmoid(x)``, ``V`` the valid (image, class) maps, ``Q`` the present ones (``sum_p t_bcp > 0``)
    and ``N_Q = |Q|`` counted over all processes (:func:`per_process_count`)::

        focal_bc = 1 / |P_b| sum_{p in P_b} FL(x_bcp, t_bcp)          FL: alpha-balanced focal, exponent gamma
        dice_bc  = 1 - (2 sum_{p in P_b} s_bcp t_bcp + 1) / (sum_{p in P_b} s_bcp + sum_{p in P_b} t_bcp + 1)
        NEL      = (focal_weight sum_{V} focal_bc + dice_weight sum_{Q} dice_bc) / N_Q

    ``ignored_pixels`` chooses the pixel set ``P_b``:

    * ``'negative'`` (ZegCLIP's code): every pixel of the image; an ignored pixel is a negative of every
      class, in the focal mean and in the dice denominator. In the inductive setting the ignored pixels are
      the unseen (and, for C2S, the unmined) ones: the student learns to score them low on every seen class.
    * ``'excluded'``: the labelled pixels only; ignored pixels take no part (an image with none adds nothing).

    Args:
        logits: ``(B, C, H, W)``.
        labels: ``(B, H, W)`` long in ``[0, C)`` or ``ignore_index``.
        valid_classes: ``(B, C)`` bool: the maps that exist for each image (latent classes vary per image).

    Returns:
        Scalar.
    """
    if ignored_pixels not in IGNORED_PIXELS:
        raise ValueError(f'ignored_pixels must be one of {IGNORED_PIXELS}, got {ignored_pixels!r}')
    labelled = (labels != ignore_index).flatten(1)  # (B, P)
    targets = F.one_hot(torch.where(labelled, labels.flatten(1), 0), logits.shape[1]).transpose(1, 2)
    targets = (targets * labelled[:, None]).to(logits.dtype)  # (B, C, P)
    flat = logits.flatten(2).masked_fill(~valid_classes[..., None], 0.0)  # (B, C, P)
    present = (targets.sum(-1) > 0) & valid_classes  # (B, C)
    focal = sigmoid_focal_loss(flat, targets, alpha=alpha, gamma=gamma, reduction='none')  # (B, C, P)
    probs = flat.sigmoid()
    if ignored_pixels == 'excluded':
        weights = labelled[:, None].to(logits.dtype)  # (B, 1, P)
        focal = (focal * weights).sum(-1) / labelled.sum(1, keepdim=True).clamp(min=1)  # (B, C)
        probs = probs * weights
    else:
        focal = focal.mean(-1)  # (B, C)
    dice = 1 - (2 * (probs * targets).sum(-1) + 1) / (probs.sum(-1) + targets.sum(-1) + 1)  # (B, C)
    total = focal_weight * (focal * valid_classes).sum() + dice_weight * (dice * present).sum()
    return total / per_process_count(present.sum())


@MODELS.register_module()
class NELLoss(nn.Module):
    """NEL as a C2S pixel term: :func:`nel_loss` on ``X_logits = cat(X_s, X_u)`` against the pseudo masks.

    Args:
        focal_weight / dice_weight: ZegCLIP's 100 and 1.
        alpha / gamma: the focal loss's balance and exponent (0.25, 2).
        ignored_pixels: ``'negative'`` (ZegCLIP's form, every pixel counts, ignored ones as negatives of every
            class) or ``'excluded'`` (labelled pixels only).
        loss_weight: applied by the segmentor, not in :meth:`forward`.
    """

    def __init__(self, focal_weight: float = 100.0, dice_weight: float = 1.0, alpha: float = 0.25,
                 gamma: float = 2.0, ignored_pixels: str = 'negative', loss_weight: float = 1.0) -> None:
        super().__init__()
        if ignored_pixels not in IGNORED_PIXELS:
            raise ValueError(f'ignored_pixels must be one of {IGNORED_PIXELS}, got {ignored_pixels!r}')
        self.focal_weight, self.dice_weight = focal_weight, dice_weight
        self.alpha, self.gamma = alpha, gamma
        self.ignored_pixels = ignored_pixels
        self.loss_weight = loss_weight

    def forward(self, logits: torch.Tensor, labels: torch.Tensor, valid_classes: torch.Tensor,
                ignore_index: int = 255) -> torch.Tensor:
        """``(B, C, H, W)`` logits, ``(B, H, W)`` labels, ``(B, C)`` valid maps -> unweighted scalar."""
        return nel_loss(logits, labels, valid_classes, ignore_index, self.focal_weight, self.dice_weight,
                        self.ignored_pixels, self.alpha, self.gamma)


@MODELS.register_module()
class PixelCrossEntropyLoss(nn.Module):
    """The cross-entropy of Eq. 5 over each image's valid classes::

        CE = -sum_{b, p labelled} log softmax_{c in V_b}(x_bcp)[y_bp] / N_labelled

    Classes not valid for an image (``-inf`` logits) take no part, ignored pixels neither; ``N_labelled`` is the
    number of labelled pixels over all processes (:func:`per_process_count`), so that 2 processes give the loss
    and gradients of 1 process with the same global batch, and an image with no labelled pixel adds nothing.

    Args:
        loss_weight: applied by the segmentor, not in :meth:`forward`.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, logits: torch.Tensor, labels: torch.Tensor, valid_classes: torch.Tensor,
                ignore_index: int = 255) -> torch.Tensor:
        """``(B, C, H, W)`` logits, ``(B, H, W)`` labels, ``(B, C)`` valid classes -> unweighted scalar."""
        masked = logits.masked_fill(~valid_classes[..., None, None], float('-inf'))
        ce = F.cross_entropy(masked, labels, ignore_index=ignore_index, reduction='sum')
        return ce / per_process_count((labels != ignore_index).sum())


class PrototypeLoss(nn.Module):
    """A C2S distillation term: student prototypes ``(N, D)`` against teacher CLS tokens ``(M, D)``, ``positive``
    ``(N,)`` indexing each prototype's own token (global: the bank slot of its image's CLS token, Eq. 2;
    local: the masked image's CLS token of its (image, class) pair, Eq. 4). ``N = 0`` gives ``0 * sum`` (keeps
    the graph for DDP). The tokens are the teacher's (no gradient) unit vectors.

    Args:
        loss_weight: applied by the segmentor, not in :meth:`forward`.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight


@MODELS.register_module()
class PrototypeInfoNCELoss(PrototypeLoss):
    """Eq. 2 / 4, InfoNCE (:func:`~mmdistill.models.contrastive.info_nce`)::

        L = -1/N sum_i log( exp(s(f_i, c_{pos_i}) / tau) / sum_j exp(s(f_i, c_j) / tau) )

    with ``s(f, c) = f^T c`` (``normalize=False``: the paper's plain dot product ``F_g^T c_i / tau``, the
    prototype keeps its norm) or ``s(f, c) = cos(f, c)`` (``normalize=True``: prototypes and tokens
    L2-normalised first). The paper writes the ratio without the log; this is the standard InfoNCE.

    Args:
        tau: temperature (0.07).
        normalize: cosine logits instead of the paper's dot products.
        loss_weight: applied by the segmentor.
    """

    def __init__(self, tau: float = 0.07, normalize: bool = False, loss_weight: float = 1.0) -> None:
        super().__init__(loss_weight)
        if tau <= 0:
            raise ValueError(f'tau must be positive, got {tau}')
        self.tau, self.normalize = tau, normalize

    def forward(self, prototypes: torch.Tensor, tokens: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
        """``(N, D)``, ``(M, D)``, ``(N,)`` -> unweighted scalar."""
        return info_nce(prototypes, tokens.detach().to(prototypes.dtype), positive, self.tau, normalize=self.normalize)


@MODELS.register_module()
class PrototypeCosineLoss(PrototypeLoss):
    """Table 4 "Cosine Similarity": ``1 - 1/N sum_i cos(f_i, c_{pos_i})`` (the positive alone, no negatives)."""

    def forward(self, prototypes: torch.Tensor, tokens: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
        """``(N, D)``, ``(M, D)``, ``(N,)`` -> unweighted scalar."""
        if prototypes.shape[0] == 0:
            return prototypes.sum() * 0.0
        target = tokens.detach().to(prototypes.dtype)[positive]
        return 1 - F.cosine_similarity(prototypes, target, dim=-1).mean()


@MODELS.register_module()
class PrototypeL2Loss(PrototypeLoss):
    """Table 4 "L2 Loss" (``normalize=False``): ``1/N sum_i ||f_i - c_{pos_i}||^2``; with ``normalize=True`` the
    prototypes are L2-normalised first (distances between unit vectors, as Table 4's "Froster" with a
    :class:`ResidualProjector`).

    Args:
        normalize: L2-normalise the prototypes (the tokens are unit vectors already).
        loss_weight: applied by the segmentor.
    """

    def __init__(self, normalize: bool = False, loss_weight: float = 1.0) -> None:
        super().__init__(loss_weight)
        self.normalize = normalize

    def forward(self, prototypes: torch.Tensor, tokens: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
        """``(N, D)``, ``(M, D)``, ``(N,)`` -> unweighted scalar."""
        if prototypes.shape[0] == 0:
            return prototypes.sum() * 0.0
        if self.normalize:
            prototypes = F.normalize(prototypes, dim=-1)
        target = tokens.detach().to(prototypes.dtype)[positive]
        return (prototypes - target).pow(2).sum(-1).mean()


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
