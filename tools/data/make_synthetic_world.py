"""Generate the synthetic world (the project's embedded default dataset).

Example:
    python tools/data/make_synthetic_world.py --out data/synthetic_world --seed 0 --workers 2
"""
from __future__ import annotations

import argparse
import time

from mmdistill.datasets.synthetic import (
    DEFAULT_NUM_TRAIN,
    DEFAULT_NUM_VAL,
    generate_world,
    load_world_meta,
    world_is_complete,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default='data/synthetic_world', help='output folder')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-train', type=int, default=DEFAULT_NUM_TRAIN)
    parser.add_argument('--num-val', type=int, default=DEFAULT_NUM_VAL)
    parser.add_argument('--image-size', type=int, default=96)
    parser.add_argument('--workers', type=int, default=2, help='processes (the output does not depend on it)')
    parser.add_argument('--force', action='store_true', help='regenerate even if the same world exists')
    return parser.parse_args()


def summary(meta: dict) -> str:
    lines = [f"world: seed {meta['seed']}, {meta['params']['image_size']} px, "
             f"{len(meta['thing_classes'])} thing + {len(meta['stuff_classes'])} stuff classes"]
    for split, counts in meta['counts'].items():
        lines.append(
            f"  {split}: {counts['images']} images ({counts['closeups']} close-ups), {counts['instances']} "
            f"instances ({counts['in_context_fraction']:.1%} in context, {counts['small_instances']} small), "
            f"{counts['captions']} captions, {counts['proposals']} proposals")
    ov, zs = meta['splits']['ov_detection'], meta['splits']['zero_shot_segmentation']
    lines.append(f"  novel things: {', '.join(ov['novel'])}")
    lines.append(f"  unseen classes: {', '.join(zs['unseen'])}")
    return '\n'.join(lines)


def main() -> None:
    args = parse_args()
    params = dict(seed=args.seed, num_train=args.num_train, num_val=args.num_val, image_size=args.image_size)
    if not args.force and world_is_complete(args.out, **params):
        print(f'{args.out} already holds this world (same parameters); skipping (use --force to regenerate)')
        print(summary(load_world_meta(args.out)))
        return
    start = time.perf_counter()
    meta = generate_world(args.out, workers=args.workers, force=True, progress=True, **params)
    print(f'wrote {args.out} in {time.perf_counter() - start:.1f} s')
    print(summary(meta))


if __name__ == '__main__':
    main()
