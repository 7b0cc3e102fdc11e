"""Every speed configuration of the real-scale stages in one call: one table, within 8 minutes on one GPU.

    python tools/analysis/gpu_speed.py --out work_dirs/gpu_speed          # on a GPU (random weights, no data)
    python tools/analysis/gpu_speed.py --smoke                            # the same rows on the world configs, CPU

Rows: CLIPSelf (proposals) and R-SC-CLIPSelf with EVA02-CLIP-B/16 at 1024, the Refiner stage, each with the
config's defaults (fp16 AMP) and with the fast options (bfloat16 autocast without a loss scaler, fused AdamW);
F-ViT and C2S training (and inference) with their defaults; then R-SC-CLIPSelf with activation checkpointing
(time for memory), CLIPSelf with the math attention kernel (what fused attention saves), and both with the
towers' blocks compiled (last: compiling takes longest). Synthetic images (1024-side distillation input made
from 480 x 640 images, 20 proposals each), random weights, ``--steps`` after ``--warmup``. Rows start while
the elapsed time (plus ``COMPILE_S`` for compiled rows) is under ``--budget`` seconds; the table is
rewritten after every row.
``--smoke``: the synthetic-world configs, 96-px images, batch 2, one step, no compile rows (this CPU's compile of every
tower shape takes minutes; ``tests/test_benchmark.py`` compiles a tower).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import os.path as osp
import sys
import time
import traceback

if importlib.util.find_spec('mmdistill') is None:  # running from a source checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

import mmdistill  # noqa: E402,F401
from mmdistill.datasets.ov_splits import OV_COCO_BASE  # noqa: E402
from mmdistill.datasets.synthetic import make_splits  # noqa: E402
from mmdistill.engine import benchmark as bench  # noqa: E402

FAST = dict(dtype='bf16', fused_optimizer=True)
# id -> (real-scale config, synthetic-world config, options)
ROWS = {
    'clipself': ('configs/clipself/clipself_eva02_b16_coco_proposals.py',
                 'configs/clipself/clipself_proposals_synthetic.py', {}),
    'clipself-fast': ('configs/clipself/clipself_eva02_b16_coco_proposals.py',
                      'configs/clipself/clipself_proposals_synthetic.py', FAST),
    'r-sc-clipself': ('configs/scd/r_sc_clipself_eva02_b16_coco.py', 'configs/scd/r_sc_clipself_synthetic.py', {}),
    'r-sc-clipself-fast': ('configs/scd/r_sc_clipself_eva02_b16_coco.py', 'configs/scd/r_sc_clipself_synthetic.py',
                           FAST),
    'refiner': ('configs/refiner/refiner_eva02_b16_coco.py', 'configs/refiner/refiner_synthetic.py', {}),
    'refiner-fast': ('configs/refiner/refiner_eva02_b16_coco.py', 'configs/refiner/refiner_synthetic.py', FAST),
    'fvit': ('configs/fvit/fvit_eva02-b16_fpn_8xb8-3e_ov-coco-640.py',
             'configs/fvit/fvit_tinyclip-p12_fpn_1xb8-250it_ov-synthetic.py', {}),  # base classes: *_OPTIONS
    'c2s': ('configs/c2s/c2s_segnext-mscan-b_8xb2-80k_coco-stuff156-15-512x512.py',
            'configs/c2s/c2s_segformer-mit-b0_1xb16-1k_synthetic-96.py', {}),
    'r-sc-clipself-fast-checkpointed': ('configs/scd/r_sc_clipself_eva02_b16_coco.py',
                                        'configs/scd/r_sc_clipself_synthetic.py', dict(FAST, grad_checkpointing=True)),
    'clipself-fast-math-attention': ('configs/clipself/clipself_eva02_b16_coco_proposals.py',
                                     'configs/clipself/clipself_proposals_synthetic.py', dict(FAST, attention='math')),
    'clipself-fast-compiled': ('configs/clipself/clipself_eva02_b16_coco_proposals.py',
                               'configs/clipself/clipself_proposals_synthetic.py', dict(FAST, compile=True)),
    'r-sc-clipself-fast-compiled': ('configs/scd/r_sc_clipself_eva02_b16_coco.py',
                                    'configs/scd/r_sc_clipself_synthetic.py', dict(FAST, compile=True)),
}
COMPILE_S = 150  # a compiled row's extra seconds (EVA02-B blocks at two token counts, forward and backward)
# what the configs read from data folders absent on a bare machine (real scale: COCO; smoke: the world's seed 0)
BASE_CLASSES = 'model.roi_head.bbox_head.vocabulary.base_classes'
REAL_OPTIONS = {'fvit': {BASE_CLASSES: list(OV_COCO_BASE)}}
WORLD_SPLITS = make_splits(0)
SMOKE_OPTIONS = {'fvit': {BASE_CLASSES: WORLD_SPLITS['ov_detection']['base']},
                 'c2s': {'model.vocabulary.unseen_classes': WORLD_SPLITS['zero_shot_segmentation']['unseen']}}
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--rows', nargs='+', choices=tuple(ROWS), default=list(ROWS))
    parser.add_argument('--smoke', action='store_true', help='synthetic-world configs, tiny settings (CPU)')
    parser.add_argument('--steps', type=int, help='measured steps (20; smoke: 1)')
    parser.add_argument('--warmup', type=int, help='steps before measuring (5; smoke: 1)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--budget', type=float, default=360, help='start no row after this many seconds')
    parser.add_argument('--out', default='work_dirs/gpu_speed', help='folder of table.md and results.json')
    parser.add_argument('--append-docs', action='store_true', help='append the rows to docs/benchmarks.md')
    return parser.parse_args(argv)


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    steps = args.steps or (1 if args.smoke else 20)
    warmup = args.warmup if args.warmup is not None else (1 if args.smoke else 5)
    start = time.perf_counter()
    results, rows, table = [], [], ''
    for row in args.rows:
        real, world, extra = ROWS[row]
        if args.smoke and extra.get('compile'):
            continue
        if time.perf_counter() - start + (COMPILE_S if extra.get('compile') else 0) > args.budget:
            print(f'{row}: skipped, {args.budget:.0f} s budget spent', flush=True)
            continue
        opts = bench.BenchmarkOptions(steps=steps, warmup=warmup, device=args.device, random_weights=True,
                                      synthetic=True, batch_size=2 if args.smoke else None, label=row,
                                      image_size=(96, 96) if args.smoke else None,  # the world's images
                                      infer_iters=2 if args.smoke else 10,
                                      cfg_options=(SMOKE_OPTIONS if args.smoke else REAL_OPTIONS).get(row), **extra)
        began = time.perf_counter()
        try:
            result = bench.benchmark_config(osp.join(REPO, world if args.smoke else real), opts)
        except Exception:  # one failing row must not cost the others
            traceback.print_exc()
            rows.append(f'| - | {row} | failed: see the log |')
        else:
            result['wall_s'] = time.perf_counter() - began
            results.append(result)
            rows.append(bench.summary_row(result))
            print(f'{row}: {1000 * result["train"]["step_seconds"]:.1f} ms per step, {result["wall_s"]:.0f} s',
                  flush=True)
        table = '\n'.join([bench.DOCS_HEADER, '|' + '---|' * (bench.DOCS_HEADER.count('|') - 1), *rows])
        with open(osp.join(args.out, 'table.md'), 'w') as f:
            f.write(table + '\n')
        with open(osp.join(args.out, 'results.json'), 'w') as f:
            json.dump(results, f, indent=1)
    print(table if rows else 'no row ran')
    print(f'total {time.perf_counter() - start:.0f} s')
    if args.append_docs:
        bench.append_docs(rows, osp.join(REPO, 'docs', 'benchmarks.md'))
    return results


if __name__ == '__main__':
    main()
