from .compat_metrics import CompatCocoMetric, CompatLVISMetric
from .dense_zero_shot import DenseZeroShotAccuracy
from .ov_coco import OVSplitCocoMetric
from .zero_shot_seg import ZeroShotIoUMetric

__all__ = ['CompatCocoMetric', 'CompatLVISMetric', 'DenseZeroShotAccuracy', 'OVSplitCocoMetric', 'ZeroShotIoUMetric']
