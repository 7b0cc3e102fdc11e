"""An empty training set is an error, not a hang.

mmengine's iteration-based loop asks an exhausted data loader for a new epoch, forever, when the
dataset has no item (a filter that dropped every image, a wrong folder or split); an epoch-based one
trains nothing. ``tools/train.py`` adds :class:`NonEmptyTrainDataHook` to every config.
"""
from __future__ import annotations

from mmengine.hooks import Hook

from ..registry import HOOKS


@HOOKS.register_module()
class NonEmptyTrainDataHook(Hook):
    """Before training, raise ``ValueError`` naming the dataset and its files if it has no item."""

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        if len(dataset) > 0:
            return
        files = {k: getattr(dataset, k) for k in ('ann_file', 'data_root', 'data_prefix')
                 if getattr(dataset, k, None)}
        raise ValueError(f'the training dataset {type(dataset).__name__} {files} has no item: check its files, '
                         'split and filters (e.g. filter_cfg)')
