"""The training-free segmentation table (towers x readouts) under protocol variants: position resize,
post-processing, whole image or sliding windows; one process, one ``Runner.test()`` per cell.

    python tools/analysis/zero_shot_protocol.py configs/maskclip/maskclip_tinyclip-p12_synthetic-192.py \\
        --row "tiny CLIP=work_dirs/quickstart/tiny_clip.pt@value,sclip,clearclip,naclip" \\
        --row "CLIPSelf=work_dirs/quickstart/towers/<tower>.pt@value" --out work_dirs/zero_shot_protocol

Variants (``--variants``), all in the peers' inference order (cosine logits upsampled and averaged, one
softmax): ``timm`` (timm's antialiased position resize), ``resize`` (SCLIP / ClearCLIP / NACLIP's bicubic
resize with the +0.1 scale factor), ``pamr`` (``resize`` plus PAMR, 10 steps, dilations 8 and 16). The numbers
of the earlier order (softmax on the patch grid, probabilities averaged) are in docs/benchmarks.md.
Modes (``--modes``): ``whole``, and ``slide`` (``--crop`` px windows every ``--stride`` px).
Writes ``results.json`` (resumable: cells already there are not run again) and ``results.md`` to ``--out``.
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

from mmengine.config import DictAction  # noqa: E402

import mmdistill  # noqa: E402,F401  (compat fixes before any config is read)
from mmdistill.apis.seg_benchmarks import OK, run_benchmark  # noqa: E402

VARIANTS = {
    'timm': {'model.tower.pos_embed_resize': 'timm'},
    'resize': {'model.tower.pos_embed_resize': 'bicubic_offset'},
    'pamr': {'model.tower.pos_embed_resize': 'bicubic_offset',
             'model.post_processor': dict(type='PAMR', num_iter=10, dilations=(8, 16))},
}
MODES = ('whole', 'slide')
METRICS = ('mIoU', 'hIoU')


def parse_row(text: str) -> tuple[str, str, list[str]]:
    """``'LABEL=CHECKPOINT@readout,readout'`` -> ``(label, checkpoint, readouts)`` (default readout: value)."""
    label, _, rest = text.partition('=')
    checkpoint, _, readouts = rest.partition('@')
    if not label or not checkpoint:
        raise argparse.ArgumentTypeError(f'--row wants LABEL=CHECKPOINT[@readout,...], got {text!r}')
    return label, checkpoint, readouts.split(',') if readouts else ['value']


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='test config of a ZeroShotSegmentor')
    parser.add_argument('--row', type=parse_row, action='append', required=True, help='LABEL=CHECKPOINT[@readouts]')
    parser.add_argument('--variants', nargs='+', choices=list(VARIANTS), default=['timm', 'resize'])
    parser.add_argument('--modes', nargs='+', choices=MODES, default=list(MODES))
    parser.add_argument('--crop', type=int, default=96, help='slide window side, px')
    parser.add_argument('--stride', type=int, default=64, help='slide stride, px')
    parser.add_argument('--out', default='work_dirs/zero_shot_protocol')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='overrides for every cell, key=value pairs, e.g. test_dataloader.dataset.indices=100')
    return parser.parse_args(argv)


def cell_options(variant: str, mode: str, crop: int, stride: int, extra: dict) -> dict:
    test_cfg = dict(mode='whole') if mode == 'whole' else dict(mode='slide', crop_size=(crop, crop),
                                                               stride=(stride, stride))
    return {**extra, **VARIANTS[variant], 'model.test_cfg': test_cfg}


def format_table(results: dict, rows: list, variants: list, modes: list) -> str:
    """Markdown: a row per (tower, readout), a column per (mode, variant), cells ``mIoU / hIoU``."""
    columns = [(m, v) for m in modes for v in variants]
    lines = ['| tower, readout | ' + ' | '.join(f'{m}: {v}' for m, v in columns) + ' |',
             '|---' * (len(columns) + 1) + '|']
    for label, _, readouts in rows:
        for readout in readouts:
            cells = []
            for mode, variant in columns:
                metrics = results.get(f'{label}|{readout}|{mode}|{variant}')
                cells.append(' / '.join(f'{metrics[k]:.1f}' for k in METRICS if k in metrics) if metrics else '-')
            lines.append(f'| {label}, {readout} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    store = osp.join(args.out, 'results.json')
    results = json.load(open(store)) if osp.isfile(store) else {}
    failed = 0
    for label, checkpoint, readouts in args.row:
        for readout in readouts:
            for mode in args.modes:
                for variant in args.variants:
                    key = f'{label}|{readout}|{mode}|{variant}'
                    if key in results:
                        continue
                    options = cell_options(variant, mode, args.crop, args.stride, args.cfg_options)
                    result = run_benchmark(args.config, osp.join(args.out, 'runs'), tower_checkpoint=checkpoint,
                                           dense_path=readout, cfg_options=options)
                    if result.status != OK:
                        print(f'{key}: {result.status}: {result.message}')
                        failed += 1
                        continue
                    results[key] = result.metrics
                    print(f'{key}: ' + ', '.join(f'{k} {v:.2f}' for k, v in result.metrics.items()), flush=True)
                    with open(store, 'w') as f:
                        json.dump(results, f, indent=1)
    table = format_table(results, args.row, args.variants, args.modes)
    with open(osp.join(args.out, 'results.md'), 'w') as f:
        f.write(table)
    print(table)
    return int(failed > 0)


if __name__ == '__main__':
    sys.exit(main())
