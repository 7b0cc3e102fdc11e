"""High-level entry points: the quickstart pipeline and inference with a user vocabulary."""
from ..det.inferencer import OVDetInferencer
from ..seg.inferencer import OVSegInferencer

__all__ = ['OVDetInferencer', 'OVSegInferencer']
