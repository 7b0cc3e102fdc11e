"""Benchmark any config: the training step's parts, FLOPs, utilisation, peak memory; inference of detectors
and segmentors (images/s, FLOPs, parameters).

    python tools/analysis/benchmark.py configs/clipself/clipself_patches_synthetic.py --steps 10 --warmup 2
    python tools/analysis/benchmark.py configs/scd/r_sc_clipself_eva02_b16_coco.py --device cuda --dtype bf16 \\
        --random-weights --synthetic --steps 20 --warmup 5 --compile --fused-optimizer --append-docs

Parts of a step: data, preprocess, the model's own parts (a distiller's teacher and student forwards;
C2S's student, teacher, latent mining and local CLS; a detector's or segmentor's backbone, neck, heads),
the rest of the loss forward (loss_other), backward, the optimiser step. Times are medians over the
measured steps (CUDA synchronised at every boundary); FLOPs (``torch.utils.flop_counter``: matrix products,
convolutions, attention; a multiply-add is 2) come from one extra step; utilisation is achieved TFLOP/s
against the device's peak for the compute dtype (``mmdistill/engine/flops.py``). ``--append-docs`` adds a
row to docs/benchmarks.md with the machine and torch version.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os.path as osp
import sys

if importlib.util.find_spec('mmdistill') is None:  # running from a source checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

import mmdistill  # noqa: E402,F401
from mmdistill.engine import benchmark as bench  # noqa: E402

DOCS = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'docs', 'benchmarks.md')


def add_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``mmdistill.engine.benchmark.BenchmarkOptions`` that every run shares."""
    parser.add_argument('--steps', type=int, default=20, help='measured steps')
    parser.add_argument('--warmup', type=int, default=5, help='steps before measuring')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--dtype', choices=bench.DTYPES, default='config')
    parser.add_argument('--random-weights', action='store_true', help='no checkpoints (speed does not depend on them)')
    parser.add_argument('--synthetic', action='store_true', help="random images instead of the config's dataset")
    parser.add_argument('--batch-size', type=int, help="images per step (default: the config's)")
    parser.add_argument('--image-size', type=int, nargs=2, metavar=('H', 'W'), help='synthetic image size')
    parser.add_argument('--infer-iters', type=int, default=10, help='timed inference images')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    add_options(parser)
    parser.add_argument('--compile', action='store_true', help="torch.compile the CLIP towers' blocks")
    parser.add_argument('--grad-checkpointing', action='store_true', help="the towers' activation checkpointing")
    parser.add_argument('--fused-optimizer', action='store_true', help='the optimiser with fused=True')
    parser.add_argument('--attention', choices=tuple(bench.ATTENTION), default='default', help='force one SDPA kernel')
    parser.add_argument('--no-inference', action='store_true', help='skip inference of detectors / segmentors')
    parser.add_argument('--keep-denormals', action='store_true',
                        help='leave CPU subnormal floats unflushed (training runs flush them)')
    parser.add_argument('--label', help='name of the row (default: the config file name)')
    parser.add_argument('--out', help='write the result as JSON here')
    parser.add_argument('--append-docs', action='store_true', help=f'append a row to {osp.relpath(DOCS)}')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        parser.error(f'--steps must be at least 1 and --warmup at least 0, got {args.steps} and {args.warmup}')
    return args


def options(args: argparse.Namespace, **overrides) -> bench.BenchmarkOptions:
    """``BenchmarkOptions`` from parsed arguments (``overrides`` win)."""
    fields = dict(steps=args.steps, warmup=args.warmup, device=args.device, dtype=args.dtype,
                  random_weights=args.random_weights, synthetic=args.synthetic, batch_size=args.batch_size,
                  image_size=tuple(args.image_size) if args.image_size else None, infer_iters=args.infer_iters)
    fields.update(overrides)
    return bench.BenchmarkOptions(**fields)


def main(argv=None) -> dict:
    args = parse_args(argv)
    opts = options(args, compile=args.compile, grad_checkpointing=args.grad_checkpointing,
                   fused_optimizer=args.fused_optimizer, attention=args.attention,
                   inference=not args.no_inference, cfg_options=args.cfg_options, label=args.label,
                   keep_denormals=args.keep_denormals)
    result = bench.benchmark_config(args.config, opts)
    print(f'\n{result["label"]} on {result["device"]}, {result["dtype"]}, batch {result["train"]["batch_size"]}, '
          f'median of {args.steps} steps; peak {result["peak_tflops"]} TFLOP/s ({result["peak_source"]})')
    print('\n'.join(result['train_table']))
    print(f'peak memory {result["train"]["peak_memory_mib"]:.0f} MiB; attention kernels '
          f'{result["train"]["attention_kernels"] or "none"}')
    if 'inference' in result:
        print(f'inference: {json.dumps(result["inference"])}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=1)
    if args.append_docs:
        bench.append_docs([bench.summary_row(result)], DOCS)
    return result


if __name__ == '__main__':
    main()
