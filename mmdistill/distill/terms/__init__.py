from .dino import DINOLoss
from .image_text import ImageTextContrastiveLoss
from .region_cls import RegionToCLSLoss
from .region_text import RegionToTextLoss
from .spatial_correlation import SpatialCorrelationLoss, spatial_correlation_loss
from .token_contrastive import TokenContrastiveLoss

__all__ = [
    'DINOLoss', 'ImageTextContrastiveLoss', 'RegionToCLSLoss', 'RegionToTextLoss', 'SpatialCorrelationLoss',
    'TokenContrastiveLoss', 'spatial_correlation_loss'
]
