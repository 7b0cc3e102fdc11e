"""Export trained weights as open_clip checkpoints (what towers, configs and open_clip load)."""
from __future__ import annotations

import os.path as osp
from collections.abc import Mapping
from typing import Optional

import torch
from mmengine.runner.checkpoint import _load_checkpoint
from torch import nn

from ..utils.atomic import atomic_path
from .builder import IGNORED_KEYS, CheckpointMismatchError, build_clip_model, remap_state_dict


def strip_prefix(state_dict: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Keys under ``prefix`` with the prefix removed; a clear error if none is there."""
    out = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not out:
        roots = sorted({k.split('.')[0] + '.' for k in state_dict})
        raise KeyError(f'no weights under prefix {prefix!r}; top-level prefixes present: {roots}')
    return out


def save_checkpoint_atomic(state_dict: Mapping[str, torch.Tensor], path: str) -> str:
    """``torch.save`` a plain state dict (CPU tensors) through a temporary file, then rename."""
    with atomic_path(path) as tmp:
        torch.save({k: v.detach().cpu().contiguous() for k, v in state_dict.items()}, tmp)
    return path


def load_mmengine_state_dict(path: str) -> dict[str, torch.Tensor]:
    """The model weights of an mmengine checkpoint (``state_dict`` entry) or of a plain state dict,
    read by mmengine's checkpoint loader (:func:`mmdistill.utils.compat.load_from_local` for local files)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path!r} not found')
    obj = _load_checkpoint(path, map_location='cpu')
    return dict(obj['state_dict'] if isinstance(obj, Mapping) and 'state_dict' in obj else obj)


def tower_weights(path: str, prefix: str = 'student.') -> dict[str, torch.Tensor]:
    """open_clip-layout weights of a tower: the keys under ``prefix`` of an mmengine checkpoint.

    An open_clip-format file (top-level ``visual.*`` keys) is taken as it is when it
    has nothing under ``prefix``.
    """
    state = load_mmengine_state_dict(path)
    if prefix and any(k.startswith(prefix) for k in state):
        return strip_prefix(state, prefix)
    if any(k.startswith('visual.') for k in state):
        return state
    roots = sorted({k.split('.')[0] + '.' for k in state})
    raise KeyError(f'{path!r} has no weights under prefix {prefix!r} and no open_clip `visual.*` keys; '
                   f'top-level prefixes present: {roots}')


def _is_ignored(key: str) -> bool:
    return any(s in key for s in IGNORED_KEYS)


def _show(keys: list[str], limit: int = 20) -> str:
    if not keys:
        return 'none'
    return ', '.join(keys[:limit]) + (f' ... ({len(keys)} in all)' if len(keys) > limit else '')


def check_state_dicts_match(expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor],
                            what: str) -> None:
    """Raise :class:`CheckpointMismatchError` listing missing, unexpected and mis-shaped keys of ``given``.

    Buffers open_clip / timm rebuild themselves (RoPE tables, attention masks) are not compared.
    """
    missing = [k for k in expected if k not in given and not _is_ignored(k)]
    unexpected = [k for k in given if k not in expected and not _is_ignored(k)]
    wrong_shape = [f'{k}: {tuple(given[k].shape)} vs expected {tuple(v.shape)}'
                   for k, v in expected.items() if k in given and given[k].shape != v.shape]
    if missing or unexpected or wrong_shape:
        raise CheckpointMismatchError(f'{what}:\n  missing keys: {_show(missing)}\n'
                                      f'  unexpected keys: {_show(unexpected)}\n'
                                      f'  shape mismatches: {_show(wrong_shape)}')


def replace_weights(model: nn.Module, weights: Mapping[str, torch.Tensor], source: str,
                    scope: str = 'visual.') -> dict[str, torch.Tensor]:
    """``model``'s state dict with its keys under ``scope`` taken from ``weights`` (checked strictly).

    ``weights`` may be in open_clip or EVA-CLIP layout; keys outside ``scope`` are
    ignored, and ``scope=''`` replaces the whole model.
    """
    own = model.state_dict()
    given = {k: v for k, v in remap_state_dict(dict(weights), model).items() if k.startswith(scope)}
    expected = {k: v for k, v in own.items() if k.startswith(scope)}
    check_state_dicts_match(expected, given, f'{source} does not fit the {scope or "whole"} model of '
                            f'{type(model).__name__}')
    own.update({k: given[k].to(v.dtype) for k, v in expected.items() if k in given and not _is_ignored(k)})
    return own


def export_open_clip(checkpoint: str, arch: str, out: str, original: Optional[str] = None,
                     prefix: str = 'student.', text_prefix: Optional[str] = None) -> str:
    """Write the tower under ``prefix`` of ``checkpoint`` as a complete open_clip checkpoint ``out``.

    The text tower, ``logit_scale`` and everything else outside the image tower
    come from ``original`` (the CLIP checkpoint distillation started from, any
    layout :func:`build_clip_model` reads), or from ``checkpoint`` itself: under
    ``text_prefix`` (a trained :class:`~mmdistill.clip.text_tower.CLIPTextTower`'s
    ``clip.``, e.g. ``text_tower.clip.``), or under ``prefix`` when it holds the
    whole model (e.g. ``clip.`` of the pretrainer). The result loads with
    ``open_clip.create_model(arch, pretrained=out)`` and ``build_clip_model(arch, out)``.
    """
    weights = tower_weights(checkpoint, prefix)
    source = f'{checkpoint!r} (prefix {prefix!r})'
    if text_prefix is not None:
        weights.update(strip_prefix(load_mmengine_state_dict(checkpoint), text_prefix))
        source = f'{checkpoint!r} (prefixes {prefix!r} and {text_prefix!r})'
    if original is None and all(k.startswith('visual.') for k in weights):
        raise ValueError(f'{source} holds only an image tower (no text tower, no logit_scale): pass the '
                         f'original CLIP checkpoint of {arch} (`original=` / --original) to complete it')
    whole = original is None or text_prefix is not None
    model = build_clip_model(arch, None if whole else original)
    return save_checkpoint_atomic(replace_weights(model, weights, source, scope='' if whole else 'visual.'), out)
