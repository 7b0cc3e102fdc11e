"""A run of the synthetic world, as every consumer shares it: its folder, configs read with the run's files, and
the cached stages (world, tiny CLIP, Refiner, distilled towers).

A stage is computed once per key (what it depends on: resolved config, world, seed, input checkpoints), under
an inter-process lock, so the main job, its second lane and test sessions on one run folder share every entry.
The main job (:mod:`mmdistill.apis.quickstart`) and the tests build on these; nothing here knows the main job's
sections.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import os.path as osp
import time
from dataclasses import dataclass
from typing import Iterator, Optional

from filelock import FileLock
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from ..clip.architectures import MODEL_CONFIG_DIR
from ..clip.export import export_open_clip
from ..datasets.synthetic import generate_world, world_is_complete
from ..utils.run_manifest import record_refiner, record_tower
from ..utils.runtime import add_training_hooks, resume_from_latest
from .console import attach_progress, step

PRETRAIN_CONFIG = 'configs/quickstart/tiny_clip_pretrain_synthetic.py'
REFINER_CONFIG = 'configs/refiner/refiner_synthetic.py'
ARCH = 'mmdistill-world-ViT-P12'
# Config options of a training without its validation loop (mmengine builds none when all three are None)
NO_VALIDATION = {'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None}
# The variables the synthetic-world configs substitute for this run's files (mmengine's `{{$NAME:default}}`)
RUN_VARIABLES = dict(world='MMDISTILL_WORLD', tiny_clip='MMDISTILL_TINY_CLIP', refiner='MMDISTILL_REFINER')


@dataclass
class QuickstartPaths:
    world: str = 'data/synthetic_world'
    work_dir: str = 'work_dirs/quickstart'

    @property
    def tiny_clip(self) -> str:
        return osp.join(self.work_dir, 'tiny_clip.pt')

    @property
    def results_md(self) -> str:
        return osp.join(self.work_dir, 'results.md')

    @property
    def claims(self) -> str:
        return osp.join(self.work_dir, 'claims.json')

    @property
    def stage_times(self) -> str:
        return osp.join(self.work_dir, 'stage_times.json')

    @property
    def picture(self) -> str:
        return osp.join(self.work_dir, 'per_class_accuracy.png')

    def stage_dir(self, name: str) -> str:
        return osp.join(self.work_dir, name)


def file_key(*items: str) -> str:
    """A short hash of files (content if small, else size and mtime) and of the other strings given."""
    digest = hashlib.sha256()
    for item in items:
        if osp.isfile(item) and os.stat(item).st_size < 2 ** 20:
            digest.update(open(item, 'rb').read())
        elif osp.isfile(item):
            digest.update(f'{item}|{os.stat(item).st_size}|{os.stat(item).st_mtime_ns}'.encode())
        else:
            digest.update(item.encode())
    return digest.hexdigest()[:16]


def _strings(node) -> set[str]:
    if isinstance(node, dict):
        return set().union(*map(_strings, node.values())) if node else set()
    if isinstance(node, (list, tuple)):
        return set().union(*map(_strings, node)) if node else set()
    return {node} if isinstance(node, str) else set()


def resolved_config(config: str) -> str:
    """What a cache key of ``config`` must cover, as text.

    The config with its ``_base_`` files merged, plus the definition (open_clip model config)
    of every architecture shipped in ``mmdistill/clip/model_configs`` that it names: editing
    a base file or an architecture invalidates what was trained from the config.
    """
    cfg = Config.fromfile(config).to_dict()
    archs = sorted(name for name in _strings(cfg) if (MODEL_CONFIG_DIR / f'{name}.json').is_file())
    definitions = {name: (MODEL_CONFIG_DIR / f'{name}.json').read_text() for name in archs}
    return json.dumps(dict(config=cfg, architectures=definitions), sort_keys=True, default=str)


def locked(path: str) -> FileLock:
    """An inter-process lock for the cache entry at ``path`` (``<path>.lock``): processes sharing a run folder
    (two test sessions, two main jobs) compute each entry once; the others wait for it and read it."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    return FileLock(path.rstrip('/') + '.lock')


def ensure_world(paths: QuickstartPaths, seed: int, force: bool) -> None:
    with locked(paths.world):
        if not force and world_is_complete(paths.world, seed=seed):
            return
        generate_world(paths.world, seed=seed, force=force, progress=True)


@contextlib.contextmanager
def run_variables(**files: Optional[str]) -> Iterator[None]:
    """Set :data:`RUN_VARIABLES` (``world=``, ``tiny_clip=``, ``refiner=``; None: the config's default) while
    the block loads configs; the process's environment is restored after. mmengine's note on each substituted
    variable (an INFO line per use) stays off the terminal."""
    saved = {name: os.environ.get(name) for name in RUN_VARIABLES.values()}
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        for key, value in files.items():
            if value is not None:
                os.environ[RUN_VARIABLES[key]] = value.rstrip('/')
        yield
    finally:
        logger.setLevel(level)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def load_run_config(config: str, work_dir: str, world: str, tiny_clip: Optional[str] = None,
                    refiner: Optional[str] = None) -> Config:
    """``config`` read with this run's world, tiny CLIP and Refiner checkpoint (:func:`run_variables`)."""
    with run_variables(world=world, tiny_clip=tiny_clip, refiner=refiner):
        cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    cfg.experiment_name = f'{osp.basename(work_dir)}_{time.strftime("%Y%m%d_%H%M%S")}_{os.getpid()}'
    return cfg


def train_from_config(config: str, work_dir: str, world: str, seed: int, tiny_clip: Optional[str] = None,
                      refiner: Optional[str] = None, **overrides) -> Runner:
    """Train ``config`` on the world at ``world`` (with this run's ``tiny_clip`` and ``refiner`` files); resumes
    from the last checkpoint in ``work_dir``."""
    cfg = load_run_config(config, work_dir, world, tiny_clip, refiner)
    cfg.randomness = dict(seed=seed)
    cfg.merge_from_dict(overrides)
    resume_from_latest(cfg)
    add_training_hooks(cfg)
    runner = Runner.from_cfg(cfg)
    attach_progress(runner)
    runner.train()
    return runner


def pretrained_tiny_clip(paths: QuickstartPaths, seed: int, force: bool) -> str:
    """Stage 2: image-text pretraining of the tiny CLIP, exported as an open_clip checkpoint.

    Cached with a key of the config and the world, so a new world or recipe retrains it.
    """
    key = tiny_clip_key(paths, seed)
    stamp = paths.tiny_clip + '.key'
    with locked(paths.tiny_clip):
        if osp.isfile(paths.tiny_clip) and osp.isfile(stamp) and open(stamp).read() == key and not force:
            return paths.tiny_clip
        with step('tiny_clip_pretrain', 'pretrain the tiny CLIP', 'pretrained'):
            runner = train_from_config(PRETRAIN_CONFIG, paths.stage_dir(f'tiny_clip_pretrain_{key}'), paths.world,
                                       seed)
            export_open_clip(last_checkpoint(runner), ARCH, paths.tiny_clip, prefix='clip.')
        with open(stamp, 'w') as f:
            f.write(key)
    return paths.tiny_clip


def tiny_clip_key(paths: QuickstartPaths, seed: int) -> str:
    """The cache key of the run's tiny CLIP: its config and the world."""
    return file_key(resolved_config(PRETRAIN_CONFIG), osp.join(paths.world, 'meta.json'), str(seed))


def last_checkpoint(runner: Runner) -> str:
    path = osp.join(runner.work_dir, f'iter_{runner.iter}.pth')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} missing after training: is the CheckpointHook interval a divisor of '
                                f'max_iters ({runner.max_iters})?')
    return path


def refiner_checkpoint(paths: QuickstartPaths, seed: int, force: bool) -> str:
    """Stage 1 of R-SCD: the Refiner trained on the world (cached per seed)."""
    work_dir = paths.stage_dir(f'refiner_seed{seed}_{file_key(resolved_config(REFINER_CONFIG), paths.tiny_clip)}')
    done = final_checkpoint(REFINER_CONFIG, work_dir)
    with locked(work_dir):
        if not osp.isfile(done) or force:
            with step(f'refiner_seed{seed}', f'train the Refiner (seed {seed})', 'Refiner trained'):
                train_from_config(REFINER_CONFIG, work_dir, paths.world, seed, paths.tiny_clip)
    record_refiner(paths.work_dir, seed, done)
    return done


def final_checkpoint(config: str, work_dir: str) -> str:
    """Where a training of ``config`` in ``work_dir`` leaves its last checkpoint, ``iter_<max_iters>.pth``: a
    finished training is one whose file exists (an interrupted one resumes)."""
    cfg = Config.fromfile(config)
    return osp.join(work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')


def tower_checkpoint(spec: dict, paths: QuickstartPaths, seed: int, force: bool) -> str:
    """The checkpoint of a tower of ``main_job.py``: the tiny CLIP, or a student distilled from it
    with ``spec['config']`` (seeded), exported as an open_clip checkpoint (with the text tower trained
    with it, under ``spec['text_prefix']`` of the training checkpoint, where given)."""
    config = spec.get('config')
    if config is None:
        record_tower(paths.work_dir, spec.get('name', 'tiny_clip'), spec.get('label', 'tiny CLIP'), seed,
                     paths.tiny_clip)
        return paths.tiny_clip  # made by stage 2
    stem = osp.splitext(osp.basename(config))[0]
    refiner = resolved_config(REFINER_CONFIG) if spec.get('refiner') else ''
    key = file_key(resolved_config(config), paths.tiny_clip, refiner)
    out = osp.join(paths.work_dir, 'towers', f'{stem}_seed{seed}_{key}.pt')
    with locked(out):
        if not osp.isfile(out) or force:
            refiner = refiner_checkpoint(paths, seed, force) if spec.get('refiner') else None
            with step(f'tower.{stem}_seed{seed}', f'distil {spec.get("label", stem)} (seed {seed})',
                      'tower distilled'):
                runner = train_from_config(config, paths.stage_dir(f'{stem}_seed{seed}_{key}'), paths.world, seed,
                                           paths.tiny_clip, refiner)
                export_open_clip(last_checkpoint(runner), ARCH, out, original=paths.tiny_clip,
                                 prefix=spec.get('prefix', 'student.'), text_prefix=spec.get('text_prefix'))
    record_tower(paths.work_dir, spec.get('name', stem), spec.get('label', stem), seed, out, config,
                 own_text=bool(spec.get('text_prefix')))
    return out
