"""Build open_clip models from an architecture name plus a checkpoint.

A checkpoint is a local file in one of the layouts users have on disk:

* open_clip's own state dict (``visual.*``, ``transformer.*`` / ``text.*``,
  ``logit_scale``), optionally nested under ``state_dict`` / ``model`` and with
  a ``module.`` prefix (DDP);
* OpenAI's released ``ViT-B-16.pt`` (a TorchScript archive or its state dict);
* the original EVA-CLIP layout (``visual.blocks.N.attn.q_proj``,
  ``visual.blocks.N.mlp.w1``...), remapped onto open_clip's timm EVA02 tower;

or the name of published weights, which :func:`resolve_checkpoint` turns into a local file:

* an open_clip pretrained tag of the architecture (``'webli'`` for ``ViT-B-16-SigLIP``,
  ``'metaclip_400m'`` / ``'dfn2b'`` for ``ViT-B-16-quickgelu``; ``open_clip.list_pretrained_tags_by_model``);
* a Hugging Face hub id of an open_clip repository (``'hf-hub:timm/ViT-B-16-SigLIP2'``).

Such a name is looked up in ``checkpoints/open_clip/<arch>/<tag>/`` (``.../hf-hub/<org>/<repo>/`` for hub
ids; the root is ``$MMDISTILL_PRETRAINED_DIR`` when set), then fetched through open_clip (its caches
first, the network when online). Offline (``MMDISTILL_OFFLINE=1``) or without network, a name not on
disk is a ``FileNotFoundError`` naming the file to fetch and the folder to put it in.
"""
from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import open_clip
import torch
from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME
from torch import nn

from . import architectures  # noqa: F401  (registers the shipped architectures)

# Where to get the weights of the architectures users ask for most.
CHECKPOINT_HINTS = {
    'EVA02-B-16': 'EVA02_CLIP_B_psz16_s8B.pt from https://huggingface.co/QuanSun/EVA-CLIP',
    'EVA02-L-14': 'EVA02_CLIP_L_psz14_s4B.pt from https://huggingface.co/QuanSun/EVA-CLIP',
    'EVA02-L-14-336': 'EVA02_CLIP_L_336_psz14_s6B.pt from https://huggingface.co/QuanSun/EVA-CLIP',
    'ViT-B-16': ('the OpenAI ViT-B/16 weights (ViT-B-16.pt, open_clip pretrained tag "openai"), '
                 'or DFN / MetaCLIP ViT-B-16 open_clip checkpoints (all trained with QuickGELU: '
                 'architecture ViT-B-16-quickgelu)'),
    'ViT-L-14': 'the OpenAI ViT-L/14 weights (ViT-L-14.pt, open_clip pretrained tag "openai")',
    'ViT-L-14-336': 'the OpenAI ViT-L/14@336px weights (ViT-L-14-336px.pt)',
    'timm:vit_small_patch14_dinov2': 'dinov2_vits14_pretrain.pth from the DINOv2 release (facebookresearch)',
    'timm:vit_base_patch14_dinov2': 'dinov2_vitb14_pretrain.pth from the DINOv2 release (facebookresearch)',
    'timm:vit_large_patch14_dinov2': 'dinov2_vitl14_pretrain.pth from the DINOv2 release (facebookresearch)',
}
TIMM_PREFIX = 'timm:'
HF_HUB_PREFIX = 'hf-hub:'
PRETRAINED_DIR_ENV = 'MMDISTILL_PRETRAINED_DIR'
DEFAULT_PRETRAINED_DIR = 'checkpoints/open_clip'
# Buffers that open_clip / timm rebuild themselves; checkpoints may or may not carry them.
IGNORED_KEYS = ('attn_mask', 'rope.', 'k_bias')
# Scalars of OpenAI's released archives (``ViT-B-16.pt``...) that are hyper-parameters, not weights: open_clip's
# OpenAI loader drops them too.
OPENAI_METADATA_KEYS = ('input_resolution', 'context_length', 'vocab_size')


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


def missing_file_message(arch: str, path: str) -> str:
    """:func:`missing_checkpoint_message`, plus the pretrained tags of ``arch`` when ``path`` looks like a name."""
    message = missing_checkpoint_message(arch, path)
    tags = open_clip.list_pretrained_tags_by_model(arch)
    if tags and not Path(path).suffix and os.sep not in path:
        message += (f' {path!r} is not a pretrained tag of {arch} either; its tags: {tags}, or name '
                    f'a Hugging Face hub id as {HF_HUB_PREFIX}<org>/<repo>.')
    return message


@dataclass(frozen=True)
class PretrainedSource:
    """Where the weights named by an open_clip pretrained tag or a hub id come from."""

    name: str  # as given: 'webli', 'hf-hub:timm/ViT-B-16-SigLIP'
    hub_repo: str  # 'timm/ViT-B-16-SigLIP' ('' when the weights are only behind a URL)
    hub_file: str  # file of the hub repository, e.g. 'open_clip_pytorch_model.bin'
    url: str  # direct URL ('' when the weights are only on the hub)
    local_dir: Path  # where a fetched file is looked for
    quick_gelu: bool = False  # whether the weights were trained with QuickGELU

    @property
    def file_names(self) -> tuple[str, ...]:
        """Names a fetched file may have in ``local_dir``, preferred first."""
        names = [HF_SAFE_WEIGHTS_NAME] if self.hub_file == HF_WEIGHTS_NAME else []
        names += [n for n in (self.hub_file, os.path.basename(self.url)) if n]
        return tuple(dict.fromkeys(names))

    def fetch_hint(self) -> str:
        """What to download, and where to put it."""
        if self.hub_repo:
            what = (f'{self.hub_file} of the Hugging Face repository {self.hub_repo} '
                    f'(https://huggingface.co/{self.hub_repo}/resolve/main/{self.hub_file}'
                    + (f', or {self.url}' if self.url else '') + ')')
            command = f'huggingface-cli download {self.hub_repo} {self.hub_file} --local-dir {self.local_dir}'
        else:
            what, command = self.url, f'wget -P {self.local_dir} {self.url}'
        return f'download {what} and put it in {str(self.local_dir)!r} (e.g. `{command}`)'


def pretrained_root() -> Path:
    """Folder under which fetched pretrained weights are looked for (``$MMDISTILL_PRETRAINED_DIR``)."""
    return Path(os.environ.get(PRETRAINED_DIR_ENV) or DEFAULT_PRETRAINED_DIR)


def pretrained_source(arch: str, name: str) -> Optional[PretrainedSource]:
    """The source of ``name`` if it is an open_clip pretrained tag of ``arch`` or an ``hf-hub:`` id, else ``None``."""
    if name.startswith(HF_HUB_PREFIX):
        repo = name[len(HF_HUB_PREFIX):].strip('/')
        if repo.count('/') != 1:
            raise ValueError(f'{name!r} is not a hub id of the form {HF_HUB_PREFIX}<org>/<repo>')
        return PretrainedSource(name, repo, HF_WEIGHTS_NAME, '', pretrained_root() / 'hf-hub' / repo)
    cfg = open_clip.get_pretrained_cfg(arch, name)
    if not cfg:
        return None
    hf_hub = cfg.get('hf_hub', '')
    if hf_hub.endswith('/'):  # 'org/repo/' names the repository's default weights file
        repo, hub_file = hf_hub.rstrip('/'), HF_WEIGHTS_NAME
    else:
        repo, hub_file = os.path.split(hf_hub)
    return PretrainedSource(name, repo, hub_file, cfg.get('url', ''), pretrained_root() / arch / name,
                            bool(cfg.get('quick_gelu', False)))


def fetch_pretrained(source: PretrainedSource, arch: str) -> str:
    """A local file of ``source``: from its folder, else through open_clip (its caches; the network when online).

    Raises:
        FileNotFoundError: the weights are not on disk and cannot be downloaded (offline mode, no
            network), naming the file to fetch and the folder to put it in.
    """
    for file_name in source.file_names:
        if (source.local_dir / file_name).is_file():
            return str(source.local_dir / file_name)
    from open_clip.pretrained import download_pretrained
    cfg = dict(hf_hub=f'{source.hub_repo}/{source.hub_file}' if source.hub_repo else '', url=source.url)
    try:
        path = download_pretrained(cfg)
        if not path:
            raise FileNotFoundError('open_clip returned no file')
    except Exception as err:  # offline guard, no network, hub errors: one message naming what to fetch
        offline = any(os.environ.get(k, '').strip().lower() in ('1', 'true', 'yes', 'on')
                      for k in ('MMDISTILL_OFFLINE', 'HF_HUB_OFFLINE'))
        reason = ('offline mode: MMDISTILL_OFFLINE=1 / HF_HUB_OFFLINE=1' if offline
                  else f'{type(err).__name__}: {str(err).strip()[:300]}')
        raise FileNotFoundError(
            f'Pretrained weights {source.name!r} of {arch} are not on disk and could not be downloaded '
            f'({reason}). To use them, {source.fetch_hint()}; or set the tower\'s checkpoint= to a local '
            'file.') from err
    return path


def resolve_checkpoint(arch: str, checkpoint: Optional[str]) -> Optional[str]:
    """A local file for ``checkpoint``: a path as it is, a pretrained tag or hub id fetched (see module doc).

    Raises:
        FileNotFoundError: neither a file nor a pretrained name of ``arch``, or a name that cannot be fetched.
    """
    if checkpoint is None or os.path.isfile(checkpoint):
        return checkpoint
    source = pretrained_source(arch, checkpoint)
    if source is None:
        raise FileNotFoundError(missing_file_message(arch, checkpoint))
    arch_quick_gelu = bool((open_clip.get_model_config(arch) or {}).get('quick_gelu', False))
    if source.quick_gelu != arch_quick_gelu:
        warnings.warn(f'{checkpoint!r} weights were trained with{"" if source.quick_gelu else "out"} QuickGELU but '
                      f'{arch} uses {"GELU" if source.quick_gelu else "QuickGELU"}: name '
                      f'{arch.removesuffix("-quickgelu") + ("-quickgelu" if source.quick_gelu else "")!r} instead '
                      'to get the features the weights were trained for.', UserWarning, stacklevel=3)
    return fetch_pretrained(source, arch)


def read_checkpoint(path: str, arch: str = '?') -> dict[str, torch.Tensor]:
    """Load a checkpoint file (``torch.save``, TorchScript or safetensors) into a flat state dict
    (un-nested, ``module.`` stripped)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(missing_checkpoint_message(arch, path))
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return {k.removeprefix('module.'): v for k, v in load_file(path).items()}
    with warnings.catch_warnings():  # torch's notes on TorchScript archives (dispatch, deprecation)
        warnings.filterwarnings('ignore', message='.*TorchScript archive')
        warnings.filterwarnings('ignore', message='`torch.jit.load` is deprecated', category=FutureWarning)
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
    """Bring a released state dict onto the open_clip ``model``: OpenAI's metadata scalars
    (:data:`OPENAI_METADATA_KEYS`) dropped, an EVA-CLIP layout remapped onto open_clip's timm EVA tower."""
    own = model.state_dict()
    state_dict = {k: v for k, v in state_dict.items() if k not in OPENAI_METADATA_KEYS or k in own}
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
    """An open_clip CLIP model of ``arch`` with weights from ``checkpoint``.

    ``checkpoint``: a local file, an open_clip pretrained tag of ``arch`` or an ``hf-hub:`` id
    (:func:`resolve_checkpoint`); ``None`` keeps the random initialisation (tests, training from
    scratch). ``create_kwargs`` go to ``open_clip.create_model`` (e.g. ``force_image_size``).
    """
    check_architecture(arch)
    path = resolve_checkpoint(arch, checkpoint)
    with _quiet_open_clip():
        model = open_clip.create_model(arch, pretrained=None, **create_kwargs)
    if path is not None:
        load_clip_weights(model, path, arch)
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
    """open_clip's tokenizer for ``arch``.

    CLIP's BPE vocabulary is bundled with open_clip; SigLIP / SigLIP 2 use a Hugging Face tokenizer
    (``text_cfg.hf_tokenizer_name``), which needs ``transformers`` and its files in the Hugging Face
    cache: a failure to build one is a ``RuntimeError`` naming the repository to fetch.
    """
    check_architecture(arch)
    try:
        return open_clip.get_tokenizer(arch)
    except Exception as err:
        hf_name = (open_clip.get_model_config(arch) or {}).get('text_cfg', {}).get('hf_tokenizer_name')
        if not hf_name:
            raise
        raise RuntimeError(
            f'The tokenizer of {arch} is the Hugging Face tokenizer {hf_name!r}, which could not be built '
            f'({type(err).__name__}: {err}). It needs `pip install transformers sentencepiece` and the '
            f'tokenizer files in the Hugging Face cache: fetch them once online with `huggingface-cli '
            f'download {hf_name} --include "*.json" "*.model"` (they are then found offline).') from err
