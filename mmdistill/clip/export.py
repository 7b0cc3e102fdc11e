"""Export trained weights as open_clip checkpoints (what towers, configs and open_clip load)."""
from __future__ import annotations

import os
import os.path as osp
import tempfile
from collections.abc import Mapping

import torch


def strip_prefix(state_dict: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Keys under ``prefix`` with the prefix removed; a clear error if none is there."""
    out = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not out:
        roots = sorted({k.split('.')[0] + '.' for k in state_dict})
        raise KeyError(f'no weights under prefix {prefix!r}; top-level prefixes present: {roots}')
    return out


def save_checkpoint_atomic(state_dict: Mapping[str, torch.Tensor], path: str) -> str:
    """``torch.save`` a plain state dict (CPU tensors) through a temporary file, then rename."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix='.tmp')
    os.close(fd)
    try:
        torch.save({k: v.detach().cpu().contiguous() for k, v in state_dict.items()}, tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return path


def load_mmengine_state_dict(path: str) -> dict[str, torch.Tensor]:
    """The model weights of an mmengine checkpoint (``state_dict`` entry) or of a plain state dict."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path!r} not found')
    obj = torch.load(path, map_location='cpu', weights_only=False)  # mmengine checkpoints pickle metadata
    return dict(obj['state_dict'] if isinstance(obj, Mapping) and 'state_dict' in obj else obj)
