"""CLIP towers (image and text), text classifiers and checkpoint loading."""
from .builder import CheckpointMismatchError, build_clip_model, build_tokenizer, load_clip_weights
from .text_tower import CLIPTextTower
from .tower import CLIPTower, TowerOutput
from .vocabulary import TextClassifier

__all__ = ['CLIPTower', 'CLIPTextTower', 'TowerOutput', 'TextClassifier', 'build_clip_model', 'build_tokenizer',
           'load_clip_weights', 'CheckpointMismatchError']
