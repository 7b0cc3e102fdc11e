"""Time the web demo's models on the world's val images: loading once, then the page's Run per image.

    python tools/analysis/benchmark_web_demo.py                       # the main job's models
    python tools/analysis/benchmark_web_demo.py --random              # its configs with random weights (same speed)
    python tools/analysis/benchmark_web_demo.py --images 20 --threads 2 --config CONFIG --checkpoint CHECKPOINT

Per model (kind and tower): the load time (first use, cached after), the first Run with a new vocabulary
(its text embeddings) and the median / max of the Runs on ``--images`` world val images with that vocabulary
(inference, the overlay and the scores; what the page waits for), for each readout of the training-free
models, with the process's CPU time per Run (all threads; on a busy machine the wall time overstates what an
idle one takes, the CPU time does not). Prints a markdown table.
"""
import argparse
import os
import os.path as osp
import statistics
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

import torch  # noqa: E402

from mmdistill.apis.web_demo import (  # noqa: E402
    KINDS,
    READOUTS,
    WebDemo,
    config_model,
    quickstart_models,
    random_world_models,
    world_examples,
)

VOCABULARY = 'red circle, blue heart, yellow star, striped square, grass;lawn, sky, water, road'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', action='append', default=[], help='a model config instead of the main job\'s')
    parser.add_argument('--checkpoint', action='append', default=[], help='its weights (one per --config, or none)')
    parser.add_argument('--random', action='store_true',
                        help="the main job's world configs with random weights instead of its trained models")
    parser.add_argument('--work-dir', default='work_dirs/quickstart')
    parser.add_argument('--world', default='data/synthetic_world')
    parser.add_argument('--images', type=int, default=10, help='world val images timed per model')
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    parser.add_argument('--texts', default=VOCABULARY)
    return parser.parse_args(argv)


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.config:
        checkpoints = args.checkpoint + [None] * (len(args.config) - len(args.checkpoint))
        models = [config_model(c, k) for c, k in zip(args.config, checkpoints)]
    elif args.random:
        with tempfile.TemporaryDirectory() as tmp:
            return timings(random_world_models(args.world, tmp, repo=REPO), args)
    else:
        models = quickstart_models(args.work_dir, args.world)
    return timings(models, args)


def timings(models: list, args: argparse.Namespace) -> list[dict]:
    """Load, first Run and Runs of each model; the table's rows."""
    images = world_examples(args.world, args.images)
    if not images:
        sys.exit(f'no val images under {args.world}/val2017')
    demo = WebDemo(models, device='cpu')
    rows = []
    print(f'{len(images)} world val images, {args.threads} threads, torch {torch.__version__}, load average '
          f'{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n')
    print('| model | tower | load (s) | first Run, new vocabulary (s) | Run median / max (s) | CPU time per Run (s) |\n'
          '|---|---|---|---|---|---|')
    for model in models:
        start = time.perf_counter()
        demo.inferencer(model)
        load = time.perf_counter() - start
        start = time.perf_counter()
        demo.predict(images[0], args.texts, model.kind, model.tower)
        first = time.perf_counter() - start
        for readout in READOUTS if model.kind == 'training_free' else [None]:
            runs, cpu = [], []
            for image in images:
                start, start_cpu = time.perf_counter(), time.process_time()
                demo.predict(image, args.texts, model.kind, model.tower, readout)
                runs.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
            row = dict(kind=model.kind, tower=model.tower, readout=readout, load=load, first=first,
                       median=statistics.median(runs), max=max(runs), cpu=statistics.median(cpu))
            rows.append(row)
            what = KINDS[model.kind] + (f', {readout}' if readout else '')
            print(f'| {what} | {model.tower} | {load:.2f} | {first:.3f} | {row["median"]:.3f} / {row["max"]:.3f} | '
                  f'{row["cpu"]:.3f} |', flush=True)
    return rows


if __name__ == '__main__':
    main()
