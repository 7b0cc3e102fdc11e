"""mmdet / mmengine dataset classes bound to the synthetic world's vocabulary."""
from mmdet.datasets import CocoPanopticDataset

from ..registry import DATASETS
from .synthetic import STUFF_CLASSES, THING_CLASSES


@DATASETS.register_module()
class SyntheticWorldPanopticDataset(CocoPanopticDataset):
    """COCO-panoptic reader (mmdet's, unchanged) with the synthetic world's classes: things first."""

    METAINFO = dict(classes=THING_CLASSES + STUFF_CLASSES, thing_classes=THING_CLASSES,
                    stuff_classes=STUFF_CLASSES)
