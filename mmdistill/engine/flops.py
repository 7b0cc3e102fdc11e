"""FLOPs of a step: counted (``torch.utils.flop_counter``), analytic for ViT towers, and device peaks.

Conventions are ``flop_counter``'s: a multiply-add is 2 FLOPs; matrix products, convolutions and
attention are counted, element-wise work (norms, activations, softmax, the optimiser) is not.

PyTorch has no FLOP formula for the fused CPU attention kernel
(``aten._scaled_dot_product_flash_attention_for_cpu``) nor for ``nn.MultiheadAttention``'s native
inference path, whose FLOPs would be silently missed: :func:`counting` avoids both (accelerators'
fused kernels, flash, memory-efficient and cuDNN, have formulas).
"""
from __future__ import annotations

import contextlib
import platform
from dataclasses import dataclass
from typing import Iterator, Optional

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

# Dense (no structured sparsity) peak tensor throughput in TFLOP/s per dtype, from the vendors' data
# sheets; 'float32' is IEEE float32 (PyTorch's default matmul precision, TF32 off). First match wins.
GPU_PEAKS: tuple[tuple[str, dict[str, float]], ...] = (
    ('H200', dict(bfloat16=989.0, float16=989.0, float32=67.0)),
    ('H100 PCIe', dict(bfloat16=756.0, float16=756.0, float32=51.0)),
    ('H100', dict(bfloat16=989.0, float16=989.0, float32=67.0)),  # SXM / HBM3
    ('A100', dict(bfloat16=312.0, float16=312.0, float32=19.5)),
    ('L40S', dict(bfloat16=362.0, float16=362.0, float32=91.6)),
    ('L4', dict(bfloat16=121.0, float16=121.0, float32=30.3)),
    ('A10', dict(bfloat16=125.0, float16=125.0, float32=31.2)),
    ('V100', dict(float16=125.0, float32=15.7)),
)
# float32 FLOPs per cycle and core of x86 vector units: two FMA ports of 16 (AVX-512) or 8 (AVX2) lanes.
CPU_FP32_FLOPS_PER_CYCLE = {'AVX512': 64, 'AVX2': 32}


@dataclass
class Peak:
    """Peak throughput of a device for one dtype; ``tflops`` is ``None`` where unknown."""

    device: str
    dtype: str
    tflops: Optional[float]
    source: str  # 'data sheet', 'estimate: ...' or why it is unknown


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or what ``platform`` knows."""
    with contextlib.suppress(OSError):
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_mhz() -> Optional[float]:
    """The current clock of the first core in MHz (``/proc/cpuinfo``), if known."""
    with contextlib.suppress(OSError):
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('cpu MHz'):
                    return float(line.split(':', 1)[1])
    return None


def device_name(device: str) -> str:
    """``'NVIDIA H200'`` or ``'Intel(R) Xeon(R) ... (AVX512, 2 threads)'``."""
    if torch.device(device).type == 'cuda':
        return torch.cuda.get_device_name(torch.device(device))
    return f'{cpu_name()} ({torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads)'


def device_peak(device: str, dtype: str) -> Peak:
    """Peak TFLOP/s of ``device`` for ``dtype`` (``'float32'``, ``'bfloat16'``, ``'float16'``).

    GPUs: :data:`GPU_PEAKS`. CPUs: float32 only, estimated as threads x clock x FLOPs per cycle of
    the vector units (:data:`CPU_FP32_FLOPS_PER_CYCLE`, assuming two FMA ports); an upper bound.
    """
    name = device_name(device)
    if torch.device(device).type == 'cuda':
        return gpu_peak(name, dtype)
    capability = torch.backends.cpu.get_cpu_capability()
    per_cycle = CPU_FP32_FLOPS_PER_CYCLE.get(capability)
    mhz = cpu_mhz()
    if dtype != 'float32' or per_cycle is None or mhz is None:
        return Peak(name, dtype, None, f'no {dtype} estimate for a {capability} CPU')
    threads = torch.get_num_threads()
    tflops = threads * mhz * 1e6 * per_cycle / 1e12
    return Peak(name, dtype, tflops, f'estimate: {threads} threads x {mhz:.0f} MHz x {per_cycle} FLOP/cycle')


def gpu_peak(name: str, dtype: str) -> Peak:
    """Peak of the GPU called ``name`` (``torch.cuda.get_device_name()``) from :data:`GPU_PEAKS`."""
    for key, peaks in GPU_PEAKS:
        if key in name:
            value = peaks.get(dtype)
            return Peak(name, dtype, value, 'data sheet' if value else f'no {dtype} peak for {key}')
    return Peak(name, dtype, None, 'GPU not in the peak table')


@contextlib.contextmanager
def counting(device: str, display: bool = False) -> Iterator[FlopCounterMode]:
    """A ``FlopCounterMode`` (its ``get_total_flops()`` grows as ops run). On CPUs attention runs through
    the math kernel, and ``nn.MultiheadAttention``'s inference fast path (one native op with no FLOP
    formula, taken by frozen open_clip towers under ``no_grad``) is off, so that both are counted."""
    attention = sdpa_kernel(SDPBackend.MATH) if torch.device(device).type == 'cpu' else contextlib.nullcontext()
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with attention, FlopCounterMode(display=display) as counter:
            yield counter
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)


class AttentionKernels(TorchDispatchMode):
    """Records the attention kernels that run (op name -> calls): which of flash, memory-efficient,
    cuDNN or the math decomposition the dispatcher chose for ``scaled_dot_product_attention``."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.__name__.split('.')[0]
        if 'attention' in name and 'backward' not in name:
            self.calls[name] = self.calls.get(name, 0) + 1
        return func(*args, **(kwargs or {}))


def linear_flops(tokens: int, in_dim: int, out_dim: int) -> int:
    """A linear layer on ``tokens`` rows: ``2 * tokens * in_dim * out_dim``."""
    return 2 * tokens * in_dim * out_dim


def vit_tower_flops(batch: int, image_size: tuple[int, int], patch: int, width: int, depth: int, mlp_dim: int,
                    embed_dim: int, cls: bool = True, dense: bool = True, mlp_matrices: int = 2,
                    prefix_tokens: int = 1) -> int:
    """Analytic forward FLOPs of a :class:`~mmdistill.clip.tower.CLIPTower` ViT (matrix products only).

    Patch embedding (a ``patch x patch`` convolution); ``depth - 1`` full blocks (q, k, v and output
    projections, ``q k^T`` and ``a v`` over ``N = prefix + h * w`` tokens, an MLP of ``mlp_matrices``
    ``width x mlp_dim`` matrices: 2 for GELU, 3 for SwiGLU); the last block in full for ``cls``, in its
    value-only form (value and output projections, MLP) for ``dense``; the projection ``width -> embed_dim``
    of the class token (``cls``) and of the ``h * w`` patch tokens (``dense``).
    """
    h, w = image_size[0] // patch, image_size[1] // patch
    cells = h * w
    n = batch * (prefix_tokens + cells)
    embed = 2 * batch * cells * width * 3 * patch * patch
    attention = 2 * 2 * batch * (prefix_tokens + cells) ** 2 * width  # q k^T and a v, all heads
    mlp = mlp_matrices * linear_flops(n, width, mlp_dim)
    block = linear_flops(n, width, 4 * width) + attention + mlp
    total = embed + (depth - 1) * block
    if cls:
        total += block + linear_flops(batch, width, embed_dim)
    if dense:
        total += linear_flops(n, width, 2 * width) + mlp + linear_flops(batch * cells, width, embed_dim)
    return total
