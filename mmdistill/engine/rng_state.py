"""Random generator states in checkpoints, so that a resumed run draws what the uninterrupted one draws.

mmengine's checkpoints hold the model, optimiser, schedulers and the seed, but not the state of torch's
generator. A run resumed at iteration ``k`` reseeds it, so dropout, drop path and mmdet's RoI / anchor
samplers draw differently from iteration ``k + 1`` on. NumPy's and Python's generators, which the data
pipelines draw from, need nothing more: mmengine reseeds them and replays the pipeline over the ``k``
batches already trained (data loader workers are seeded per worker), so batch ``k + 1`` is drawn as before,
as long as the model itself does not draw from them (this project's models draw from torch only).
"""
from __future__ import annotations

import logging
from typing import Optional

import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import Hook
from mmengine.logging import print_log

from ..registry import HOOKS


def generator_states() -> dict:
    """The states of torch's global generators (CPU and, if present, CUDA)."""
    states = dict(torch=torch.get_rng_state())
    if torch.cuda.is_available():
        states['torch_cuda'] = torch.cuda.get_rng_state_all()
    return states


def set_generator_states(states: dict) -> None:
    """Restore what :func:`generator_states` returned."""
    torch.set_rng_state(states['torch'])
    if 'torch_cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['torch_cuda'])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Saves every process's torch generator states in checkpoints (``checkpoint['rng_states']``, one entry
    per rank) and restores them when a run resumes.

    They are restored just before the first iteration after the resume, once mmengine has reseeded (on
    the checkpoint's seed) and advanced the data loader past the iterations already trained. Loading weights
    (``load_from`` without ``resume``) restores nothing, nor does a checkpoint of a run with another number
    of processes (a warning says so). With several processes, the states are gathered after every
    iteration (rank 0 alone saves checkpoints). ``tools/train.py`` adds this hook to every config.
    """

    priority = 'LOW'  # after_train_iter before the CheckpointHook's (VERY_LOW)

    def __init__(self) -> None:
        self._pending: Optional[dict] = None
        self._gathered: Optional[list] = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """With several processes, collect every rank's states (checkpoints are saved by rank 0 alone)."""
        if get_dist_info()[1] > 1:
            self._gathered = all_gather_object(generator_states())

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        gathered = self._gathered if get_dist_info()[1] > 1 else None
        checkpoint['rng_states'] = gathered if gathered is not None else [generator_states()]

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('rng_states')
        if saved is None or not getattr(runner, '_resume', False):  # ``load_from`` starts a new run
            return
        rank, world_size = get_dist_info()
        if len(saved) != world_size:
            print_log(f'the checkpoint holds the generator states of {len(saved)} processes, this run has '
                      f'{world_size}: random draws after the resume differ from an uninterrupted run',
                      logger='current', level=logging.WARNING)
            return
        self._pending = saved[rank]

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self._pending is not None:
            set_generator_states(self._pending)
            self._pending = None
