"""Analysis of dense features (paper 001's visual-centric measures): coupling ratio, affinity maps,
PCA / K-means / t-SNE pictures and the unsupervised-segmentation probe. Commands: ``tools/analysis/``."""
from .clustering import ProbeResult, hungarian_miou, kmeans, segmentation_probe
from .coupling import Coupling, coupling_ratio, dataset_coupling_ratio
from .data import ImageSet, load_image_set, world_image_set
from .embedding import pca_rgb, tsne
from .encoders import DenseEncoder, RefinedTower, dense_maps, load_encoder, parse_tower_specs, quickstart_towers

__all__ = ['ProbeResult', 'Coupling', 'hungarian_miou', 'kmeans', 'segmentation_probe', 'coupling_ratio',
           'dataset_coupling_ratio', 'ImageSet', 'load_image_set', 'world_image_set', 'pca_rgb', 'tsne',
           'DenseEncoder', 'RefinedTower', 'dense_maps', 'load_encoder', 'parse_tower_specs', 'quickstart_towers']
