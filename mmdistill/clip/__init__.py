"""CLIP towers (image), text classifiers and checkpoint loading."""
from .builder import CheckpointMismatchError, build_clip_model, build_tokenizer, load_clip_weights
from .tower import CLIPTower, TowerOutput

__all__ = ['CLIPTower', 'TowerOutput', 'build_clip_model', 'build_tokenizer', 'load_clip_weights',
           'CheckpointMismatchError']
