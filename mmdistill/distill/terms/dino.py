"""DINO's self-distillation loss with a centred, sharpened teacher (SILC's local-to-global term)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce, get_world_size
from torch import nn

from ...registry import MODELS


@MODELS.register_module()
class DINOLoss(nn.Module):
    """Cross-entropy from the centred, sharpened teacher to the student, over views of the same image.

    With head scores ``s`` (student rows ``i``) and ``t`` (teacher rows ``j``)::

        p_j = softmax((t_j - c) / tau_t)        q_i = log_softmax(s_i / tau_s)
        L = mean_{(i, j): source_i = source_j, i != j as views} -sum_k p_j[k] q_i[k]
        c <- m_c * c + (1 - m_c) * mean_j t_j   (after the loss, all ranks' rows)

    SILC: students are the local crops, teachers the global crops of an EMA teacher, so every
    local crop of image ``b`` is paired with every global crop of ``b``. When the student and the
    teacher read the same rows (DINO's global crops), pass ``same_views=True`` to skip the pairs
    of a view with itself. The teacher side is detached; the centre is a buffer (in checkpoints).

    Args:
        out_dim: ``K``, the head's number of prototypes.
        tau_s: student temperature (DINO: 0.1).
        tau_t: teacher temperature (DINO: 0.04, after a warm-up from 0.04 to 0.07).
        center_momentum: ``m_c`` (DINO: 0.9).
        scale: multiplies the head scores first (heads that give cosines in ``[-1, 1]``; DINO's
            head gives raw logits, so 1).
        same_views: the student and teacher rows are the same views (drop ``i == j``).
        loss_weight: applied by the distiller, not in :meth:`forward`.
    """

    inputs = ('student', 'teacher', 'student_source', 'teacher_source')

    def __init__(self, out_dim: int, tau_s: float = 0.1, tau_t: float = 0.04, center_momentum: float = 0.9,
                 scale: float = 1.0, same_views: bool = False, loss_weight: float = 1.0) -> None:
        super().__init__()
        if tau_s <= 0 or tau_t <= 0 or not 0 <= center_momentum < 1:
            raise ValueError(f'need positive temperatures and center_momentum in [0, 1), got '
                             f'{tau_s}, {tau_t}, {center_momentum}')
        self.tau_s, self.tau_t = tau_s, tau_t
        self.center_momentum = center_momentum
        self.scale = scale
        self.same_views = same_views
        self.loss_weight = loss_weight
        self.register_buffer('center', torch.zeros(1, out_dim))

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, student_source: torch.Tensor,
                teacher_source: torch.Tensor) -> torch.Tensor:
        """
        Args:
            student: ``(N_s, K)`` student head scores.
            teacher: ``(N_t, K)`` teacher head scores.
            student_source, teacher_source: ``(N_s,)``, ``(N_t,)`` source image of each row.

        Returns:
            Unweighted scalar loss.
        """
        if student.dim() != 2 or teacher.dim() != 2 or student.shape[1] != teacher.shape[1] != self.center.shape[1]:
            raise ValueError(f'student and teacher must be (N, {self.center.shape[1]}), got '
                             f'{tuple(student.shape)} and {tuple(teacher.shape)}')
        teacher = teacher.detach().float() * self.scale
        p = F.softmax((teacher - self.center) / self.tau_t, dim=-1)  # (N_t, K)
        log_q = F.log_softmax(student.float() * self.scale / self.tau_s, dim=-1)  # (N_s, K)
        pairs = (student_source.to(teacher.device)[:, None] == teacher_source.to(teacher.device)[None]).float()
        if self.same_views:
            pairs.fill_diagonal_(0)
        cross = -(log_q @ p.t())  # (N_s, N_t): H(p_j, q_i)
        loss = (cross * pairs).sum() / pairs.sum().clamp(min=1)
        if self.training:
            self.update_center(teacher)
        return loss

    @torch.no_grad()
    def update_center(self, teacher: torch.Tensor) -> None:
        """``c <- m_c c + (1 - m_c) mean(teacher)``, the mean over the rows of all ranks."""
        total = teacher.sum(0, keepdim=True)
        count = torch.tensor(float(len(teacher)), device=teacher.device)
        if get_world_size() > 1:
            all_reduce(total)
            all_reduce(count)
        self.center.mul_(self.center_momentum).add_(total / count.clamp(min=1), alpha=1 - self.center_momentum)
