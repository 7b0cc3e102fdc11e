"""Region-to-text alignment with teacher pseudo labels (RegionText of paper 001, after RegionCLIP)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...registry import MODELS
from .checks import check_pair, zero_loss


@MODELS.register_module()
class RegionToTextLoss(nn.Module):
    """RegionCLIP's region-concept losses on a fixed concept vocabulary.

    Paper 001 (Sec. 3.1, Eq. 1) adapts RegionCLIP's region-language alignment to
    CLIP fine-tuning and calls it RegionText, without giving its losses or
    weights; they are taken from RegionCLIP (Zhong et al., 2022), whose total
    is ``L_cntrst + L_dist (+ L_cntrst-img)`` with unit weights.

    With ``p_t = softmax(cos(teacher, text) / tau)`` and
    ``q_s = softmax(cos(student, text) / tau)`` over the ``C`` concepts:

    - pseudo label ``c_k = argmax p_t[k]``; region ``k`` is kept only if
      ``max p_t[k] > min_score``;
    - contrastive: ``mean_k -log q_s[k, c_k]``, i.e. cross-entropy of the student
      logits ``cos(student, text) / tau`` against the teacher's concept. RegionCLIP
      contrasts a region with the concepts matched in the batch; here the
      negatives are the whole vocabulary;
    - distillation: ``mean_k KL(p_t[k] || q_s[k])``;
    - loss ``= contrastive_weight * contrastive + distill_weight * distill``,
      both averaged over the kept regions.

    To log the two parts apart, configure two instances, one with each weight 0.
    If no region is kept the loss is ``0 * sum(student)`` (graph kept for DDP;
    RegionCLIP instead falls back to keeping all regions). Teacher and text are
    detached.

    Args:
        tau: temperature of both distributions; RegionCLIP's ``CLSS_TEMP`` and
            teacher matching temperature, 0.01 (CLIP's logit scale 100).
        min_score: confidence threshold on ``max p_t``; RegionCLIP's pretraining
            configs use ``CONCEPT_THRES = 0.1``. 0 keeps every region.
        contrastive_weight: weight of the pseudo-label term (RegionCLIP: 1).
        distill_weight: weight of the KL term (RegionCLIP: 1).
        loss_weight: applied by the distiller, not in :meth:`forward`.
    """

    inputs = ('student', 'teacher', 'text')

    def __init__(self, tau: float = 0.01, min_score: float = 0.1, contrastive_weight: float = 1.0,
                 distill_weight: float = 1.0, loss_weight: float = 1.0) -> None:
        super().__init__()
        if tau <= 0:
            raise ValueError(f'tau must be positive, got {tau}')
        if not 0.0 <= min_score < 1.0:
            raise ValueError(f'min_score must be in [0, 1), got {min_score}')
        self.tau = tau
        self.min_score = min_score
        self.contrastive_weight = contrastive_weight
        self.distill_weight = distill_weight
        self.loss_weight = loss_weight

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """
        Args:
            student: ``(K, D)`` student region embeddings (RoIAlign of the dense map).
            teacher: ``(K, D)`` frozen CLIP embeddings (CLS) of the region crops.
            text: ``(C, D)`` concept text embeddings (the vocabulary).

        Returns:
            Unweighted scalar loss.
        """
        check_pair(student, teacher, 'K, D', ('student', 'teacher'))
        if text.dim() != 2 or text.shape[0] == 0 or text.shape[1] != student.shape[1]:
            raise ValueError(f'text must be (C, D) with C >= 1 and D = {student.shape[1]} as the regions, '
                             f'got text {tuple(text.shape)} and student {tuple(student.shape)}')
        text = F.normalize(text.detach(), dim=-1)
        with torch.no_grad():
            p_t = F.softmax(F.normalize(teacher, dim=-1) @ text.t() / self.tau, dim=-1)  # (K, C)
            score, label = p_t.max(dim=-1)  # (K,)
            keep = score > self.min_score
        if not bool(keep.any()):
            return zero_loss(student)
        logits = F.normalize(student[keep], dim=-1) @ text.t() / self.tau  # (K', C)
        contrastive = F.cross_entropy(logits, label[keep])
        distill = F.kl_div(F.log_softmax(logits, dim=-1), p_t[keep], reduction='batchmean')
        return self.contrastive_weight * contrastive + self.distill_weight * distill
