"""Feature pictures of towers: PCA of the dense features to RGB, K-means segments of each image's map
(one row per tower), and t-SNE of mask-pooled class regions coloured by class (paper 001, App. A.2).
Writes pca.png, kmeans.png and tsne.png to --out-dir. (Detection and segmentation overlays of trained
models are the main job's pictures: mmdistill.visualization.predictions.)

    python tools/analysis/feature_pictures.py                                # quickstart towers, world val
    python tools/analysis/feature_pictures.py --indices 0 1 2 3 --k 5 --tsne-classes 6 --per-class 50
"""
from __future__ import annotations

import argparse
import importlib.util
import os.path as osp
import sys

if importlib.util.find_spec('mmdistill') is None:  # running from a source checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.utils import ProgressBar  # noqa: E402

import mmdistill  # noqa: E402,F401
from mmdistill.analysis.cli import add_common_args, load_data, load_towers  # noqa: E402
from mmdistill.analysis.pictures import (  # noqa: E402
    instance_features,
    kmeans_picture,
    pca_picture,
    sample_instances,
    save_rgb,
    tsne_picture,
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument('--indices', type=int, nargs='+', default=[0, 1, 2, 3], help='images for PCA / K-means')
    parser.add_argument('--k', type=int, default=6, help='K-means segments per image')
    parser.add_argument('--cell', type=int, default=160, help='tile side in pixels')
    parser.add_argument('--tsne-classes', type=int, default=8, help='the most frequent classes in the t-SNE')
    parser.add_argument('--tsne-names', nargs='+', default=(), help='classes in the t-SNE, by name (instead)')
    parser.add_argument('--per-class', type=int, default=60, help='regions per class in the t-SNE')
    parser.add_argument('--perplexity', type=float, default=30.0)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out-dir', default='work_dirs/analysis')
    return parser.parse_args(argv)


def main(argv=None) -> dict[str, str]:
    args = parse_args(argv)
    towers = load_towers(args)
    data = load_data(args)
    bad = [i for i in args.indices if not 0 <= i < len(data)]
    if bad:
        raise IndexError(f'--indices {bad} outside the set of {len(data)} images')
    unknown = [n for n in args.tsne_names if n not in data.class_names]
    if unknown:
        raise KeyError(f'--tsne-names {unknown} are not classes of the set: {data.class_names}')
    out = {'pca': save_rgb(pca_picture(towers, data, args.indices, args.cell), osp.join(args.out_dir, 'pca.png')),
           'kmeans': save_rgb(kmeans_picture(towers, data, args.indices, args.k, args.cell, args.seed),
                              osp.join(args.out_dir, 'kmeans.png'))}
    if data.labels is not None:
        print(f't-SNE of mask-pooled regions ({len(towers)} towers)')
        bar = ProgressBar(len(towers))
        features, chosen = {}, None
        for name, encoder in towers.items():
            feats, classes = instance_features(encoder, data)
            if chosen is None:  # the same regions for every tower
                chosen = sample_instances(classes, args.tsne_classes, args.per_class, args.seed,
                                          [data.class_names.index(n) for n in args.tsne_names])
            features[name] = feats[chosen]
            bar.update()
        print()
        out['tsne'] = tsne_picture(features, classes[chosen], data.class_names or [str(c) for c in range(256)],
                                   osp.join(args.out_dir, 'tsne.png'), args.perplexity, args.seed)
    for what, path in out.items():
        print(f'{what}: {path}')
    return out


if __name__ == '__main__':
    main()
