"""Time every stage of the main job: cold (a new world and work folder) or on existing caches.

    python tools/analysis/benchmark_main_job.py                  # cold, default rows, in a temporary folder
    python tools/analysis/benchmark_main_job.py --all            # cold, every row
    python tools/analysis/benchmark_main_job.py --work-dir work_dirs/quickstart --world data/synthetic_world

Runs ``tools/quickstart.py`` in a child process, then prints the seconds of each stage it computed (from the
run's ``stage_times.json``: world, tiny CLIP, Refiner, each tower's distillation, each downstream training and
test, pictures; the second lane's steps, which ran beside the others, marked), grouped by kind, with the
machine (CPU model and vector capability) and the whole wall time: the table of docs/benchmarks.md's main-job
section. Cached stages are absent from the table (warm run: only
the wall time counts).
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from typing import Sequence

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

from mmdistill.engine.flops import device_name  # noqa: E402

KINDS = (('world', 'synthetic world'), ('tiny_clip_pretrain', 'tiny CLIP pretraining'),
         ('refiner', 'Refiner (stage 1 of R-SCD)'), ('tower.', 'tower distillation'),
         ('.train.', 'downstream training'), ('.test.', 'tests (dense zero-shot, detection, segmentation)'),
         ('picture', 'pictures'))


def kind_of(step: str) -> str:
    """The stage kind of a step name (``'tower.atas_synthetic_seed0'`` -> ``'tower distillation'``)."""
    return next((label for key, label in KINDS if key in step or step.startswith(key)), 'other')


def stage_table(steps: list[tuple[str, float]], wall: float, second_lane: Sequence[tuple[str, float]] = ()) -> str:
    """Markdown: one row per step (those of the second lane, which ran beside the main process's, marked), then
    the sum per kind (both lanes) and the whole run's wall time."""
    lines = ['| step | seconds |', '|---|---|']
    lines += [f'| {name} | {seconds:.0f} |' for name, seconds in steps]
    lines += [f'| {name} (second lane) | {seconds:.0f} |' for name, seconds in second_lane]
    per_kind = defaultdict(float)
    for name, seconds in [*steps, *second_lane]:
        per_kind[kind_of(name)] += seconds
    lines += [f'| **{kind}** (sum) | **{seconds:.0f}** |' for kind, seconds in per_kind.items()]
    lines.append(f'| **whole job, wall time** | **{wall:.0f}** ({wall / 60:.1f} min) |')
    return '\n'.join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work-dir', help='the run folder (default: a new temporary one, a cold run)')
    parser.add_argument('--world', help='the world folder (default: a new one inside the run folder)')
    parser.add_argument('--all', action='store_true', help='every row, not only the default ones')
    parser.add_argument('--main-job', default='configs/quickstart/main_job.py')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix='main_job_')
    world = args.world or osp.join(work_dir, 'world')
    command = [sys.executable, osp.join(REPO, 'tools', 'quickstart.py'), '--work-dir', work_dir, '--world', world,
               '--main-job', args.main_job] + (['--all'] if args.all else [])
    start = time.time()
    subprocess.run(command, cwd=REPO, check=True, env=dict(os.environ, MMDISTILL_OFFLINE='1'))
    wall = time.time() - start
    with open(osp.join(work_dir, 'stage_times.json')) as f:
        times = json.load(f)
    table = stage_table([tuple(step) for step in times['steps']], wall,
                        [tuple(step) for step in times.get('second_lane', [])])
    print(f'\nmachine: {device_name("cpu")}\n\n{table}')
    return table


if __name__ == '__main__':
    main()
