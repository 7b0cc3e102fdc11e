from .formatting import PackImageText, RandomCaption
from .loading import LoadImageFromFileCached
from .panoptic import LoadPanopticSegments

__all__ = ['LoadImageFromFileCached', 'LoadPanopticSegments', 'PackImageText', 'RandomCaption']
