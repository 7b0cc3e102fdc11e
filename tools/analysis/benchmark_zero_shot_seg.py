"""Images/s of training-free zero-shot segmentation inference, whole-image and sliding-window.

Builds the segmentor of an mmseg test config and times ``model.test_step`` (data preprocessor, tower,
text classifier, upsampling, mmseg's post-processing; mean after warm-up, with counted FLOPs, through
:func:`mmdistill.engine.profiling.profile_inference`) on random images of one size; the speed does
not depend on the weights, so ``--random-weights`` drops the checkpoints of the tower and text side.

    python tools/analysis/benchmark_zero_shot_seg.py configs/maskclip/maskclip_tinyclip-p12_synthetic-192.py \\
        --size 192 --batch-size 8 --crop-size 96 --stride 64
    python tools/analysis/benchmark_zero_shot_seg.py configs/zero_shot_seg/zeroshot_vit-b16-openai_voc21-336.py \\
        --random-weights --size 448 --batch-size 1

Slide windows default to the config's ``test_cfg`` (``crop_size`` / ``stride``) or else to the tower's
native size every half window. Prints a markdown table (and writes it as JSON with ``--out``).
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
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import mmdistill  # noqa: E402,F401  (compat fixes before any config is read)
from mmdistill.engine.flops import device_name  # noqa: E402
from mmdistill.engine.profiling import profile_inference  # noqa: E402
from mmdistill.seg.inference import check_test_cfg, window_boxes  # noqa: E402

MODES = ('whole', 'slide')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='mmseg test config of a ZeroShotSegmentor')
    parser.add_argument('--size', type=int, nargs='+', default=[448], help='image height [width] in pixels')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--modes', nargs='+', choices=MODES, default=list(MODES))
    parser.add_argument('--crop-size', type=int, help='slide window side (default: config or tower native size)')
    parser.add_argument('--stride', type=int, help='slide stride (default: config or half the window)')
    parser.add_argument('--iters', type=int, default=5, help='timed batches per mode')
    parser.add_argument('--warmup', type=int, default=1, help='batches before timing')
    parser.add_argument('--random-weights', action='store_true', help='no checkpoints (tower and text side)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, help='CPU threads (torch.set_num_threads); default: torch\'s')
    parser.add_argument('--out', help='write the rows as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='config overrides, key=value')
    args = parser.parse_args(argv)
    if len(args.size) > 2 or min(args.size) < 1 or args.batch_size < 1 or args.iters < 1:
        parser.error('--size takes one or two positive sides; --batch-size and --iters must be positive')
    return args


def build_segmentor(args: argparse.Namespace) -> torch.nn.Module:
    """The config's model in its default scope, checkpoints dropped with ``--random-weights``."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.model.get('type') != 'ZeroShotSegmentor':
        raise ValueError(f'{args.config}: model.type is {cfg.model.get("type")!r}, not ZeroShotSegmentor')
    if args.random_weights:
        cfg.model.tower.checkpoint = None
        cfg.model.vocabulary.text.checkpoint = None
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import MODELS
    return MODELS.build(cfg.model).to(args.device).eval()


def random_batch(size: tuple[int, int], batch_size: int) -> dict:
    """``batch_size`` random uint8 images ``(3, H, W)`` with the metadata mmseg's test pipeline gives."""
    from mmseg.structures import SegDataSample
    meta = dict(img_shape=size, ori_shape=size, pad_shape=size, scale_factor=(1.0, 1.0), flip=False)
    return dict(inputs=[torch.randint(0, 256, (3, *size), dtype=torch.uint8) for _ in range(batch_size)],
                data_samples=[SegDataSample(metainfo=meta) for _ in range(batch_size)])


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    size = (args.size[0], args.size[-1])
    model = build_segmentor(args)
    test_cfg = model.test_cfg
    crop = args.crop_size or (test_cfg.crop_size[0] if test_cfg.get('crop_size') else model.tower.native_size[0])
    stride = args.stride or (test_cfg.stride[0] if test_cfg.get('stride') else crop // 2)
    batch = random_batch(size, args.batch_size)
    rows = []
    for mode in args.modes:
        model.test_cfg = check_test_cfg(dict(mode=mode, crop_size=(crop, crop), stride=(stride, stride)))
        windows = len(window_boxes(size, (crop, crop), (stride, stride))) if mode == 'slide' else 1
        cost = profile_inference(model, batch, args.iters, args.warmup, args.device)
        seconds = args.batch_size / cost['images_per_s']
        rows.append(dict(config=osp.basename(args.config), arch=model.tower.arch, size=f'{size[0]}x{size[1]}',
                         mode=mode if mode == 'whole' else f'slide {crop}/{stride}', windows=windows,
                         batch=args.batch_size, seconds_per_batch=round(seconds, 4),
                         images_per_s=round(cost['images_per_s'], 2),
                         gflops_per_image=round(cost['gflops_per_image'], 2), device=device_name(args.device)))
    print('| config | tower | size | mode | windows / image | batch | s / batch | images/s | GFLOP / image |')
    print('|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(f'| {r["config"]} | {r["arch"]} | {r["size"]} | {r["mode"]} | {r["windows"]} | {r["batch"]} '
              f'| {r["seconds_per_batch"]:.3f} | {r["images_per_s"]:.1f} | {r["gflops_per_image"]:.2f} |')
    print(f'device: {rows[0]["device"]}, float32')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(rows, f, indent=1)
    return rows


if __name__ == '__main__':
    main()
