"""Generated raw releases of the segmentation benchmarks, converted by their documented preparation commands.

For the config check (:mod:`.check_data`): a few generated images and annotations written as the downloaded
archives unpack (docs/datasets.md), then the preparation command the docs give for that release, so the layout
a config reads is the one the command writes:

* PASCAL VOC 2012 + SBD: ``VOC2012/`` (palette maps, split lists) and ``VOCaug/dataset/`` (``cls/*.mat``,
  split lists), then mmseg's ``voc_aug.py``;
* COCO-Stuff 164k: raw stuff-thing maps (COCO-Stuff ids, 255 unlabelled), then mmseg's ``coco_stuff164k.py``;
* Cityscapes: ``gtFine/*_polygons.json``, then mmseg's ``cityscapes.py`` (needs ``cityscapesscripts``);
* PASCAL Context: ``trainval_merged.json``, ``trainval/*.mat`` and ``labels.txt``, then
  ``tools/data/prepare_pascal_context.py`` (:mod:`.pascal_context`).

mmseg's converters are run from the installed package (``mmseg/.mim/tools/dataset_converters``, the
``$MMSEG_TOOLS`` of the docs) with their command-line arguments; the full-release image counts two of them
assert (``AUG_LEN``, ``COCO_LEN``) are set to the generated release's. ADE20K-150 needs no conversion (its
archive is the layout); ADE20K-847's preparation is MaskFormer's script, not installable, so
:mod:`.check_data` writes that layout directly. Each writer returns whether it wrote (False: the release was
already there).
"""
from __future__ import annotations

import importlib.util
import itertools
import os.path as osp
import sys
from types import ModuleType

import numpy as np

from .generated_files import (
    NUM_IMAGES,
    CheckDataError,
    block_map,
    image_names,
    region_boxes,
    render_image,
    spread,
    write_image,
    write_json,
    write_lines,
    write_mat,
)
from .pascal_context import CONTEXT59_LABEL_IDS, CONTEXT_LISTS, NUM_FULL_LABELS, prepare_pascal_context

# VOC 2012 segmentation train / val and SBD train / val: SBD overlaps both VOC splits, as the real sets do.
VOC_SPLITS = dict(voc_train=('2007_000001', '2007_000002'), voc_val=('2007_000003', '2007_000004'),
                  sbd_train=('2007_000002', '2008_000001', '2008_000002'), sbd_val=('2007_000003', '2008_000003'))
CONTEXT_SPLITS = dict(train=('2008_000002', '2008_000003'), val=('2008_000007', '2008_000008'))
CITYSCAPES_CLASSES = ('road', 'building', 'vegetation', 'car')  # cityscapesscripts' label names
CITY = 'frankfurt'
# What docs/datasets.md tells a user to run for each release (with the docs' roots): the check runs the same.
DOCUMENTED_COMMANDS = {
    'write_voc_release': 'python $MMSEG_TOOLS/dataset_converters/voc_aug.py data/VOCdevkit data/VOCdevkit/VOCaug',
    'write_coco_stuff_release': 'python $MMSEG_TOOLS/dataset_converters/coco_stuff164k.py data/coco_stuff164k',
    'write_cityscapes_release': 'python $MMSEG_TOOLS/dataset_converters/cityscapes.py data/cityscapes',
    'write_pascal_context_release': 'python tools/data/prepare_pascal_context.py data/VOCdevkit/VOC2010',
}


def mmseg_converter(name: str) -> ModuleType:
    """mmseg's ``tools/dataset_converters/<name>.py`` from the installed package, loaded as a module.

    Raises:
        CheckDataError: the script is not there, or a package it imports is missing.
    """
    import mmseg
    path = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', 'dataset_converters', f'{name}.py')
    if not osp.isfile(path):
        raise CheckDataError(f"mmseg's dataset converter not found: {path!r} (installed with the mmsegmentation "
                             'wheel; docs/datasets.md)')
    module_name = f'mmseg_dataset_converter_{name}'
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # its worker pool pickles the module's functions by name
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as error:
        del sys.modules[module_name]
        package = (error.name or '?').split('.')[0]
        raise CheckDataError(f'{path} needs the package {package!r} (pip install {package}; '
                             'docs/datasets.md)') from error
    return module


def run_converter(module: ModuleType, argv: list[str], **release_sizes: int) -> None:
    """Run a converter's ``main()`` as ``python <script> <argv>``, with the full-release sizes it asserts
    (module constants) set to the generated release's."""
    for key, value in release_sizes.items():
        if not isinstance(getattr(module, key, None), int):
            raise CheckDataError(f'{module.__file__} has no release size {key!r} any more')
        setattr(module, key, value)
    saved, sys.argv = sys.argv, [module.__file__, *argv]
    try:
        module.main()
    finally:
        sys.argv = saved


def write_voc_release(devkit: str, size: tuple[int, int]) -> bool:
    """VOC 2012 and SBD as unpacked under ``devkit``, then mmseg's ``voc_aug.py`` (SegmentationClassAug, aug.txt,
    trainaug.txt)."""
    from PIL import Image
    voc, sbd = osp.join(devkit, 'VOC2012'), osp.join(devkit, 'VOCaug', 'dataset')
    if osp.isfile(osp.join(voc, 'ImageSets', 'Segmentation', 'trainaug.txt')):
        return False
    names = sorted(set(itertools.chain(*VOC_SPLITS.values())))
    labels = spread(21, 4)  # background, classes and 255 outlines (VOC's object boundaries)
    palette = np.random.default_rng(0).integers(0, 256, 768, dtype=np.uint8)
    for i, name in enumerate(names):
        write_image(osp.join(voc, 'JPEGImages', f'{name}.jpg'), render_image(i, size))
        label = block_map(i, size, labels, background=0, outline=255)
        if name in VOC_SPLITS['voc_train'] + VOC_SPLITS['voc_val']:
            image = Image.fromarray(label, mode='P')
            image.putpalette(palette.tolist())
            write_image(osp.join(voc, 'SegmentationClass', f'{name}.png'), image)
        if name in VOC_SPLITS['sbd_train'] + VOC_SPLITS['sbd_val']:
            write_mat(osp.join(sbd, 'cls', f'{name}.mat'), {'GTcls': {'Segmentation': block_map(i, size, labels, 0)}})
    for split in ('train', 'val'):
        write_lines(osp.join(voc, 'ImageSets', 'Segmentation', f'{split}.txt'), VOC_SPLITS[f'voc_{split}'])
        write_lines(osp.join(sbd, f'{split}.txt'), VOC_SPLITS[f'sbd_{split}'])
    trainaug = (set(VOC_SPLITS['voc_train']) | set(VOC_SPLITS['sbd_train']) | set(VOC_SPLITS['sbd_val'])) \
        - set(VOC_SPLITS['voc_val'])
    run_converter(mmseg_converter('voc_aug'), [devkit, osp.join(devkit, 'VOCaug'), '--nproc', '1'],
                  AUG_LEN=len(trainaug))
    return True


def write_coco_stuff_release(root: str, size: tuple[int, int]) -> bool:
    """COCO images and raw COCO-Stuff maps under ``root``, then mmseg's ``coco_stuff164k.py``
    (``*_labelTrainIds.png``)."""
    if osp.isfile(osp.join(root, 'annotations', 'val2017', f'{image_names("val2017")[0]}_labelTrainIds.png')):
        return False
    converter = mmseg_converter('coco_stuff164k')
    raw_ids = sorted(k for k in converter.clsID_to_trID if k != 255)
    labels = [raw_ids[j] for j in spread(len(raw_ids), 4)]
    for split in ('train2017', 'val2017'):
        for i, name in enumerate(image_names(split)):
            write_image(osp.join(root, 'images', split, f'{name}.jpg'), render_image(i, size))
            write_image(osp.join(root, 'annotations', split, f'{name}.png'), block_map(i, size, labels, 255))
    run_converter(converter, [root, '--nproc', '1'], COCO_LEN=2 * NUM_IMAGES)
    return True


def write_cityscapes_release(root: str, size: tuple[int, int]) -> bool:
    """``leftImg8bit/`` and ``gtFine/*_polygons.json`` under ``root``, then mmseg's ``cityscapes.py``
    (``*_gtFine_labelTrainIds.png``, split lists)."""
    if osp.isfile(osp.join(root, 'val.txt')):
        return False
    converter = mmseg_converter('cityscapes')
    h, w = size
    for split, num in (('train', 1), ('val', NUM_IMAGES), ('test', 1)):
        for i in range(num):
            stem = osp.join(split, CITY, f'{CITY}_000000_{i:06d}')
            write_image(osp.join(root, 'leftImg8bit', f'{stem}_leftImg8bit.png'), render_image(i, size))
            objects = [dict(label=CITYSCAPES_CLASSES[(i + j) % len(CITYSCAPES_CLASSES)],
                            polygon=[[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
                       for j, (x1, y1, x2, y2) in enumerate(region_boxes(size))]
            write_json(osp.join(root, 'gtFine', f'{stem}_gtFine_polygons.json'),
                       dict(imgHeight=h, imgWidth=w, objects=objects))
    run_converter(converter, [root, '--nproc', '1'])
    return True


def write_pascal_context_release(voc2010: str, size: tuple[int, int]) -> bool:
    """VOC 2010 images and the PASCAL Context release files under ``voc2010``, then
    ``tools/data/prepare_pascal_context.py``'s conversion (59 / 60 and 459 classes)."""
    from pycocotools import mask as mask_utils
    if osp.isfile(osp.join(voc2010, CONTEXT_LISTS, 'val.txt')):
        return False
    ids59 = [index for _, index in CONTEXT59_LABEL_IDS]
    labels = [ids59[0], 3, ids59[29], ids59[-1]]  # 3 is none of the 59: background in Context 60
    h, w = size
    images, segments = [], []
    for i, (phase, name) in enumerate((p, n) for p, names in CONTEXT_SPLITS.items() for n in names):
        write_image(osp.join(voc2010, 'JPEGImages', f'{name}.jpg'), render_image(i, size))
        label_map = block_map(i, size, labels, background=0, dtype=np.uint16)
        write_mat(osp.join(voc2010, 'trainval', f'{name}.mat'), {'LabelMap': label_map})
        images.append(dict(image_id=i + 1, file_name=f'{name}.jpg', height=h, width=w, phase=phase))
        for value in np.unique(label_map[label_map > 0]):
            rle = mask_utils.encode(np.asfortranarray((label_map == value).astype(np.uint8)))
            segments.append(dict(image_id=i + 1, category_id=int(value),
                                 segmentation=dict(size=rle['size'], counts=rle['counts'].decode('ascii'))))
    full_names = {index: name for name, index in CONTEXT59_LABEL_IDS}
    write_json(osp.join(voc2010, 'trainval_merged.json'),
               dict(images=images, annos_segmentation=segments,
                    categories=[dict(category_id=k, name=full_names.get(k, f'class {k}'))
                                for k in range(1, NUM_FULL_LABELS + 1)]))
    write_lines(osp.join(voc2010, 'labels.txt'),
                [f'{k}: {full_names.get(k, f"class {k}")}' for k in range(1, NUM_FULL_LABELS + 1)])
    prepare_pascal_context(voc2010, progress=False)
    return True
