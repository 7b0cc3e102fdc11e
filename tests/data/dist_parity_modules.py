"""A hook for the 1-process / 2-process parity tests (tests/test_distributed_cpu.py).

Imported through ``custom_imports`` (with ``tests/data`` on ``PYTHONPATH``).
"""
import json
import os.path as osp
from typing import Optional

import torch
from mmdet.models.task_modules.samplers import RandomSampler
from mmdet.registry import TASK_UTILS
from mmengine.dist import all_reduce, is_distributed
from mmengine.hooks import Hook

from mmdistill.registry import HOOKS


@HOOKS.register_module(force=True)
class GlobalLossRecorder(Hook):
    """Appends each iteration's loss terms averaged over the processes, and the gradient norm the
    optimiser saw (after DDP's averaging), to ``<work_dir>/global_losses.jsonl``."""

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs: Optional[dict] = None) -> None:
        names = sorted(k for k in outputs if k.startswith('loss'))
        values = torch.stack([torch.as_tensor(outputs[k], dtype=torch.float64).detach().cpu().reshape(())
                              for k in names])
        if is_distributed():
            all_reduce(values, op='mean')
        record = dict(zip(names, values.tolist()), iter=runner.iter + 1)
        grad_norm = runner.message_hub.log_scalars.get('train/grad_norm')
        if grad_norm is not None:
            record['grad_norm'] = float(grad_norm.current())
        if runner.rank == 0:
            with open(osp.join(runner.work_dir, 'global_losses.jsonl'), 'a') as f:
                f.write(json.dumps(record) + '\n')



@TASK_UTILS.register_module(force=True)
class FirstCandidatesSampler(RandomSampler):
    """The first ``num`` positives / negatives instead of a random choice: a sample's RoIs do not depend on
    the state of torch's global generator (which differs between a rank and a 1-process run)."""

    def random_choice(self, gallery, num: int):
        return gallery[:num]
