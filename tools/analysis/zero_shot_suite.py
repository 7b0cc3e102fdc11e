"""Run the training-free zero-shot segmentation benchmarks (or any mmseg test configs) in one command.

Tests each config with mmengine's Runner and writes ``results.md`` (a row per benchmark plus the mean)
and ``results.csv`` to --out-dir. A config whose data is missing is reported and skipped, the others
still run; the exit code is 1 when any config was skipped or failed.

    python tools/analysis/zero_shot_suite.py configs/zero_shot_seg/*.py
    python tools/analysis/zero_shot_suite.py configs/zero_shot_seg/zeroshot_vit-b16-openai_voc21-336.py \\
        --tower-checkpoint work_dirs/student/student_open_clip.pt --dense-path plain --out-dir work_dirs/suite
"""
from __future__ import annotations

import argparse
import importlib.util
import os.path as osp
import sys

if importlib.util.find_spec('mmdistill') is None:  # running from a source checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import DictAction  # noqa: E402

import mmdistill  # noqa: E402,F401  (compat fixes before any config is read)
from mmdistill.apis.seg_benchmarks import OK, run_suite  # noqa: E402
from mmdistill.clip.tower import DENSE_PATHS  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('configs', nargs='+', help='test configs, one benchmark each')
    parser.add_argument('--tower-checkpoint', help='image tower weights for every config (model.tower.checkpoint)')
    parser.add_argument('--dense-path', choices=DENSE_PATHS, help='dense readout (model.tower.dense_path)')
    parser.add_argument('--out-dir', default='work_dirs/zero_shot_suite', help='tables and per-config work dirs')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides for every config, key=value pairs, e.g. test_dataloader.num_workers=2')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    results = run_suite(args.configs, args.out_dir, tower_checkpoint=args.tower_checkpoint,
                        dense_path=args.dense_path, cfg_options=args.cfg_options)
    return int(any(r.status != OK for r in results))


if __name__ == '__main__':
    sys.exit(main())
