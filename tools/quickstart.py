"""The main job on the embedded default: the synthetic world end to end.

Stages, each cached so a rerun only computes what is missing (rows and sections:
configs/quickstart/main_job.py):
  1. generate the synthetic world          -> data/synthetic_world/
  2. pretrain the tiny CLIP (image-text)   -> work_dirs/quickstart/tiny_clip.pt
  3. distil the towers and measure their dense zero-shot accuracy (boxes, thing/stuff masks, crops)
  4. train F-ViT on the base things with each tower; novel / base / all AP50
  5. the results tables (stdout + results.md) and pictures (per_class_accuracy.png, detections.png,
     affinity_maps.png, feature_pca.png, ...)

The terminal shows stage headers, progress bars and one line per row; every stage's full output goes to
work_dirs/quickstart/logs/<stage>.log (a failing stage prints its log's path and last lines).

An interrupted pretraining resumes from its last checkpoint.
    python tools/quickstart.py            # default rows
    python tools/quickstart.py --all      # every row added by later stages
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from mmdistill.apis.console import MainJobConsole, StageFailed  # noqa: E402
from mmdistill.apis.quickstart import run_quickstart  # noqa: E402
from mmdistill.apis.runs import QuickstartPaths  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--world', default='data/synthetic_world', help='where the synthetic world lives')
    parser.add_argument('--work-dir', default='work_dirs/quickstart', help='where models and results go')
    parser.add_argument('--seed', type=int, default=0, help='seed of the world and the tiny CLIP')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0], help='distillation seeds averaged per row')
    parser.add_argument('--all', action='store_true', help='also compute the rows beyond the default run')
    parser.add_argument('--force', action='store_true', help='recompute every stage, ignoring caches')
    parser.add_argument('--main-job', default='configs/quickstart/main_job.py',
                        help='the towers and sections to run (a config like the default one)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    os.chdir(REPO)
    start = time.time()
    paths = QuickstartPaths(world=args.world, work_dir=args.work_dir)
    console = MainJobConsole(osp.join(paths.work_dir, 'logs'))
    try:
        tables, pictures = run_quickstart(paths, seed=args.seed, include_all=args.all, force=args.force,
                                          seeds=args.seeds, main_job=args.main_job, console=console)
    except StageFailed as error:
        console.print(f'\nThe main job stopped: {error}')
        sys.exit(1)
    console.print('\n' + tables)
    console.print('pictures:\n' + '\n'.join(f'  {p}' for p in pictures))
    console.print(f'tables: {paths.results_md}\nlogs: {console.log_dir}/\nwall time: {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
