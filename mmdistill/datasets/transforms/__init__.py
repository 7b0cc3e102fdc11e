from .formatting import PackImageText, RandomCaption
from .inductive import SeenClassLabels
from .loading import LoadImageFromFileCached
from .panoptic import LoadPanopticSegments
from .photometric import PhotometricViews
from .seg_loading import LoadWideAnnotations

__all__ = ['LoadImageFromFileCached', 'LoadPanopticSegments', 'LoadWideAnnotations', 'PackImageText',
           'PhotometricViews', 'RandomCaption', 'SeenClassLabels']
