"""A hook that refuses to evaluate a detector whose vocabulary does not cover the test set's classes."""
from __future__ import annotations

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


@HOOKS.register_module()
class VocabularyCheckHook(Hook):
    """Before validation / testing: the model's vocabulary must equal the dataset's ``classes``.

    Labels are indices into the vocabulary, so any difference would score the wrong classes
    silently; the error names the classes missing on either side.
    """

    def before_val(self, runner) -> None:
        self._check(runner, runner.val_dataloader.dataset, 'val')

    def before_test(self, runner) -> None:
        self._check(runner, runner.test_dataloader.dataset, 'test')

    @staticmethod
    def _check(runner, dataset, split: str) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        vocabulary = list(model.vocabulary)
        classes = list(dataset.metainfo.get('classes', ()))
        if vocabulary == classes:
            return
        missing = [c for c in classes if c not in vocabulary]
        extra = [c for c in vocabulary if c not in classes]
        raise ValueError(
            f'the model vocabulary ({len(vocabulary)} classes) does not match the {split} dataset classes '
            f'({len(classes)}): missing from the vocabulary {missing}, not in the dataset {extra}'
            + ('' if missing or extra else ' (same names, different order)')
            + '; set model.roi_head.bbox_head.vocabulary.classes to the dataset classes')
