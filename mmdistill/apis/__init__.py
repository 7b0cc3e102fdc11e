"""High-level entry points: the quickstart pipeline and inference with a user vocabulary."""
from ..det.inferencer import OVDetInferencer

__all__ = ['OVDetInferencer']
