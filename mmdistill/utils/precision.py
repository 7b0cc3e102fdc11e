"""Numeric precision of losses and statistics."""
import torch
from torch import Tensor


def full_precision(x: Tensor) -> Tensor:
    """``x`` in at least float32: the outputs of half-precision forwards (bfloat16 / float16) upcast for
    losses and statistics; float32 and float64 kept (a float64 run stays float64 throughout)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))
