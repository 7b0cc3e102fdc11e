"""Write the seen / unseen split of a standard inductive zero-shot segmentation benchmark.

Splits (unseen classes as in SPNet / ZS3Net / ZegFormer, names as in mmseg's dataset classes):
    voc         PASCAL VOC 15 / 5 (background ignored)
    coco-stuff  COCO-Stuff 156 / 15
    context     PASCAL Context 49 / 10 of the 59 classes

The file is JSON ``{"seen": [...], "unseen": [...]}`` for ``ZeroShotIoUMetric`` and ``SeenClassLabels``.

Example:
    python tools/data/prepare_zero_shot_splits.py --dataset voc --out data/splits/voc_15_5.json
"""
import argparse
import importlib.util
import os.path as osp
import sys

if importlib.util.find_spec('mmdistill') is None:  # running from a source checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmdistill.datasets.zero_shot_splits import ZERO_SHOT_SPLITS, write_zero_shot_split  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--dataset', required=True, choices=sorted(ZERO_SHOT_SPLITS), help='the standard split')
    parser.add_argument('--out', required=True, help='JSON file to write')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    split = write_zero_shot_split(args.dataset, args.out)
    print(f"wrote {args.out}: {len(split['seen'])} seen / {len(split['unseen'])} unseen classes")


if __name__ == '__main__':
    main()
