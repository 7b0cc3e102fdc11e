"""Weight-space ensemble of a distilled image tower with the CLIP it started from.

CLIPSelf's released weights are ``alpha * student + (1 - alpha) * teacher`` over
the image tower (alpha 0.7 for ViT-B, 0.95 for ViT-L); the text tower and
``logit_scale`` stay those of the original CLIP.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch

from .builder import build_clip_model
from .export import check_state_dicts_match, replace_weights, save_checkpoint_atomic, tower_weights


def check_alpha(alpha: float) -> float:
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha must be in [0, 1] (weight of the student), got {alpha}')
    return float(alpha)


def ensemble_state_dicts(student: Mapping[str, torch.Tensor], teacher: Mapping[str, torch.Tensor],
                         alpha: float) -> dict[str, torch.Tensor]:
    """``alpha * student + (1 - alpha) * teacher`` key by key (keys and shapes must match).

    ``torch.lerp`` keeps the ends exact: alpha 1 gives the student, alpha 0 the
    teacher, and a key the student never changed (frozen) gives the teacher's
    tensor bit for bit. Non-floating tensors are the teacher's.
    """
    alpha = check_alpha(alpha)
    check_state_dicts_match(teacher, student, 'student and teacher weights differ')
    out = {}
    for key, t in teacher.items():
        s = student.get(key, t)  # a buffer the tower rebuilds itself (RoPE, attention mask): the teacher's
        if not t.is_floating_point():
            out[key] = t
            continue
        dtype = torch.promote_types(t.dtype, torch.float32)
        out[key] = torch.lerp(t.to(dtype), s.to(dtype), alpha).to(t.dtype)
    return out


def ensemble_checkpoints(student: str, original: str, arch: str, out: str, alpha: float,
                         student_prefix: str = 'student.') -> str:
    """Write ``out``: the open_clip checkpoint of ``arch`` with the ensembled image tower.

    Args:
        student: mmengine checkpoint of a distiller (tower weights under
            ``student_prefix``) or an open_clip-format file.
        original: the CLIP checkpoint distillation started from (open_clip,
            OpenAI or EVA-CLIP layout); gives the teacher tower and everything
            outside the image tower.
        alpha: weight of the student, in [0, 1].
    """
    alpha = check_alpha(alpha)
    model = build_clip_model(arch, original)
    teacher = model.state_dict()
    distilled = replace_weights(model, tower_weights(student, student_prefix),
                                f'student {student!r} (prefix {student_prefix!r})')
    return save_checkpoint_atomic(ensemble_state_dicts(distilled, teacher, alpha), out)
