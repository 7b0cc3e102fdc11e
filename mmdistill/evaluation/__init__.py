from .dense_zero_shot import DenseZeroShotAccuracy

__all__ = ['DenseZeroShotAccuracy']
