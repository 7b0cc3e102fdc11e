"""Unsupervised-segmentation probe: k-means over the dense features of a labelled image set, clusters
matched to classes by the Hungarian algorithm, mIoU (paper 001's visual-centric measure, Table 9).

    python tools/analysis/segmentation_probe.py                              # the quickstart's towers, world val
    python tools/analysis/segmentation_probe.py --tower base=checkpoints/ViT-B-16.pt --arch ViT-B-16-quickgelu \\
        --img-dir data/coco/val2017 --ann-dir data/coco/stuffthingmaps/val2017 --size 320 --num-images 500
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
from mmdistill.analysis.clustering import segmentation_probe  # noqa: E402
from mmdistill.analysis.encoders import dense_maps  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument('--clusters', type=int, default=0, help='k of k-means (default: the number of classes)')
    parser.add_argument('--iters', type=int, default=50, help='Lloyd iterations at most')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--out', default='work_dirs/analysis/segmentation_probe.json')
    return parser.parse_args(argv)


def main(argv=None) -> dict[str, dict]:
    args = parse_args(argv)
    towers = load_towers(args)
    data = load_data(args)
    if data.labels is None:
        raise ValueError('the probe needs label maps: --ann-dir with --img-dir, or the world')
    num_classes = len(data.class_names) or int(data.labels[data.labels != data.ignore_index].max()) + 1
    results = {}
    for name, encoder in towers.items():
        print(f'{name}: {len(data)} images')
        dense = dense_maps(encoder, data.images, args.batch_size, progress=True)
        r = segmentation_probe(dense, data.labels, num_classes, args.clusters, data.ignore_index, args.seed,
                               args.iters)
        results[name] = dict(miou=r.miou, accuracy=r.accuracy, iou=[None if v != v else v for v in r.iou.tolist()])
    print('\n| tower | probe mIoU (%) | pixel accuracy (%) |\n|---|---|---|')
    for name, r in results.items():
        print(f'| {name} | {100 * r["miou"]:.1f} | {100 * r["accuracy"]:.1f} |')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(dict(size=args.size, images=len(data), classes=data.class_names, results=results), f, indent=1)
    print(f'written: {args.out}')
    return results


if __name__ == '__main__':
    main()
