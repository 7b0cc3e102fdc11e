"""bfloat16 mixed precision that also runs on CPUs.

mmengine's ``AmpOptimWrapper`` needs an accelerator (it asserts CUDA / NPU / MLU / MUSA) and
carries a loss scaler that bfloat16 does not need. ``BF16OptimWrapper`` runs the forward pass
under ``torch.autocast(<device of the model>, torch.bfloat16)``; parameters, gradients and
optimiser states stay fp32, so checkpoints are the same as fp32 training's.

On CPU, attention runs through the math kernel of ``scaled_dot_product_attention``: for the
short sequences of small towers (tens of tokens) the fused CPU kernel's bfloat16 backward
is several times slower than plain matrix products (docs/benchmarks.md).
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from mmengine.optim import OptimWrapper
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from ..registry import OPTIM_WRAPPERS
from ..utils import module_device


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward pass runs under bfloat16 autocast, on any device.

    Use: ``optim_wrapper = dict(type='BF16OptimWrapper', optimizer=..., clip_grad=...)``.
    """

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        device = module_device(model).type
        attention = sdpa_kernel(SDPBackend.MATH) if device == 'cpu' else contextlib.nullcontext()
        with super().optim_context(model), torch.autocast(device, dtype=torch.bfloat16), attention:
            yield
