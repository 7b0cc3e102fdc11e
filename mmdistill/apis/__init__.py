"""High-level entry points: the quickstart pipeline, inference with a user vocabulary and the config check."""
from ..det.inferencer import OVDetInferencer
from ..seg.inferencer import OVSegInferencer

__all__ = ['OVDetInferencer', 'OVSegInferencer']
