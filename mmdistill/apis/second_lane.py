"""The main job's second lane: a process that computes the rows marked ``lane=1`` in ``main_job.py`` ahead of
the main process, into the same caches (:class:`~mmdistill.apis.quickstart.SecondLane` starts it).

    python -m mmdistill.apis.second_lane --work-dir work_dirs/quickstart --world data/synthetic_world
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .console import MainJobConsole, StageFailed
from .quickstart import MAIN_JOB_CONFIG, SecondLane, load_main_job, run_section
from .runs import QuickstartPaths


def run_lane(paths: QuickstartPaths, seeds: Sequence[int], main_job: str = MAIN_JOB_CONFIG,
             include_all: bool = False) -> None:
    """Compute every ``lane=1`` row of the main job (the world and the tiny CLIP exist); one line per row on
    stdout, each step's output in its log file, and the rows' steps in ``second_lane.json``."""
    towers, sections = load_main_job(main_job)
    console = MainJobConsole(f'{paths.work_dir}/logs')
    with console:
        lane = SecondLane(paths, console, record=True)
        for section in sections:
            section.rows = [row for row in section.rows if row.lane == 1 and (row.default or include_all)]
            if section.rows:
                console.print(section.title)
                run_section(section, towers, paths, seeds, False, console, lane)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--world', required=True)
    parser.add_argument('--main-job', default=MAIN_JOB_CONFIG)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--all', action='store_true')
    args = parser.parse_args(argv)
    try:
        run_lane(QuickstartPaths(world=args.world, work_dir=args.work_dir), args.seeds, args.main_job, args.all)
    except StageFailed as error:
        print(f'the second lane stopped: {error}', flush=True)
        sys.exit(1)


if __name__ == '__main__':
    main()
