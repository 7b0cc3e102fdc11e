"""Numeric precision of losses and statistics."""
from typing import Any


def at_least_float32(x: Any) -> Any:
    """A bfloat16 / float16 tensor (the output of a half-precision forward) in float32, for losses and
    statistics; float32 and float64 tensors and anything else as they are (a float64 run stays float64)."""
    if hasattr(x, 'is_floating_point') and x.is_floating_point() and x.element_size() < 4:
        return x.float()
    return x
