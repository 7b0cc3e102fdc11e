"""Towers for the analysis tools: anything that maps normalised images to a unit-norm dense map.

An encoder has ``stride`` (input pixels per cell) and ``dense_features(images)`` ``(B, 3, H, W)`` ->
``(B, D, H / stride, W / stride)``; :class:`~mmdistill.clip.CLIPTower` is one, and
:class:`RefinedTower` reads a frozen tower through its trained Refiner. On the command line a tower
is ``NAME=SPEC`` (:func:`load_encoder` lists the specs); without any, the tools take the towers the
quickstart cached (:func:`quickstart_towers`).
"""
from __future__ import annotations

import os.path as osp
from typing import Optional, Protocol, Sequence

import torch
from mmengine.config import Config
from mmengine.utils import ProgressBar
from torch import nn

from ..clip.tower import CLIPTower
from ..registry import MODELS
from ..utils.run_manifest import read_manifest

WORLD_ARCH = 'mmdistill-world-ViT-P12'
REFINER_PREFIX = 'refiner:'


class DenseEncoder(Protocol):
    """What the analysis tools need of a tower."""

    stride: int

    def dense_features(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` normalised images -> ``(B, D, h, w)`` map with unit-norm cells."""


class RefinedTower(nn.Module):
    """A frozen tower read through its trained Refiner (paper 001, Sec. 3.3): the refined map of whole images."""

    def __init__(self, refiner: nn.Module) -> None:
        super().__init__()
        self.refiner = refiner

    @property
    def stride(self) -> int:
        return self.refiner.tower.stride

    def dense_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.refiner.dense(images)


def load_refiner(checkpoint: str) -> RefinedTower:
    """The Refiner of a Refiner-stage checkpoint (mmengine, weights under ``student.``), built from the
    config stored in the checkpoint (``meta.cfg``, ``model.student``)."""
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'Refiner checkpoint not found: {checkpoint!r}')
    meta = torch.load(checkpoint, map_location='cpu', weights_only=False).get('meta', {})
    if not meta.get('cfg'):
        raise KeyError(f'{checkpoint!r} holds no config (meta.cfg): is it a checkpoint of the Refiner stage?')
    refiner = Config.fromstring(meta['cfg'], '.py').model.get('student', {})
    if refiner.get('type') != 'Refiner':
        raise ValueError(f'{checkpoint!r}: model.student of its config is a {refiner.get("type")!r}, not a Refiner')
    from ..distill.teachers import RefinerTeacher
    return RefinedTower(RefinerTeacher(refiner=refiner, checkpoint=checkpoint, prefix='student.').refiner).eval()


def load_encoder(spec: str, arch: str = WORLD_ARCH) -> DenseEncoder:
    """An encoder from a command-line spec.

    * ``refiner:PATH``: a Refiner-stage checkpoint (:func:`load_refiner`);
    * ``PATH.py``: a config whose ``tower`` or ``model.tower`` is a ``CLIPTower`` config;
    * ``random``: a ``CLIPTower`` of ``arch`` with seeded random weights;
    * anything else: a ``CLIPTower`` of ``arch`` with this checkpoint (a file, an open_clip tag, an
      ``hf-hub:`` id).
    """
    if spec.startswith(REFINER_PREFIX):
        return load_refiner(spec[len(REFINER_PREFIX):])
    if spec == 'random':
        torch.manual_seed(0)
        return CLIPTower(arch, trainable='none').eval()
    if spec.endswith('.py'):
        cfg = Config.fromfile(spec)
        tower = cfg.get('tower') or cfg.get('model', {}).get('tower')
        if not tower:
            raise KeyError(f'{spec}: neither `tower` nor `model.tower` is set')
        return MODELS.build(dict(tower, trainable='none')).eval()
    return CLIPTower(arch, checkpoint=spec, trainable='none').eval()


def quickstart_towers(work_dir: str = 'work_dirs/quickstart', refiner: bool = True) -> dict[str, str]:
    """Specs of the towers the main job made under ``work_dir`` (its manifest, ``towers.json``): the tiny CLIP,
    each distilled tower (named ``<main-job tower>_seed<s>``, e.g. ``clipself_seed0``), and (``refiner``) the
    tiny CLIP read through the Refiner of seed 0.

    Raises:
        FileNotFoundError: no tiny CLIP under ``work_dir`` (run ``bash tools/quickstart.sh`` first).
    """
    tiny = osp.join(work_dir, 'tiny_clip.pt')
    if not osp.isfile(tiny):
        raise FileNotFoundError(f'no tiny CLIP at {tiny!r}: run bash tools/quickstart.sh first, or name '
                                'towers with --tower NAME=SPEC')
    manifest = read_manifest(work_dir)
    specs = {'tiny CLIP': tiny}
    specs.update({key: entry['checkpoint'] for key, entry in sorted(manifest['towers'].items())
                  if entry['config'] and osp.isfile(entry['checkpoint'])})
    if refiner and '0' in manifest['refiners']:
        specs['tiny CLIP + Refiner'] = REFINER_PREFIX + manifest['refiners']['0']
    return specs


def parse_tower_specs(items: Optional[Sequence[str]], work_dir: str = 'work_dirs/quickstart',
                      refiner: bool = True) -> dict[str, str]:
    """``['NAME=SPEC', 'SPEC', ...]`` -> ``{name: spec}`` (a bare spec is named after its file);
    none -> :func:`quickstart_towers`."""
    if not items:
        return quickstart_towers(work_dir, refiner)
    specs = {}
    for item in items:
        name, spec = item.split('=', 1) if '=' in item else (osp.splitext(osp.basename(item))[0], item)
        if name in specs:
            raise ValueError(f'tower name {name!r} given twice')
        specs[name] = spec
    return specs


@torch.no_grad()
def dense_maps(encoder: DenseEncoder, images: torch.Tensor, batch_size: int = 64,
               progress: bool = False) -> torch.Tensor:
    """``encoder.dense_features`` of ``(N, 3, H, W)`` images in batches -> ``(N, D, h, w)``."""
    bar = ProgressBar(len(images)) if progress else None
    out = []
    for start in range(0, len(images), batch_size):
        out.append(encoder.dense_features(images[start:start + batch_size]))
        if bar is not None:
            bar.update(len(out[-1]))
    if bar is not None:
        print()
    return torch.cat(out)
