"""Affinity maps (paper 001, Fig. 5): cosine similarity of a query token with every token of its image,
one row per tower, the query marked; one PNG.

    python tools/analysis/affinity_maps.py                                   # quickstart towers, 2 world images
    python tools/analysis/affinity_maps.py --indices 0 5 --points 0.3,0.6 0.7,0.4 --out work_dirs/analysis/aff.png
    python tools/analysis/affinity_maps.py --tower base=checkpoints/ViT-B-16.pt --arch ViT-B-16-quickgelu \\
        --img-dir data/coco/val2017 --size 448 --grid 3
"""
from __future__ import annotations

import argparse
import importlib.util
import os.path as osp
import sys

if importlib.util.find_spec('mmdistill') is None:  # running from a source checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import mmdistill  # noqa: E402,F401
from mmdistill.analysis.cli import add_common_args, load_data, load_towers  # noqa: E402
from mmdistill.analysis.pictures import affinity_picture, grid_points, save_rgb  # noqa: E402


def point(text: str) -> tuple[float, float]:
    """``'x,y'`` in [0, 1] (relative to the image's width and height)."""
    try:
        x, y = (float(v) for v in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(f'a query point is x,y in [0, 1], got {text!r}') from None
    if not (0 <= x <= 1 and 0 <= y <= 1):
        raise argparse.ArgumentTypeError(f'a query point is x,y in [0, 1], got {text!r}')
    return x, y


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser, labels=False)
    parser.add_argument('--indices', type=int, nargs='+', default=[0, 1], help='images of the set to show')
    queries = parser.add_mutually_exclusive_group()
    queries.add_argument('--points', type=point, nargs='+', help='query points x,y in [0, 1], for every image')
    queries.add_argument('--grid', type=int, default=2, help='a GRID x GRID grid of query points per image')
    parser.add_argument('--cell', type=int, default=160, help='tile side in pixels')
    parser.add_argument('--out', default='work_dirs/analysis/affinity_maps.png')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    towers = load_towers(args)
    if args.num_images is None:  # only the images shown
        args.num_images = max(args.indices) + 1
    data = load_data(args)
    bad = [i for i in args.indices if not 0 <= i < len(data)]
    if bad:
        raise IndexError(f'--indices {bad} outside the set of {len(data)} images')
    points = args.points or grid_points(args.grid)
    path = save_rgb(affinity_picture(towers, data, args.indices, points, args.cell), args.out)
    print(f'affinity maps ({len(towers)} towers, {len(args.indices) * len(points)} queries): {path}')
    return path


if __name__ == '__main__':
    main()
