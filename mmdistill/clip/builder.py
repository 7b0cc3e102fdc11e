"""Build open_clip models from an architecture name plus a local checkpoint.

Nothing is downloaded: ``pretrained`` tags of open_clip are never used. A
checkpoint is a local file in one of the layouts users have on disk:

* open_clip's own state dict (``visual.*``, ``transformer.*`` / ``text.*``,
  ``logit_scale``), optionally nested under ``state_dict`` / ``model`` and with
  a ``module.`` prefix (DDP);
* OpenAI's released ``ViT-B-16.pt`` (a TorchScript archive or its state dict);
* the original EVA-CLIP layout (``visual.blocks.N.attn.q_proj``,
  ``visual.blocks.N.mlp.w1``...), remapped onto open_clip's timm EVA02 tower.
"""
from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping
from typing import Optional

import open_clip
import torch
from torch import nn

from . import architectures  # noqa: F401  (registers the shipped architectures)

# Where to get the weights of the architectures users ask for most.
CHECKPOINT_HINTS = {
    'EVA02-B-16': 'EVA02_CLIP_B_psz16_s8B.pt from https://huggingface.co/QuanSun/EVA-CLIP',
    'EVA02-L-14': 'EVA02_CLIP_L_psz14_s4B.pt from https://huggingface.co/QuanSun/EVA-CLIP',
    'EVA02-L-14-336': 'EVA02_CLIP_L_336_psz14_s6B.pt from https://huggingface.co/QuanSun/EVA-CLIP',
    'ViT-B-16': ('the OpenAI ViT-B/16 weights (ViT-B-16.pt, open_clip pretrained tag "openai"), '
                 'or DFN / MetaCLIP ViT-B-16 open_clip checkpoints'),
    'ViT-L-14': 'the OpenAI ViT-L/14 weights (ViT-L-14.pt, open_clip pretrained tag "openai")',
    'ViT-L-14-336': 'the OpenAI ViT-L/14@336px weights (ViT-L-14-336px.pt)',
    'timm:vit_small_patch14_dinov2': 'dinov2_vits14_pretrain.pth from the DINOv2 release (facebookresearch)',
    'timm:vit_base_patch14_dinov2': 'dinov2_vitb14_pretrain.pth from the DINOv2 release (facebookresearch)',
    'timm:vit_large_patch14_dinov2': 'dinov2_vitl14_pretrain.pth from the DINOv2 release (facebookresearch)',
}
TIMM_PREFIX = 'timm:'
# Buffers that open_clip / timm rebuild themselves; checkpoints may or may not carry them.
IGNORED_KEYS = ('attn_mask', 'rope.', 'k_bias')


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's keys or shapes do not fit the requested architecture."""


def check_architecture(arch: str) -> None:
    """Raise a ValueError naming close matches if ``arch`` is not an open_clip architecture."""
    names = open_clip.list_models()
    if arch not in names:
        close = [n for n in names if arch.lower().split('-')[0] in n.lower()][:12]
        raise ValueError(f'Unknown open_clip architecture {arch!r}. Close matches: {close}. '
                         'All names: open_clip.list_models().')


def missing_checkpoint_message(arch: str, path: str) -> str:
    hint = CHECKPOINT_HINTS.get(arch, f'the {arch} weights in open_clip format')
    return (f'CLIP checkpoint not found: {path!r} (architecture {arch}). Weights are never downloaded '
            f'at run time: download {hint} and put the file at {path!r}, or set the config key that '
            f'points here (e.g. `checkpoint=...` of the tower) to where the file is.')


def read_checkpoint(path: str, arch: str = '?') -> dict[str, torch.Tensor]:
    """Load a checkpoint file into a flat state dict (un-nested, ``module.`` stripped)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(missing_checkpoint_message(arch, path))
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except RuntimeError as err:
        if 'TorchScript' not in str(err) and 'zip' not in str(err).lower():
            raise
        obj = torch.jit.load(path, map_location='cpu').state_dict()  # OpenAI's released archives
    for key in ('state_dict', 'model', 'module'):
        if isinstance(obj, Mapping) and key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping):
        raise CheckpointMismatchError(f'{path!r} does not hold a state dict (got {type(obj).__name__})')
    return {k.removeprefix('module.'): v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def remap_state_dict(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Bring an EVA-CLIP-layout state dict onto open_clip's timm EVA tower; others pass through."""
    visual = getattr(model, 'visual', None)
    trunk = getattr(visual, 'trunk', None)
    if trunk is None or any(k.startswith('visual.trunk.') for k in state_dict):
        return state_dict
    from timm.models.eva import checkpoint_filter_fn
    visual_sd = checkpoint_filter_fn({k: v for k, v in state_dict.items() if k.startswith('visual.')}, trunk)
    out = {k: v for k, v in state_dict.items() if not k.startswith('visual.')}
    out.update({f'visual.trunk.{k}': v for k, v in visual_sd.items()})
    return out


def load_clip_weights(model: nn.Module, path: str, arch: str = '?') -> None:
    """Load ``path`` into ``model`` strictly, with an error listing missing/unexpected keys."""
    load_strict(model, remap_state_dict(read_checkpoint(path, arch), model), path, arch)


def load_strict(model: nn.Module, state_dict: dict[str, torch.Tensor], path: str, arch: str) -> None:
    """``load_state_dict`` that reports every missing, unexpected and mis-shaped key of ``path``."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict and not any(s in k for s in IGNORED_KEYS)]
    unexpected = [k for k in state_dict if k not in own and not any(s in k for s in IGNORED_KEYS)]
    wrong_shape = [f'{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}'
                   for k in own if k in state_dict and state_dict[k].shape != own[k].shape]
    if missing or unexpected or wrong_shape:
        def show(keys: list[str]) -> str:
            return ', '.join(keys[:20]) + (f' ... ({len(keys)} in all)' if len(keys) > 20 else '')
        raise CheckpointMismatchError(
            f'Checkpoint {path!r} does not fit architecture {arch}:\n'
            f'  missing keys: {show(missing) or "none"}\n'
            f'  unexpected keys: {show(unexpected) or "none"}\n'
            f'  shape mismatches: {show(wrong_shape) or "none"}')
    model.load_state_dict({k: v for k, v in state_dict.items() if k in own}, strict=False)


@contextlib.contextmanager
def _quiet_open_clip():
    """Drop open_clip's 'No pretrained weights loaded' warning: weights are loaded here, locally."""
    def keep(record: logging.LogRecord) -> bool:
        return 'pretrained weights' not in record.getMessage()
    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def build_clip_model(arch: str, checkpoint: Optional[str] = None, **create_kwargs) -> nn.Module:
    """An open_clip CLIP model of ``arch`` with weights from the local file ``checkpoint``.

    ``checkpoint=None`` keeps the random initialisation (tests, training from scratch).
    ``create_kwargs`` go to ``open_clip.create_model`` (e.g. ``force_image_size``).
    """
    check_architecture(arch)
    if checkpoint is not None and not os.path.isfile(checkpoint):
        raise FileNotFoundError(missing_checkpoint_message(arch, checkpoint))
    with _quiet_open_clip():
        model = open_clip.create_model(arch, pretrained=None, **create_kwargs)
    if checkpoint is not None:
        load_clip_weights(model, checkpoint, arch)
    return model


def build_timm_vit(arch: str, checkpoint: Optional[str] = None) -> nn.Module:
    """A timm ViT named ``timm:<model name>`` (e.g. DINOv2), weights from a local file (timm or original layout)."""
    import timm
    from timm.models.vision_transformer import checkpoint_filter_fn
    name = arch[len(TIMM_PREFIX):]
    if not timm.is_model(name):
        raise ValueError(f'Unknown timm model {name!r} (from arch {arch!r}); see timm.list_models()')
    if checkpoint is not None and not os.path.isfile(checkpoint):
        raise FileNotFoundError(missing_checkpoint_message(arch, checkpoint))
    model = timm.create_model(name, pretrained=False, num_classes=0)
    if checkpoint is not None:
        load_strict(model, checkpoint_filter_fn(read_checkpoint(checkpoint, arch), model), checkpoint, arch)
    return model


def build_tokenizer(arch: str):
    """open_clip's tokenizer for ``arch`` (bundled BPE vocabulary: nothing downloaded)."""
    check_architecture(arch)
    return open_clip.get_tokenizer(arch)
