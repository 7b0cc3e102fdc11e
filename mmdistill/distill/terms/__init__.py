from .image_text import ImageTextContrastiveLoss

__all__ = ['ImageTextContrastiveLoss']
