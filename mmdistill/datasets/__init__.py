"""Datasets and transforms; the synthetic world generator lives in ``synthetic``."""
from .captions import CocoCaptionDataset
from .images import CocoImageDataset
from .proposals import ProposalDumpMetric
from .synthetic_world import SyntheticWorldPanopticDataset
from .transforms import LoadPanopticSegments, PackImageText, RandomCaption

__all__ = ['CocoCaptionDataset', 'CocoImageDataset', 'ProposalDumpMetric', 'SyntheticWorldPanopticDataset',
           'LoadPanopticSegments', 'PackImageText', 'RandomCaption']
