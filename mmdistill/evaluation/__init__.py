from .dense_zero_shot import DenseZeroShotAccuracy
from .ov_coco import OVSplitCocoMetric

__all__ = ['DenseZeroShotAccuracy', 'OVSplitCocoMetric']
