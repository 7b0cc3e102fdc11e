"""Time one image-text pretraining step of a CLIP architecture per precision and attention kernel.

    python tools/analysis/benchmark_pretrain_step.py                      # the synthetic world's tiny CLIP
    python tools/analysis/benchmark_pretrain_step.py --arch ARCH --batch 64 --image-size 224

A step is the forward pass of both towers on random images and fixed captions, the
contrastive loss, backward and a fused AdamW step (data loading excluded), profiled by the common
benchmark loop (``mmdistill.engine.profiling``: median per part, FLOPs counted once). Variants:
float32 or bfloat16 autocast, each with PyTorch's default attention kernel or the math
kernel that ``BF16OptimWrapper`` chooses on CPUs. The report names the CPU features that
decide whether bfloat16 is native (``mmdistill.engine.bf16.native_bf16``).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os.path as osp
import sys

import torch
from mmengine.optim import OptimWrapper
from mmengine.structures import BaseDataElement
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
import mmdistill  # noqa: E402,F401
from mmdistill.engine.bf16 import native_bf16  # noqa: E402
from mmdistill.engine.profiling import StepProfile, profile_training, repeat  # noqa: E402
from mmdistill.registry import MODELS  # noqa: E402

CAPTION = 'a scene with a green star, a small red circle and a dotted diamond on sand.'
VARIANTS = (('float32', False), ('float32', True), ('bfloat16', False), ('bfloat16', True))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--arch', default='mmdistill-world-ViT-P12')
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument('--image-size', type=int, default=96)
    parser.add_argument('--iters', type=int, default=4, help='measured steps per variant')
    parser.add_argument('--warmup', type=int, default=2, help='steps before measuring')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--dtypes', nargs='+', choices=('float32', 'bfloat16'), default=['float32', 'bfloat16'])
    parser.add_argument('--out', help='write the result as JSON here')
    args = parser.parse_args()
    if args.iters < 1:
        parser.error(f'--iters must be at least 1, got {args.iters}')
    return args


def profile_variant(model: torch.nn.Module, batch: dict, device: str, dtype: str, math_attention: bool,
                    warmup: int, iters: int) -> StepProfile:
    """The common step profile (``mmdistill.engine.profiling``) of one precision and attention kernel."""
    optim_wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True))

    @contextlib.contextmanager
    def variant():
        attention = sdpa_kernel(SDPBackend.MATH) if math_attention else contextlib.nullcontext()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=dtype == 'bfloat16'), attention:
            yield

    return profile_training(model, optim_wrapper, repeat(batch), iters, warmup, device, context=variant)


def main() -> None:
    args = parse_args()
    torch.manual_seed(0)
    model = MODELS.build(dict(type='CLIPPretrainer', arch=args.arch)).to(args.device)
    images = torch.randn(args.batch, 3, args.image_size, args.image_size, device=args.device)
    batch = dict(inputs=images, data_samples=[BaseDataElement(metainfo=dict(caption=CAPTION))
                                              for _ in range(args.batch)])
    device_type = torch.device(args.device).type
    machine = dict(device=args.device, threads=torch.get_num_threads(), torch=torch.__version__,
                   cpu_capability=torch.backends.cpu.get_cpu_capability(),
                   native_bf16=native_bf16(device_type))
    print(json.dumps(machine))
    results = []
    for dtype, math_attention in VARIANTS:
        if dtype not in args.dtypes:
            continue
        profile = profile_variant(model, batch, args.device, dtype, math_attention, args.warmup, args.iters)
        row = dict(dtype=dtype, attention='math' if math_attention else 'default',
                   ms_median=1000 * profile.step_seconds, gflops=profile.step_flops / 1e9,
                   ms_backward=1000 * profile.seconds['backward'], ms_optimizer=1000 * profile.seconds['optimizer'])
        results.append(row)
        print(f'{dtype:9s} {row["attention"]:8s} attention: {row["ms_median"]:8.0f} ms per step '
              f'({args.batch} pairs, {row["gflops"]:.1f} GFLOP)', flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(machine=machine, arch=args.arch, batch=args.batch, results=results), f, indent=1)


if __name__ == '__main__':
    main()
