"""Segmentation benchmarks of training-free zero-shot segmentation that mmseg has no dataset for.

* ``COCOObjectDataset``: COCO-Object, the 80 COCO things + background, read from mmseg's COCO-Stuff 164k
  maps (``*_labelTrainIds.png``): thing ``k`` becomes ``k + 1``, every stuff class and (by default) every
  unlabeled pixel background (0).
* ``ADE20K847Dataset`` / ``PascalContext459Dataset``: the full ADE20K (847 classes) and PASCAL Context (459)
  label sets in the detectron2 layout (16-bit TIFF maps, 65535 ignored; read them with
  ``LoadWideAnnotations``). Their class names are read from a names file (one per line, in label order).
"""
from __future__ import annotations

import os.path as osp
from typing import Optional

from mmengine import fileio
from mmseg.datasets import BaseSegDataset, COCOStuffDataset
from mmseg.registry import DATASETS

from .class_names import class_names

COCO_THINGS = COCOStuffDataset.METAINFO['classes'][:80]
WIDE_IGNORE_INDEX = 65535


@DATASETS.register_module()
class COCOObjectDataset(BaseSegDataset):
    """COCO-Object: background + the 80 COCO object classes, from COCO-Stuff 164k train-id maps.

    Args:
        unlabeled_as_background: COCO-Stuff's unlabeled pixels (255) become background (0), as in the
            official COCO-Object maps (GroupViT's ``cvt_coco_object.py``, used by SCLIP / NACLIP, maps every
            id above 90, 255 included, to 0); ``False`` keeps them ignored.
    """

    METAINFO = dict(classes=('background', ) + COCO_THINGS,
                    palette=[[0, 0, 0]] + COCOStuffDataset.METAINFO['palette'][:80])

    def __init__(self, img_suffix: str = '.jpg', seg_map_suffix: str = '_labelTrainIds.png',
                 unlabeled_as_background: bool = True, **kwargs) -> None:
        self.unlabeled_as_background = unlabeled_as_background  # read by get_label_map in BaseSegDataset.__init__
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

    def get_label_map(self, new_classes: Optional[tuple] = None) -> dict[int, int]:
        """COCO-Stuff train id -> COCO-Object id: things 0-79 -> 1-80, stuff 80-170 -> 0, unlabeled 255 -> 0
        (or kept, see ``unlabeled_as_background``)."""
        if new_classes is not None and tuple(new_classes) != self.METAINFO['classes']:
            raise ValueError('COCOObjectDataset has fixed classes (background + the 80 COCO things)')
        num_stuff_classes = len(COCOStuffDataset.METAINFO['classes'])
        label_map = {i: i + 1 if i < len(COCO_THINGS) else 0 for i in range(num_stuff_classes)}
        if self.unlabeled_as_background:
            label_map[255] = 0
        return label_map


def read_names_file(path: str, num_classes: int, benchmark: str) -> tuple[str, ...]:
    """The `num_classes` names of `path` (one per line in label order, read as vocabularies read files: blank
    and '#' lines skipped); errors name the file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} not found: {benchmark} needs a file of its {num_classes} class names, '
                                'one per line in label order (docs/zero_shot_segmentation.md)')
    names = tuple(class_names(path))
    if len(names) != num_classes:
        raise ValueError(f'{path}: {benchmark} has {num_classes} classes, the file names {len(names)}')
    return names


class NamesFileSegDataset(BaseSegDataset):
    """A dataset with class names from a names file, listed by its annotation folder.

    The images are those with a label map (the image folder may hold other splits, like VOC2010's
    ``JPEGImages``). Labels are stored as they are, `ignore_index` is the maps' ignored value.

    Args:
        classes_file: one class name per line, in label order; relative to ``data_root`` when given.
    """

    NUM_CLASSES = 0
    BENCHMARK = ''

    def __init__(self, classes_file: str, img_suffix: str = '.jpg', seg_map_suffix: str = '.tif',
                 ignore_index: int = WIDE_IGNORE_INDEX, metainfo: Optional[dict] = None,
                 data_root: Optional[str] = None, **kwargs) -> None:
        if data_root is not None and not osp.isabs(classes_file):
            classes_file = osp.join(data_root, classes_file)
        names = read_names_file(classes_file, self.NUM_CLASSES, self.BENCHMARK)
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, ignore_index=ignore_index,
                         metainfo=dict(metainfo or {}, classes=names), data_root=data_root, **kwargs)

    def load_data_list(self) -> list[dict]:
        """The images of the annotation folder's maps (of ``ann_file``'s names when one is given)."""
        if self.ann_file:
            return super().load_data_list()
        img_dir, ann_dir = self.data_prefix['img_path'], self.data_prefix['seg_map_path']
        maps = fileio.list_dir_or_file(ann_dir, list_dir=False, suffix=self.seg_map_suffix, recursive=True,
                                       backend_args=self.backend_args)
        names = sorted(m[:-len(self.seg_map_suffix)] for m in maps)
        return [dict(img_path=osp.join(img_dir, n + self.img_suffix),
                     seg_map_path=osp.join(ann_dir, n + self.seg_map_suffix), label_map=self.label_map,
                     reduce_zero_label=self.reduce_zero_label, seg_fields=[]) for n in names]


@DATASETS.register_module()
class ADE20K847Dataset(NamesFileSegDataset):
    """ADE20K-Full (847 classes), validation split as prepared for detectron2 (``images_detectron2/``,
    ``annotations_detectron2/``, ``.tif`` maps)."""

    NUM_CLASSES = 847
    BENCHMARK = 'ADE-847'


@DATASETS.register_module()
class PascalContext459Dataset(NamesFileSegDataset):
    """PASCAL Context with all 459 classes, validation split as prepared for detectron2
    (``VOC2010/annotations_detectron2/pc459_val/*.tif``, images in ``VOC2010/JPEGImages``)."""

    NUM_CLASSES = 459
    BENCHMARK = 'PASCAL Context 459'
