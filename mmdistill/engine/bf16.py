"""bfloat16 mixed precision that also runs on CPUs.

mmengine's ``AmpOptimWrapper`` needs an accelerator (it asserts CUDA / NPU / MLU / MUSA) and
carries a loss scaler that bfloat16 does not need. ``BF16OptimWrapper`` runs the forward pass
under ``torch.autocast(<device of the model>, torch.bfloat16)``; parameters, gradients and
optimiser states stay fp32, so checkpoints are the same as fp32 training's.

bfloat16 only pays where the hardware multiplies it natively. A CPU without bfloat16 units
(no AVX512-BF16 or AMX on x86) emulates it, and a step of the tiny CLIP takes 13 times longer
than in float32 (docs/benchmarks.md). On CPUs the wrapper therefore trains in float32 unless
``cpu_bf16=True`` (and then only where bfloat16 is native): the default keeps a run's results the
same on every kind of CPU (bfloat16 on the CPUs that have it moved the main job's table by more than
the seed spread), at about 1.5 times the step time on those CPUs.

On CPU, attention runs through the math kernel of ``scaled_dot_product_attention``: for the
short sequences of small towers (tens of tokens) plain matrix products beat the fused CPU
kernel, in bfloat16 (whose fused backward is several times slower) and in float32 alike.
"""
from __future__ import annotations

import contextlib
import platform
from typing import Iterator

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from ..registry import OPTIM_WRAPPERS
from ..utils import module_device


def native_bf16(device_type: str) -> bool:
    """Whether ``device_type`` multiplies bfloat16 matrices in hardware (accelerators: assumed)."""
    if device_type == 'cuda':
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device_type != 'cpu':
        return True
    if platform.machine().lower() in ('x86_64', 'amd64', 'i386', 'i686'):
        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return torch.ops.mkldnn._is_mkldnn_bf16_supported()


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward pass runs under bfloat16 autocast on accelerators.

    On CPUs it runs in float32 unless ``cpu_bf16`` (results that do not depend on the kind of CPU);
    where the device has no native bfloat16 (see :func:`native_bf16`), always in float32.
    Use: ``optim_wrapper = dict(type='BF16OptimWrapper', optimizer=..., clip_grad=...)``.
    """

    _fallback_logged = False

    def __init__(self, *args, cpu_bf16: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.cpu_bf16 = cpu_bf16

    def bf16_enabled(self, device: str) -> bool:
        """Whether the forward pass on ``device`` runs in bfloat16."""
        return (device != 'cpu' or self.cpu_bf16) and native_bf16(device)

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        device = module_device(model).type
        enabled = self.bf16_enabled(device)
        if not enabled and not self._fallback_logged:
            reason = ('bfloat16 on CPUs is off (cpu_bf16=False) so that results do not depend on the kind of CPU'
                      if device == 'cpu' and not self.cpu_bf16 else
                      f'this {device} has no native bfloat16 (on x86 CPUs: AVX512-BF16 or AMX), where emulated '
                      'bfloat16 is many times slower than float32')
            print_log(f'BF16OptimWrapper: {reason}: training in float32.', logger='current')
            self._fallback_logged = True
        attention = sdpa_kernel(SDPBackend.MATH) if device == 'cpu' else contextlib.nullcontext()
        with super().optim_context(model), torch.autocast(device, dtype=torch.bfloat16, enabled=enabled), attention:
            yield
