"""Check a config before booking GPUs: build its model, step its training once, run its validation and test.

Random weights and a generated tiny data set in the config's own layout by default (nothing to download);
sizes that cost time are shrunk unless --real-size (docs/config_check.md). Prints each step with its time
and peak memory, and ends with one line: ``ok`` or the step that failed and why (exit status 1).

Examples:
    python tools/misc/check_config.py configs/fvit/fvit_eva02-b16_fpn_8xb8-3e_ov-coco-640.py
    python tools/misc/check_config.py CONFIG --real-size
    python tools/misc/check_config.py CONFIG --no-random-weights --data-root /datasets   # your files
"""
import argparse
import importlib.util
import os.path as osp
import sys

if importlib.util.find_spec('mmdistill') is None:  # running from a source checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import DictAction  # noqa: E402

import mmdistill  # noqa: E402,F401
from mmdistill.apis.config_check import check_config  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file')
    parser.add_argument('--real-size', action='store_true', help='keep the real tower, image and batch sizes')
    parser.add_argument('--no-random-weights', dest='random_weights', action='store_false',
                        help='load the checkpoints the config names (each file must exist)')
    parser.add_argument('--data-root', help="use your data: this folder replaces the config's leading data/ "
                                            '(every file and folder the config names must exist)')
    parser.add_argument('--work-dir', help='folder for the run and the generated data (default: a new temporary '
                                           'folder)')
    parser.add_argument('--traceback', action='store_true', help='print the full traceback of a failure')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help="config options applied after the check's changes, as tools/train.py's (e.g. the memory "
                             'options you will train with: model.decode_head.with_cp=True)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    report = check_config(args.config, work_dir=args.work_dir, real_size=args.real_size,
                          random_weights=args.random_weights, data_root=args.data_root, cfg_options=args.cfg_options)
    if not report.ok and args.traceback:
        print(report.traceback, file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == '__main__':
    sys.exit(main())
