"""Prepare PASCAL Context (59 / 60 and 459 classes) from its release files, without the Detail API.

Under ``<voc2010>`` (``data/VOCdevkit/VOC2010``, with VOC 2010's ``JPEGImages/``):

* ``trainval_merged.json`` -> ``SegmentationClassContext/*.png`` (0 background, 1-59 the classes) and
  ``ImageSets/SegmentationContext/{train,val}.txt``: the layout mmseg's ``PascalContextDataset(59)`` reads;
* ``trainval/*.mat`` + ``labels.txt`` -> ``annotations_detectron2/pc459_val/*.tif`` (label - 1, 65535
  unlabelled) and ``pc459_classes.txt``: the layout ``PascalContext459Dataset`` reads (val images only).

Each part runs when its files are there (docs/datasets.md).

Example:
    python tools/data/prepare_pascal_context.py data/VOCdevkit/VOC2010
"""
import argparse
import importlib.util
import os.path as osp
import sys

if importlib.util.find_spec('mmdistill') is None:  # running from a source checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmdistill.datasets.pascal_context import prepare_pascal_context  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('voc2010', nargs='?', default='data/VOCdevkit/VOC2010',
                        help='the VOC2010 folder holding the PASCAL Context release files')
    parser.add_argument('--val-list', help='val image names for the 459 classes '
                        '(default: ImageSets/SegmentationContext/val.txt, written by the first part)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    for line in prepare_pascal_context(args.voc2010, args.val_list):
        print(f'wrote {osp.join(args.voc2010, line)}')


if __name__ == '__main__':
    main()
