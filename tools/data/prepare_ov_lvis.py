"""Write the OV-LVIS training annotations: LVIS v1 train without the rare classes' boxes (rare = novel).

LVIS images are the COCO 2017 images, so the root is usually ``data/coco`` (mmdet's LVISV1Dataset layout):
any folder holding ``annotations/lvis_v1_train.json`` and ``annotations/lvis_v1_val.json``. Writes to
``<lvis-root>/annotations/ov`` (or --out-dir): ``lvis_v1_train_ov_norare.json`` and ``ov_lvis_split.json``;
the test file is ``lvis_v1_val.json`` itself.

Example:
    python tools/data/prepare_ov_lvis.py --lvis-root data/coco
"""
import argparse
import importlib.util
import os.path as osp
import sys

if importlib.util.find_spec('mmdistill') is None:  # running from a source checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmdistill.datasets.ov_splits import ov_summary, prepare_ov_lvis  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--lvis-root', default='data/coco', help='folder holding annotations/lvis_v1_*.json')
    parser.add_argument('--out-dir', help='output folder (default: <lvis-root>/annotations/ov)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    paths = prepare_ov_lvis(args.lvis_root, args.out_dir)
    print(f"wrote {osp.dirname(paths['split'])}: {ov_summary(paths)}")


if __name__ == '__main__':
    main()
