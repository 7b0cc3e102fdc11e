"""C2S: CLIP-to-Seg distillation into stock mmseg students (paper 003)."""
from .bank import CLSTokenBank
from .export import export_student
from .latent_embedding import LatentEmbeddingGenerator
from .latent_mining import LatentClassMiner, connected_components, window_seeds
from .losses import (
    NELLoss,
    PixelCrossEntropyLoss,
    PrototypeCosineLoss,
    PrototypeInfoNCELoss,
    PrototypeL2Loss,
    PrototypeLoss,
    ResidualProjector,
    class_prototypes,
    global_prototypes,
    nel_loss,
)
from .segmentor import C2SSegmentor

__all__ = ['C2SSegmentor', 'CLSTokenBank', 'LatentClassMiner', 'LatentEmbeddingGenerator', 'NELLoss',
           'PixelCrossEntropyLoss', 'PrototypeCosineLoss', 'PrototypeInfoNCELoss', 'PrototypeL2Loss', 'PrototypeLoss',
           'ResidualProjector', 'class_prototypes', 'connected_components', 'export_student', 'global_prototypes',
           'nel_loss', 'window_seeds']
