"""C2S costs: the training step's parts, and inference of the student against the stock model and a CLIP segmentor.

    python tools/analysis/benchmark_c2s.py configs/c2s/c2s_segformer-mit-b0_1xb16-1k_synthetic-96.py \\
        --clip-config configs/maskclip/maskclip_tinyclip-p12_synthetic-192.py
    python tools/analysis/benchmark_c2s.py configs/c2s/c2s_segformer-mit-b4_8xb2-80k_coco-stuff156-15-512x512.py \\
        --random-init --input-size 512 --clip-config configs/zero_shot_seg/zeroshot_vit-b16-openai_voc21-336.py

Step: ``tools/analysis/benchmark.py``'s profile (median times and counted FLOPs of the student forward, the
teacher's global pass, latent class mining, the local CLS encoding (masked images, one teacher forward), the
rest of the loss, backward and the optimiser step; ``--synthetic``: random images instead of the dataset).
Inference (one process, batch 1, ``--input-size`` square images): parameters, FLOPs
(``torch.utils.flop_counter``, attention included: ``mmdistill.engine.flops.counting``) and images/s of the
exported C2S student (a stock ``EncoderDecoder``), of the stock mmseg model with the same backbone and head,
and of the training-free CLIP segmentor of ``--clip-config`` (whole-image inference at the same size).
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import sys
import time

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
import mmdistill  # noqa: E402,F401
from mmdistill.engine.benchmark import BenchmarkOptions, benchmark_config, strip_checkpoints  # noqa: E402
from mmdistill.engine.flops import counting  # noqa: E402
from mmdistill.seg.c2s.export import export_student, student_config  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='a C2S training config')
    parser.add_argument('--clip-config', help='a training-free ZeroShotSegmentor config to compare inference with')
    parser.add_argument('--iters', type=int, default=10, help='measured training steps')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--infer-iters', type=int, default=20, help='measured inference images')
    parser.add_argument('--input-size', type=int, help='inference image side (default: the training crop)')
    parser.add_argument('--random-init', action='store_true', help='no checkpoints (speed does not depend on them)')
    parser.add_argument('--synthetic', action='store_true', help="random images instead of the config's dataset")
    parser.add_argument('--skip-step', action='store_true', help='inference only')
    parser.add_argument('--out', help='write the result as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def inference_cost(model: torch.nn.Module, size: int, iters: int) -> dict:
    """Parameters, FLOPs of one ``size x size`` image and images/s (batch 1, the model's tensor forward:
    class scores at the feature or input resolution, no post-processing)."""
    model.eval()
    image = torch.randn(1, 3, size, size)
    with torch.no_grad():
        with counting('cpu') as counter:
            model(image, mode='tensor')
        for _ in range(2):
            model(image, mode='tensor')
        start = time.perf_counter()
        for _ in range(iters):
            model(image, mode='tensor')
        seconds = time.perf_counter() - start
    return dict(params=sum(p.numel() for p in model.parameters()), gflops=counter.get_total_flops() / 1e9,
                images_per_s=iters / seconds)


def main() -> None:
    args = parse_args()
    from mmseg.registry import MODELS
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.random_init:
        strip_checkpoints(cfg.model)
    result: dict = dict(config=args.config, torch=torch.__version__, threads=torch.get_num_threads())
    if not args.skip_step:
        opts = BenchmarkOptions(steps=args.iters, warmup=args.warmup, device='cpu', random_weights=args.random_init,
                                synthetic=args.synthetic, inference=False, cfg_options=args.cfg_options)
        result['step'] = benchmark_config(args.config, opts)['train']
    size = args.input_size or cfg.model.data_preprocessor['size'][0]
    with DefaultScope.overwrite_default_scope('mmseg'):
        c2s = MODELS.build(cfg.model)
        state, classes = export_student(c2s.eval())
        exported = MODELS.build(student_config(cfg, classes).model)
        exported.load_state_dict(state)
        stock = MODELS.build(student_config(cfg, classes).model)  # the same stock model, freshly initialised
        models = {'C2S student (exported)': exported, 'stock mmseg model': stock}
        if args.clip_config:
            clip_cfg = Config.fromfile(args.clip_config)
            if args.random_init:
                clip_cfg.model.tower.checkpoint = None
                clip_cfg.model.vocabulary.text.checkpoint = None
            clip_cfg.model.vocabulary.classes = classes
            clip_cfg.model.test_cfg = dict(mode='whole')
            models[f'training-free CLIP ({clip_cfg.model.tower.arch})'] = MODELS.build(clip_cfg.model)
    result['inference'] = {name: inference_cost(m, size, args.infer_iters) for name, m in models.items()}
    result['input_size'] = size
    print(json.dumps(result, indent=1))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=1)


if __name__ == '__main__':
    main()
