"""Write the synthetic world's open-vocabulary detection annotations (split ``splits/ov_detection.json``).

Writes ``<world>/annotations/ov/instances_train2017_ov_base.json`` (base-class boxes only) and
``instances_val2017_ov_all.json`` (base + novel boxes); files newer than their inputs are kept.

Example:
    python tools/data/prepare_ov_world.py --world data/synthetic_world
"""
import argparse
import importlib.util
import os.path as osp
import sys

if importlib.util.find_spec('mmdistill') is None:  # running from a source checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmdistill.datasets.ov_splits import ov_summary, prepare_ov_world  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--world', default='data/synthetic_world', help='root of a generated synthetic world')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    paths = prepare_ov_world(args.world)
    print(f"{osp.dirname(paths['train'])}: {ov_summary(paths)}")


if __name__ == '__main__':
    main()
