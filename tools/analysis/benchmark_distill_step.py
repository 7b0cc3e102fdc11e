"""Break a distillation training step into its parts and report the share that is not model compute.

    python tools/analysis/benchmark_distill_step.py configs/clipself/clipself_patches_synthetic.py
    python tools/analysis/benchmark_distill_step.py CONFIG --random-init --device cuda --amp   # real-scale speed

Parts of a step: waiting for data, the data preprocessor, teacher forwards, the student
forward, the rest of the loss (views, crops, RoI pooling, loss math), backward, the optimiser
step. Model compute = teacher forwards + student forward + backward + optimiser step; the
rest is overhead. Times are medians over the measured steps (CUDA synchronised).
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import statistics
import sys
import time
from collections import defaultdict

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
import mmdistill  # noqa: E402,F401
from mmdistill.utils.runtime import replace_amp_wrapper  # noqa: E402

PARTS = ('data', 'preprocess', 'teacher_forward', 'student_forward', 'loss_other', 'backward', 'optimizer')
MODEL_PARTS = ('teacher_forward', 'student_forward', 'backward', 'optimizer')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('--iters', type=int, default=20, help='measured steps')
    parser.add_argument('--warmup', type=int, default=3, help='steps before measuring')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', action='store_true', help='bf16 autocast (fp16 AmpOptimWrapper on CUDA)')
    parser.add_argument('--random-init', action='store_true', help='ignore checkpoints (speed does not depend on them)')
    parser.add_argument('--out', help='write the result as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


class Clock:
    """Accumulates wall time per part; synchronises CUDA at every boundary."""

    def __init__(self, device: str) -> None:
        self.cuda = device.startswith('cuda')
        self.totals: dict[str, float] = defaultdict(float)

    def now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def hook(self, module: torch.nn.Module, part: str) -> None:
        """Time every forward of ``module`` (outermost calls only) into ``part``."""
        state = {'depth': 0, 'start': 0.0}

        def pre(*_):
            if state['depth'] == 0:
                state['start'] = self.now()
            state['depth'] += 1

        def post(*_):
            state['depth'] -= 1
            if state['depth'] == 0:
                self.totals[part] += self.now() - state['start']

        module.register_forward_pre_hook(pre)
        module.register_forward_hook(post)


def build(args: argparse.Namespace) -> Runner:
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.random_init:
        replace_checkpoints(cfg.model)
    cfg.work_dir = '/tmp/mmdistill_benchmark'
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=args.iters + args.warmup)
    on_cuda = args.device.startswith('cuda')
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper' if on_cuda else 'BF16OptimWrapper'
    elif not on_cuda:  # mmengine's AMP wrapper refuses CPUs: AMP configs are measured in fp32 there
        replace_amp_wrapper(cfg.optim_wrapper)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10 ** 9)
    return Runner.from_cfg(cfg)


def replace_checkpoints(node) -> None:
    if isinstance(node, dict):
        for k in list(node):
            if k == 'checkpoint':
                node[k] = None
            else:
                replace_checkpoints(node[k])
    elif isinstance(node, list):
        for v in node:
            replace_checkpoints(v)


def main() -> None:
    args = parse_args()
    runner = build(args)
    model = runner.model.to(args.device)
    optim = runner.build_optim_wrapper(runner.cfg.optim_wrapper)
    loader = runner.build_dataloader(runner.cfg.train_dataloader)
    clock = Clock(args.device)
    for teacher in model.teachers.values():
        clock.hook(teacher.tower, 'teacher_forward')
        if hasattr(teacher, 'refiner'):
            clock.hook(teacher.refiner, 'teacher_forward')
    for part in (model.student, model.text_tower, *model.heads.values()):
        if part is not None:
            clock.hook(part, 'student_forward')
    if hasattr(model.student, 'tower'):  # a Refiner student runs its frozen tower outside its own forward
        clock.hook(model.student.tower, 'student_forward')
    steps = []
    batches = iter(loader)
    for step in range(args.warmup + args.iters):
        clock.totals.clear()
        t0 = clock.now()
        data = next(batches)
        t1 = clock.now()
        data = model.data_preprocessor(data, True)
        t2 = clock.now()
        with optim.optim_context(model):
            losses = model(**data, mode='loss')
        loss, _ = model.parse_losses(losses)
        t3 = clock.now()
        optim.backward(loss)
        t4 = clock.now()
        optim.step()
        optim.zero_grad()
        model.update_teachers()
        t5 = clock.now()
        forward = clock.totals['teacher_forward'] + clock.totals['student_forward']
        if step >= args.warmup:
            steps.append(dict(data=t1 - t0, preprocess=t2 - t1, teacher_forward=clock.totals['teacher_forward'],
                              student_forward=clock.totals['student_forward'], loss_other=t3 - t2 - forward,
                              backward=t4 - t3, optimizer=t5 - t4))
    report(args, steps, len(data['inputs']))


def report(args: argparse.Namespace, steps: list[dict], batch_size: int) -> None:
    median = {p: statistics.median(s[p] for s in steps) for p in PARTS}
    total = sum(median.values())
    model_time = sum(median[p] for p in MODEL_PARTS)
    device = (torch.cuda.get_device_name() if args.device.startswith('cuda')
              else f'CPU ({torch.get_num_threads()} threads)')
    print(f'\n{osp.basename(args.config)} on {device}, batch {batch_size}, median of {len(steps)} steps')
    print('| part | ms | share |\n|---|---|---|')
    for p in PARTS:
        print(f'| {p} | {1000 * median[p]:.1f} | {100 * median[p] / total:.1f}% |')
    print(f'| **step** | {1000 * total:.1f} | images/s {batch_size / total:.1f} |')
    print(f'non-model overhead: {100 * (1 - model_time / total):.1f}% of the step')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, device=device, batch_size=batch_size, median_s=median, step_s=total,
                           overhead_share=1 - model_time / total), f, indent=1)


if __name__ == '__main__':
    main()
