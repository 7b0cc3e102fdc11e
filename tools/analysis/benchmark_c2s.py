"""C2S costs: the training step's parts, and inference of the student against the stock model and a CLIP segmentor.

    python tools/analysis/benchmark_c2s.py configs/c2s/c2s_segformer-mit-b0_1xb16-1k_synthetic-96.py \\
        --clip-config configs/maskclip/maskclip_tinyclip-p12_synthetic-192.py
    python tools/analysis/benchmark_c2s.py configs/c2s/c2s_segformer-mit-b4_8xb2-80k_coco-stuff156-15-512x512.py \\
        --random-init --input-size 512 --clip-config configs/zero_shot_seg/zeroshot_vit-b16-openai_voc21-336.py

Step: median times of the student forward, the teacher's global pass, latent class mining, the local CLS
encoding (masked images, one teacher forward), the rest of the loss, backward and the optimiser step, each
also as a share of the step. Inference (one process, batch 1, ``--input-size`` square images): parameters,
FLOPs (``torch.utils.flop_counter``) and images/s of the exported C2S student (a stock ``EncoderDecoder``),
of the stock mmseg model with the same backbone and head, and of the training-free CLIP segmentor of
``--clip-config`` (whole-image inference at the same size).
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import statistics
import sys
import time
from collections import defaultdict
from typing import Callable

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
import mmdistill  # noqa: E402,F401
from mmdistill.seg.c2s.export import export_student, student_config  # noqa: E402

STEP_PARTS = ('student_forward', 'teacher_global', 'latent_mining', 'local_cls', 'loss_other', 'backward',
              'optimizer')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='a C2S training config')
    parser.add_argument('--clip-config', help='a training-free ZeroShotSegmentor config to compare inference with')
    parser.add_argument('--iters', type=int, default=10, help='measured training steps')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--infer-iters', type=int, default=20, help='measured inference images')
    parser.add_argument('--input-size', type=int, help='inference image side (default: the training crop)')
    parser.add_argument('--random-init', action='store_true', help='no checkpoints (speed does not depend on them)')
    parser.add_argument('--skip-step', action='store_true', help='inference only')
    parser.add_argument('--out', help='write the result as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


class TimedCall:
    """``target`` whose calls go through ``wrapper``; its attributes stay reachable."""

    def __init__(self, target: object, wrapper: Callable) -> None:
        self._target, self._wrapper = target, wrapper

    def __call__(self, *args, **kwargs):
        return self._wrapper(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._target, name)


class StepTimer:
    """Wall time of the C2S model's parts, installed as instance-level wrappers of its methods.

    The teacher forward on the masked images (inside ``local_cls_tokens``) counts as the local part, the
    other teacher forward as the global pass.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.local = False
        model.student_features = self.timed('student_forward', model.student_features)
        model.local_cls_tokens = self.timed('local_cls', model.local_cls_tokens, local=True)
        if model.teacher is not None:
            model.teacher.forward = self.timed('teacher_global', model.teacher.forward, skip_in_local=True)
        if model.miner is not None:
            model.miner = TimedCall(model.miner, self.timed('latent_mining', model.miner))

    def timed(self, part: str, fn: Callable, local: bool = False, skip_in_local: bool = False) -> Callable:
        def wrapper(*args, **kwargs):
            self.local = self.local or local
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                if not (skip_in_local and self.local):
                    self.totals[part] += time.perf_counter() - start
                if local:
                    self.local = False
        return wrapper


def strip_checkpoints(cfg: Config) -> None:
    """Random weights everywhere: no file is read."""
    model = cfg.model
    model.backbone.pop('init_cfg', None)
    for key in ('teacher', 'tower'):
        if model.get(key):
            model[key].checkpoint = None
    model.vocabulary.text.checkpoint = None


def step_breakdown(cfg: Config, iters: int, warmup: int) -> dict:
    """Median seconds per part of a training step (the config's batch), and their shares."""
    from mmengine.runner import Runner
    cfg.work_dir = cfg.get('work_dir') or '/tmp/benchmark_c2s'
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    runner = Runner.from_cfg(cfg)
    model, wrapper = runner.model, runner.build_optim_wrapper(cfg.optim_wrapper)
    model.train()
    batches = iter(runner.train_dataloader)
    samples: list[dict] = []
    timer = StepTimer(model)
    for step in range(warmup + iters):
        timer.totals.clear()
        totals = timer.totals
        data = model.data_preprocessor(next(batches), True)
        start = time.perf_counter()
        losses = model.loss(**data)
        loss_time = time.perf_counter() - start
        loss, _ = model.parse_losses(losses)
        start = time.perf_counter()
        wrapper.backward(loss)
        totals['backward'] = time.perf_counter() - start
        start = time.perf_counter()
        wrapper.step()
        wrapper.zero_grad()
        totals['optimizer'] = time.perf_counter() - start
        inside = sum(totals[p] for p in ('student_forward', 'teacher_global', 'latent_mining', 'local_cls'))
        totals['loss_other'] = max(loss_time - inside, 0.0)
        if step >= warmup:
            samples.append({p: totals.get(p, 0.0) for p in STEP_PARTS})
    median = {p: statistics.median(s[p] for s in samples) for p in STEP_PARTS}
    total = sum(median.values())
    return dict(seconds=median, step=total, share={p: median[p] / total for p in STEP_PARTS},
                batch=cfg.train_dataloader.batch_size)


def inference_cost(model: torch.nn.Module, size: int, iters: int) -> dict:
    """Parameters, FLOPs of one ``size x size`` image and images/s (batch 1, the model's tensor forward:
    class scores at the feature or input resolution, no post-processing)."""
    model.eval()
    image = torch.randn(1, 3, size, size)
    with torch.no_grad():
        with FlopCounterMode(display=False) as counter:
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
        strip_checkpoints(cfg)
    result: dict = dict(config=args.config, torch=torch.__version__, threads=torch.get_num_threads())
    if not args.skip_step:
        result['step'] = step_breakdown(cfg, args.iters, args.warmup)
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
