"""Write the OV-COCO annotations: 48 base / 17 novel classes (the OVR-CNN split of COCO 2017).

Writes to ``<coco-root>/annotations/ov`` (or --out-dir): ``instances_train2017_ov_base.json`` (base-class
boxes only), ``instances_val2017_ov_all.json`` (base + novel boxes) and ``ov_coco_split.json``.

Example:
    python tools/data/prepare_ov_coco.py --coco-root data/coco
"""
import argparse
import importlib.util
import os.path as osp
import sys

if importlib.util.find_spec('mmdistill') is None:  # running from a source checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmdistill.datasets.ov_splits import ov_summary, prepare_ov_coco  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--coco-root', default='data/coco', help='folder holding annotations/instances_*2017.json')
    parser.add_argument('--out-dir', help='output folder (default: <coco-root>/annotations/ov)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    paths = prepare_ov_coco(args.coco_root, args.out_dir)
    print(f"wrote {osp.dirname(paths['split'])}: {ov_summary(paths)}")


if __name__ == '__main__':
    main()
