"""Semantic coupling ratio (paper 001, Eq. 15) of towers over random pairs of independent images.

Each pair goes through a tower alone and side by side; CR = mean over A's tokens of the joint / alone
similarity to their best match in B (1: no context leaks between the images). Default: the towers the
quickstart cached (tiny CLIP, distilled towers, the tiny CLIP through its Refiner) on the world's val images.

    python tools/analysis/coupling_ratio.py                                  # the quickstart's towers
    python tools/analysis/coupling_ratio.py --tower clip=checkpoints/EVA02_CLIP_B_psz16_s8B.pt \\
        --arch EVA02-B-16 --img-dir data/coco/val2017 --size 224 --num-pairs 500
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import os.path as osp
import sys

if importlib.util.find_spec('mmdistill') is None:  # running from a source checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import mmdistill  # noqa: E402,F401
from mmdistill.analysis.cli import add_common_args, load_data, load_towers  # noqa: E402
from mmdistill.analysis.coupling import dataset_coupling_ratio  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser, labels=False)
    parser.add_argument('--num-pairs', type=int, default=200, help='disjoint random pairs (2 images each)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--out', default='work_dirs/analysis/coupling_ratio.json')
    return parser.parse_args(argv)


def main(argv=None) -> dict[str, dict]:
    args = parse_args(argv)
    towers = load_towers(args)
    data = load_data(args)
    results = {}
    for name, encoder in towers.items():
        print(f'{name}: {args.num_pairs} pairs')
        c = dataset_coupling_ratio(encoder, data.images, args.num_pairs, args.seed, args.batch_size, progress=True)
        results[name] = dict(cr=c.ratio.mean().item(), median=c.ratio.median().item(),
                             ratio_of_means=c.ratio_of_means, joint=c.joint.mean().item(),
                             alone=c.alone.mean().item(), pairs=len(c.ratio))
    print('\n| tower | CR (Eq. 15, mean over pairs) | median over pairs | ratio of means | mean cos joint | '
          'mean cos alone |\n|---|---|---|---|---|---|')
    for name, r in results.items():
        print(f'| {name} | {r["cr"]:.2f} | {r["median"]:.2f} | {r["ratio_of_means"]:.2f} | {r["joint"]:.3f} '
              f'| {r["alone"]:.3f} |')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(dict(size=args.size, seed=args.seed, results=results), f, indent=1)
    print(f'written: {args.out}')
    return results


if __name__ == '__main__':
    main()
