"""Detection with a user vocabulary: mmdet's ``DetInferencer`` for F-ViT checkpoints."""
from __future__ import annotations

from typing import Optional, Union

from mmdet.apis import DetInferencer

from ..datasets.class_names import ClassesType


class OVDetInferencer(DetInferencer):
    """``DetInferencer`` whose class names come from the user (no retraining).

    Example:
        >>> inferencer = OVDetInferencer('configs/fvit/...py', 'work_dirs/.../iter_1500.pth',
        ...                              texts='red circle,blue star')
        >>> inferencer('demo.png', out_dir='outputs', pred_score_thr=0.3)

    Args:
        model: an F-ViT config file or config.
        weights: its checkpoint.
        texts: class names in any form of :func:`~mmdistill.datasets.class_names.parse_classes` (a list, a
            comma-separated string, a file; synonyms joined by ``';'``); ``None`` keeps the config's vocabulary.
    """

    def __init__(self, model: Union[str, dict], weights: Optional[str] = None,
                 texts: Optional[ClassesType] = None, device: Optional[str] = None,
                 show_progress: bool = True) -> None:
        super().__init__(model=model, weights=weights, device=device, scope='mmdet', palette='random',
                         show_progress=show_progress)
        if not hasattr(self.model, 'set_vocabulary'):
            raise TypeError(f'{type(self.model).__name__} has no vocabulary to set; '
                            'OVDetInferencer needs an open-vocabulary detector such as FViT')
        if texts is not None:
            self.set_vocabulary(texts)

    def set_vocabulary(self, texts: ClassesType) -> list[str]:
        """Detect the classes ``texts`` names from now on (the model's ``set_vocabulary``); returns the names."""
        self.model.set_vocabulary(texts)
        names = list(self.model.vocabulary)
        self.model.dataset_meta['palette'] = 'random'
        self.visualizer.dataset_meta = self.model.dataset_meta
        return names
