"""Region-to-CLS alignment (CLIPSelf), also CLS-to-CLS (ATAS global-to-global)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...registry import MODELS
from ...utils import at_least_float32
from .checks import check_pair, zero_loss


@MODELS.register_module()
class RegionToCLSLoss(nn.Module):
    """``1 - mean_k cos(student_k, teacher_k)`` over paired embeddings.

    CLIPSelf: ``student`` is the RoIAlign (1x1) of the student's dense map over
    box ``k``, ``teacher`` the frozen CLIP image embedding (CLS) of the crop of
    box ``k`` encoded alone. The same math serves ATAS global-to-local (tile
    pooled <- tile CLS) and global-to-global (student image CLS <- teacher
    image CLS): only what the caller passes changes.

    With ``K = 0`` (no valid box in the whole batch) the loss is ``0 * sum(student)``:
    a zero that keeps the graph connected to the student, so every DDP rank
    runs the same backward and none waits for gradients that never come.
    The teacher side is detached.

    Args:
        loss_weight: applied by the distiller, not in :meth:`forward`
            (CLIPSelf uses 1.0).
    """

    inputs = ('student', 'teacher')

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        """
        Args:
            student: ``(K, D)`` student region (or image) embeddings.
            teacher: ``(K, D)`` teacher embeddings, paired row by row.

        Returns:
            Unweighted scalar loss.
        """
        check_pair(student, teacher, 'K, D', ('student', 'teacher'))
        if student.shape[0] == 0:
            return zero_loss(student)
        student = at_least_float32(student)  # bfloat16 forwards: the loss in float32
        cos = (F.normalize(student, dim=-1) * F.normalize(teacher.detach().to(student.dtype), dim=-1)).sum(-1)
        return 1.0 - cos.mean()
