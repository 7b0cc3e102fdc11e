from .formatting import PackImageText, RandomCaption
from .panoptic import LoadPanopticSegments

__all__ = ['LoadPanopticSegments', 'PackImageText', 'RandomCaption']
