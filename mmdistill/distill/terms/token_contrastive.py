"""Token-to-token alignment within a group: Refiner training (paper 001 Eq. 13 / 14), ATAS local-to-local."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...registry import MODELS
from .checks import check_pair, zero_loss


@MODELS.register_module()
class TokenContrastiveLoss(nn.Module):
    """Align token ``j`` of ``pred[k]`` with token ``j`` of ``target[k]``.

    ``mode='infonce'`` (Eq. 13, App. C.2)::

        -mean_k mean_j log softmax_l(pred[k, j] . target[k, l] / tau)[j]

    positives on the diagonal, the other ``L - 1`` tokens of the same group
    (crop) as negatives; no negatives across groups. Eq. 13 is one-directional
    (pred token against target tokens); ``symmetric=True`` averages it with the
    target-to-pred direction.
    ``mode='cosine'`` (Eq. 14): ``1 - mean_k mean_j cos(pred[k, j], target[k, j])``
    (Eq. 14 writes ``-mean cos``; the constant changes nothing but the value).
    Targets are detached. ``K = 0`` gives ``0 * sum(pred)`` (keeps the graph for DDP).

    Args:
        mode: ``'infonce'`` or ``'cosine'``.
        tau: InfoNCE temperature. Eq. 13 has none, i.e. ``tau = 1`` on raw dot
            products, which is the default. If the inputs are L2-normalised
            (``normalize=True``, or the tower's normalised dense maps), logits
            lie in ``[-1, 1]`` and a smaller ``tau`` (e.g. 0.1) is needed for
            a sharp contrast: the paper gives no value.
        normalize: L2-normalise tokens before the dot products (InfoNCE only;
            the paper does not normalise).
        symmetric: also contrast each target token against all pred tokens.
        loss_weight: applied by the distiller, not in :meth:`forward`.
    """

    inputs = ('pred', 'target')

    def __init__(self, mode: str = 'infonce', tau: float = 1.0, normalize: bool = False, symmetric: bool = False,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if mode not in ('infonce', 'cosine'):
            raise ValueError(f"mode must be 'infonce' or 'cosine', got {mode!r}")
        if tau <= 0:
            raise ValueError(f'tau must be positive, got {tau}')
        self.mode = mode
        self.tau = tau
        self.normalize = normalize
        self.symmetric = symmetric
        self.loss_weight = loss_weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """
        Args:
            pred: ``(K, L, D)`` predicted tokens (Refiner output, student tokens).
            target: ``(K, L, D)`` target tokens of the same ``K`` groups
                (frozen CLIP dense tokens of each crop encoded alone).

        Returns:
            Unweighted scalar loss.
        """
        check_pair(pred, target, 'K, L, D', ('pred', 'target'))
        if pred.shape[0] == 0:
            return zero_loss(pred)
        target = target.detach()
        if self.mode == 'cosine':
            return 1.0 - F.cosine_similarity(pred, target, dim=-1).mean()
        if self.normalize:
            pred, target = F.normalize(pred, dim=-1), F.normalize(target, dim=-1)
        num_groups, num_tokens = pred.shape[:2]
        logits = pred @ target.transpose(1, 2) / self.tau  # (K, L, L): [k, j, l] = pred_kj . target_kl
        labels = torch.arange(num_tokens, device=pred.device).repeat(num_groups)  # (K * L,)
        loss = F.cross_entropy(logits.flatten(0, 1), labels)
        if self.symmetric:
            loss = (loss + F.cross_entropy(logits.transpose(1, 2).flatten(0, 1), labels)) / 2
        return loss
