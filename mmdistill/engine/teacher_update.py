"""Teachers that follow the student: the update after each optimiser step, as a hook a config names."""
from __future__ import annotations

from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ..registry import HOOKS
from .loss_guard import SKIPPED_INFO


@HOOKS.register_module()
class TeacherUpdateHook(Hook):
    """After each training iteration, ``model.update_teachers()``: a distiller's EMA teachers average the
    student's tower and heads (``theta_t <- (1 - m) theta_t + m theta_s``, :class:`~mmdistill.distill.EMATeacher`).

    A step that :class:`~mmdistill.engine.LossGuardHook` skipped for a non-finite loss moves no teacher. The
    update runs on every process (after DDP's step the students are equal, so are the teachers) and before
    the checkpoint of the iteration is saved, so a checkpoint never owes an update. Models without
    ``update_teachers`` (no teachers to move) are left alone, so ``tools/train.py`` adds the hook to every
    config.
    """

    priority = 'ABOVE_NORMAL'  # after LossGuardHook, before CheckpointHook

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs: Optional[dict] = None) -> None:
        if runner.message_hub.get_info(SKIPPED_INFO, False):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        update = getattr(model, 'update_teachers', None)
        if update is not None:
            update()
