"""Zero-shot semantic segmentation splits (the inductive protocol of ZS3Net, SPNet, ZegFormer, ZegCLIP...).

A split file is JSON ``{"seen": [names...], "unseen": [names...]}``. Training sees only the seen classes'
pixels (unseen pixels are ignored, images are kept); testing scores all classes in one confusion matrix
and reports the mean IoU over seen, over unseen and their harmonic mean. Classes of the dataset in neither
list (e.g. VOC's background) are ignored in training and count only in the all-class mIoU.
"""
from __future__ import annotations

from typing import Sequence, Union

from .ov_splits import check_split, read_json, write_json_atomic

# The names below are spelled as in mmseg's METAINFO['classes'] (e.g. VOC 'pottedplant' / 'tvmonitor',
# COCO-Stuff 'wall-concrete' / 'playingfield'), which is also how the papers list them.
# VOC 15 / 5 (SPNet, ZS3Net): the background is ignored in training and testing (VOC20).
VOC_UNSEEN = ('pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')
# COCO-Stuff 156 / 15 of the 171 classes (SPNet, ZegFormer, ZegCLIP).
COCO_STUFF_UNSEEN = ('cow', 'giraffe', 'suitcase', 'frisbee', 'skateboard', 'carrot', 'scissors', 'cardboard',
                     'clouds', 'grass', 'playingfield', 'river', 'road', 'tree', 'wall-concrete')
# PASCAL Context 49 / 10 of the 59 classes (ZS3Net).
CONTEXT_UNSEEN = ('cow', 'motorbike', 'sofa', 'cat', 'boat', 'fence', 'bird', 'tvmonitor', 'keyboard', 'aeroplane')

# split name -> (mmseg dataset type giving the class list, unseen classes, classes in neither list)
ZERO_SHOT_SPLITS = {
    'voc': ('PascalVOCDataset', VOC_UNSEEN, ('background', )),
    'coco-stuff': ('COCOStuffDataset', COCO_STUFF_UNSEEN, ()),
    'context': ('PascalContextDataset59', CONTEXT_UNSEEN, ()),
}
SPLIT_HINT = 'expected a JSON split file {"seen": [...], "unseen": [...]}'


def mmseg_dataset_classes(dataset_type: str) -> list[str]:
    """``METAINFO['classes']`` of an mmseg dataset type (e.g. ``'PascalVOCDataset'``)."""
    import mmseg.datasets  # noqa: F401  (registers the datasets)
    from mmseg.registry import DATASETS
    dataset = DATASETS.get(dataset_type)
    if dataset is None:
        raise KeyError(f'{dataset_type} is not a registered mmseg dataset')
    return list(dataset.METAINFO['classes'])


def check_zero_shot_split(split: object, source: str) -> dict[str, list[str]]:
    """Validate a ``{"seen", "unseen"}`` split; errors name `source` and the offending item."""
    return check_split(split, source, keys=('seen', 'unseen'))


def load_zero_shot_split(path: str) -> dict[str, list[str]]:
    """The ``{"seen": [...], "unseen": [...]}`` split stored at `path`."""
    return check_zero_shot_split(read_json(path, SPLIT_HINT), path)


def resolve_split(unseen_classes: Union[str, Sequence[str]],
                  classes: Sequence[str]) -> tuple[list[str], list[str]]:
    """(seen, unseen) names, each in the order of `classes`.

    Args:
        unseen_classes: names (every other class is seen) or the path of a split JSON (its ``seen`` list).
        classes: the dataset's classes in label order.

    Raises ValueError naming the split's classes that are not in `classes`.
    """
    if isinstance(unseen_classes, str):
        split, source = load_zero_shot_split(unseen_classes), unseen_classes
    else:
        unseen = list(unseen_classes)
        split = check_zero_shot_split({'seen': [c for c in classes if c not in unseen], 'unseen': unseen},
                                      'unseen_classes')
        source = 'unseen_classes'
    unknown = [n for n in split['seen'] + split['unseen'] if n not in classes]
    if unknown:
        raise ValueError(f'{source}: classes not in the dataset classes: {unknown}')
    return ([c for c in classes if c in split['seen']], [c for c in classes if c in split['unseen']])


def standard_split(name: str) -> dict[str, list[str]]:
    """The seen / unseen classes of a standard split (``'voc'``, ``'coco-stuff'``, ``'context'``)."""
    if name not in ZERO_SHOT_SPLITS:
        raise KeyError(f'unknown zero-shot split {name!r}; known: {sorted(ZERO_SHOT_SPLITS)}')
    dataset_type, unseen, neither = ZERO_SHOT_SPLITS[name]
    classes = mmseg_dataset_classes(dataset_type)
    unknown = [c for c in unseen + neither if c not in classes]
    if unknown:
        raise ValueError(f'{name}: classes not in {dataset_type}: {unknown}')
    return {'seen': [c for c in classes if c not in unseen and c not in neither],
            'unseen': [c for c in classes if c in unseen]}


def write_zero_shot_split(name: str, out: str) -> dict[str, list[str]]:
    """Write the standard split `name` to the JSON file `out`; return it."""
    split = standard_split(name)
    write_json_atomic(out, split)
    return split
