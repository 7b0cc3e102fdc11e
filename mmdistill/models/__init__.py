from .dense_zero_shot import DenseZeroShotClassifier
from .multiview import MultiViewDataPreprocessor

__all__ = ['DenseZeroShotClassifier', 'MultiViewDataPreprocessor']
