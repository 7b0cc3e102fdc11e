from .dense_zero_shot import DenseZeroShotClassifier

__all__ = ['DenseZeroShotClassifier']
