"""Time the web demo's models on the world's val images: loading once, then the page's Run per image.

    python tools/analysis/benchmark_web_demo.py                       # the main job's models
    python tools/analysis/benchmark_web_demo.py --images 20 --threads 2 --config CONFIG --checkpoint CHECKPOINT

Per model (kind and tower): the load time (first use, cached after), the first Run with a new vocabulary
(its text embeddings) and the median / max of the Runs on ``--images`` world val images with that vocabulary
(inference, the overlay and the scores; what the page waits for). Prints a markdown table.
"""
import argparse
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

from mmdistill.apis.web_demo import KINDS, WebDemo, config_model, quickstart_models, world_examples  # noqa: E402

VOCABULARY = 'red circle, blue heart, yellow star, striped square, grass;lawn, sky, water, road'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', action='append', default=[], help='a model config instead of the main job\'s')
    parser.add_argument('--checkpoint', action='append', default=[], help='its weights (one per --config, or none)')
    parser.add_argument('--work-dir', default='work_dirs/quickstart')
    parser.add_argument('--world', default='data/synthetic_world')
    parser.add_argument('--images', type=int, default=10, help='world val images timed per model')
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    parser.add_argument('--readout', default='value (MaskCLIP)', help='of the training-free models')
    parser.add_argument('--texts', default=VOCABULARY)
    return parser.parse_args(argv)


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.config:
        checkpoints = args.checkpoint + [None] * (len(args.config) - len(args.checkpoint))
        models = [config_model(c, k) for c, k in zip(args.config, checkpoints)]
    else:
        models = quickstart_models(args.work_dir, args.world)
    images = world_examples(args.world, args.images)
    if not images:
        sys.exit(f'no val images under {args.world}/val2017')
    demo = WebDemo(models, device='cpu')
    rows = []
    print(f'{len(images)} world val images, {args.threads} threads, torch {torch.__version__}\n')
    print('| model | tower | load (s) | first Run, new vocabulary (s) | Run median / max (s) |\n|---|---|---|---|---|')
    for model in models:
        start = time.perf_counter()
        demo.inferencer(model)
        load = time.perf_counter() - start
        start = time.perf_counter()
        demo.predict(images[0], args.texts, model.kind, model.tower, args.readout)
        first = time.perf_counter() - start
        runs = []
        for image in images:
            start = time.perf_counter()
            demo.predict(image, args.texts, model.kind, model.tower, args.readout)
            runs.append(time.perf_counter() - start)
        row = dict(kind=model.kind, tower=model.tower, load=load, first=first, median=statistics.median(runs),
                   max=max(runs))
        rows.append(row)
        print(f'| {KINDS[model.kind]} | {model.tower} | {load:.2f} | {first:.3f} | {row["median"]:.3f} / '
              f'{row["max"]:.3f} |', flush=True)
    return rows


if __name__ == '__main__':
    main()
