"""Datasets and transforms; the synthetic world generator lives in ``synthetic``."""
from .captions import CocoCaptionDataset
from .image_folder import ImageFolderDataset
from .images import CocoImageDataset
from .proposals import ProposalDumpMetric
from .seg_benchmarks import ADE20K847Dataset, COCOObjectDataset, PascalContext459Dataset
from .synthetic_world import SyntheticWorldPanopticDataset
from .transforms import LoadPanopticSegments, LoadWideAnnotations, PackImageText, RandomCaption, SeenClassLabels

__all__ = ['CocoCaptionDataset', 'CocoImageDataset', 'ImageFolderDataset', 'ProposalDumpMetric',
           'SyntheticWorldPanopticDataset', 'ADE20K847Dataset', 'COCOObjectDataset', 'PascalContext459Dataset',
           'LoadPanopticSegments', 'LoadWideAnnotations', 'PackImageText', 'RandomCaption', 'SeenClassLabels']
