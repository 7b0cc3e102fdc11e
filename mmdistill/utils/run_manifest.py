"""The manifest of a main-job run folder: which towers (and Refiners) the run made, and from what.

``<work_dir>/towers.json`` holds ``{"towers": {"<name>_seed<s>": tower}, "refiners": {"<seed>": path},
"models": {"<section>/<row>_seed<s>": model}}``: a tower is ``dict(name, label, seed, config, checkpoint,
text_checkpoint)`` (``name`` a tower of ``configs/quickstart/main_job.py``, ``checkpoint`` the exported open_clip
file, ``text_checkpoint`` the file whose text tower classifies for it: itself for a tower trained with its own text
tower, else None, the tiny CLIP's); a model is a trained downstream model, ``dict(section, label, seed, config,
checkpoint)`` (the config its training ran with, tower included, is the copy beside the checkpoint).
Paths are stored relative to the run folder and returned joined to it. The main job writes it; the analysis tools,
the web demo and the tests read it instead of parsing file names.
"""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Optional

from filelock import FileLock

MANIFEST = 'towers.json'


def read_manifest(work_dir: str) -> dict:
    """The run's manifest with absolute-or-run-relative paths joined to ``work_dir`` (empty if none yet)."""
    path = osp.join(work_dir, MANIFEST)
    if not osp.isfile(path):
        return dict(towers={}, refiners={}, models={})
    with open(path) as f:
        data = json.load(f)
    towers = {key: dict(entry, checkpoint=osp.join(work_dir, entry['checkpoint']),
                        text_checkpoint=entry['text_checkpoint'] and osp.join(work_dir, entry['text_checkpoint']))
              for key, entry in data.get('towers', {}).items()}
    refiners = {seed: osp.join(work_dir, path) for seed, path in data.get('refiners', {}).items()}
    models = {key: dict(entry, checkpoint=osp.join(work_dir, entry['checkpoint']))
              for key, entry in data.get('models', {}).items()}
    return dict(towers=towers, refiners=refiners, models=models)


def _write(work_dir: str, update) -> None:
    """Read, ``update`` and write the manifest under a lock (processes sharing the run folder lose no entry);
    readers never see half a file."""
    path = osp.join(work_dir, MANIFEST)
    os.makedirs(work_dir, exist_ok=True)
    with FileLock(path + '.lock'):
        data = dict(towers={}, refiners={}, models={})
        if osp.isfile(path):
            with open(path) as f:
                data.update(json.load(f))
        update(data)
        tmp = f'{path}.tmp{os.getpid()}'
        with open(tmp, 'w') as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)


def record_tower(work_dir: str, name: str, label: str, seed: int, checkpoint: str, config: Optional[str] = None,
                 own_text: bool = False) -> None:
    """Add (or replace) tower ``name`` of seed ``seed``, made from ``config`` (None: the tiny CLIP)."""
    rel = osp.relpath(checkpoint, work_dir)
    entry = dict(name=name, label=label, seed=seed, config=config, checkpoint=rel,
                 text_checkpoint=rel if own_text else None)
    _write(work_dir, lambda data: data['towers'].__setitem__(f'{name}_seed{seed}', entry))


def record_refiner(work_dir: str, seed: int, checkpoint: str) -> None:
    """Add (or replace) the Refiner checkpoint of seed ``seed``."""
    _write(work_dir, lambda data: data['refiners'].__setitem__(str(seed), osp.relpath(checkpoint, work_dir)))


def record_model(work_dir: str, section: str, row: str, label: str, seed: int, config: str,
                 checkpoint: str) -> None:
    """Add (or replace) the downstream model of row ``row`` (a file-name form of ``label``) of ``section``."""
    entry = dict(section=section, label=label, seed=seed, config=config,
                 checkpoint=osp.relpath(checkpoint, work_dir))
    _write(work_dir, lambda data: data['models'].__setitem__(f'{section}/{row}_seed{seed}', entry))
