"""Reading semantic label maps as stored, for the tools that read them outside a data pipeline."""
from __future__ import annotations

import mmcv
import numpy as np


def read_label_map(path: str) -> np.ndarray:
    """``(H, W)`` label map of ``path`` with its stored values and type: a palette PNG (VOC's maps) gives its
    indices and a 16-bit map stays 16-bit. Decoded with Pillow, as mmseg's ``LoadAnnotations`` does (OpenCV
    expands a palette to BGR colours).

    Raises:
        ValueError: the file holds more than one channel.
    """
    label = mmcv.imread(path, flag='unchanged', backend='pillow')
    if label.ndim != 2:
        raise ValueError(f'{path}: expected a single-channel label map, got shape {label.shape}')
    return label
