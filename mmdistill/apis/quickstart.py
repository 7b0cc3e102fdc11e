"""The quickstart pipeline on the synthetic world: world -> tiny CLIP -> dense zero-shot table.

Every stage is cached on disk and keyed by what it depends on, so a rerun only
computes what changed; an interrupted training resumes from its last checkpoint.
Rows of the results table are :class:`Row` s; later stages append their own.
"""
from __future__ import annotations

import hashlib
import json
import os
import os.path as osp
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from mmengine.config import Config
from mmengine.runner import Runner

from ..clip.architectures import MODEL_CONFIG_DIR
from ..clip.export import export_open_clip
from ..datasets.synthetic import generate_world, world_is_complete

PRETRAIN_CONFIG = 'configs/quickstart/tiny_clip_pretrain_synthetic.py'
EVAL_CONFIG = 'configs/quickstart/dense_zero_shot_synthetic.py'
REFINER_CONFIG = 'configs/refiner/refiner_synthetic.py'
ARCH = 'mmdistill-world-ViT-P12'
# Paths the synthetic-world configs name; replaced by the run's actual files.
CONFIG_TINY_CLIP = 'work_dirs/quickstart/tiny_clip.pt'
CONFIG_REFINER = 'work_dirs/quickstart/refiner/iter_200.pth'
COLUMNS = (('boxes', 'thing'), ('boxes', 'stuff'), ('masks', 'thing'), ('masks', 'stuff'), ('crops', 'thing'))


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
    def picture(self) -> str:
        return osp.join(self.work_dir, 'per_class_accuracy.png')

    def stage_dir(self, name: str) -> str:
        return osp.join(self.work_dir, name)


@dataclass
class Row:
    """One tower of the results table: how to get its checkpoint, and whether the default run has it."""

    name: str
    make_checkpoint: Callable[[QuickstartPaths, int, bool], str]
    default: bool = True
    metrics: dict = field(default_factory=dict)
    spread: dict = field(default_factory=dict)


def banner(step: str, text: str) -> None:
    print(f'\n==== [{step}] {text} ====', flush=True)


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


def ensure_world(paths: QuickstartPaths, seed: int, force: bool) -> None:
    if not force and world_is_complete(paths.world, seed=seed):
        print(f'synthetic world found at {paths.world} (cached)')
        return
    generate_world(paths.world, seed=seed, force=force, progress=True)


def replace_paths(node, mapping: dict[str, str]):
    """Replace string leaves of a config tree equal to a key of ``mapping``."""
    if isinstance(node, dict):
        for k, v in node.items():
            node[k] = replace_paths(v, mapping)
    elif isinstance(node, list):
        return [replace_paths(v, mapping) for v in node]
    elif isinstance(node, str):
        return mapping.get(node, node)
    return node


def train_from_config(config: str, work_dir: str, world: str, seed: int, paths: Optional[dict] = None,
                      **overrides) -> Runner:
    """Train ``config`` on the world at ``world``; resumes from the last checkpoint in ``work_dir``.

    ``paths`` maps file names the config holds to the files of this run.
    """
    cfg = Config.fromfile(config)
    if paths:
        replace_paths(cfg.model, paths)
    cfg.work_dir = work_dir
    cfg.train_dataloader.dataset.data_root = world
    cfg.randomness = dict(seed=seed)
    cfg.resume = True
    cfg.experiment_name = f'{osp.basename(work_dir)}_{time.strftime("%Y%m%d_%H%M%S")}_{os.getpid()}'
    cfg.merge_from_dict(overrides)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def pretrained_tiny_clip(paths: QuickstartPaths, seed: int, force: bool) -> str:
    """Stage 2: image-text pretraining of the tiny CLIP, exported as an open_clip checkpoint.

    Cached with a key of the config and the world, so a new world or recipe retrains it.
    """
    key = file_key(resolved_config(PRETRAIN_CONFIG), osp.join(paths.world, 'meta.json'), str(seed))
    stamp = paths.tiny_clip + '.key'
    if osp.isfile(paths.tiny_clip) and osp.isfile(stamp) and open(stamp).read() == key and not force:
        print(f'tiny CLIP found at {paths.tiny_clip} (cached)')
        return paths.tiny_clip
    runner = train_from_config(PRETRAIN_CONFIG, paths.stage_dir(f'tiny_clip_pretrain_{key}'), paths.world, seed)
    export_open_clip(last_checkpoint(runner), ARCH, paths.tiny_clip, prefix='clip.')
    with open(stamp, 'w') as f:
        f.write(key)
    return paths.tiny_clip


def last_checkpoint(runner: Runner) -> str:
    path = osp.join(runner.work_dir, f'iter_{runner.iter}.pth')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} missing after training: is the CheckpointHook interval a divisor of '
                                f'max_iters ({runner.max_iters})?')
    return path


def refiner_checkpoint(paths: QuickstartPaths, seed: int, force: bool) -> str:
    """Stage 1 of R-SCD: the Refiner trained on the world (cached per seed)."""
    work_dir = paths.stage_dir(f'refiner_seed{seed}_{file_key(resolved_config(REFINER_CONFIG), paths.tiny_clip)}')
    done = osp.join(work_dir, 'iter_200.pth')
    if osp.isfile(done) and not force:
        return done
    runner = train_from_config(REFINER_CONFIG, work_dir, paths.world, seed, {CONFIG_TINY_CLIP: paths.tiny_clip})
    return last_checkpoint(runner)


def distilled(config: str, needs_refiner: bool = False) -> Callable[[QuickstartPaths, int, bool], str]:
    """A row maker: distil with ``config`` (seeded), export the student as an open_clip checkpoint."""
    stem = osp.splitext(osp.basename(config))[0]

    def make(paths: QuickstartPaths, seed: int, force: bool) -> str:
        refiner = resolved_config(REFINER_CONFIG) if needs_refiner else ''
        key = file_key(resolved_config(config), paths.tiny_clip, refiner)
        out = osp.join(paths.work_dir, 'towers', f'{stem}_seed{seed}_{key}.pt')
        if osp.isfile(out) and not force:
            print(f'{stem} (seed {seed}) found (cached)')
            return out
        mapping = {CONFIG_TINY_CLIP: paths.tiny_clip}
        if needs_refiner:
            mapping[CONFIG_REFINER] = refiner_checkpoint(paths, seed, force)
        runner = train_from_config(config, paths.stage_dir(f'{stem}_seed{seed}_{key}'), paths.world, seed, mapping)
        return export_open_clip(last_checkpoint(runner), ARCH, out, original=paths.tiny_clip, prefix='student.')

    return make


def evaluate_tower(paths: QuickstartPaths, name: str, checkpoint: str, force: bool) -> dict:
    """Dense zero-shot accuracy of ``checkpoint``'s image tower (text tower: the tiny CLIP)."""
    out_dir = paths.stage_dir('eval')
    os.makedirs(out_dir, exist_ok=True)
    key = file_key(checkpoint, paths.tiny_clip, resolved_config(EVAL_CONFIG), osp.join(paths.world, 'meta.json'))
    cache = osp.join(out_dir, f'{name}.{key}.json')
    if osp.isfile(cache) and not force:
        print(f'evaluation of {name} found (cached)')
        return json.load(open(cache))
    cfg = Config.fromfile(EVAL_CONFIG)
    cfg.work_dir = osp.join(out_dir, name)
    cfg.model.tower.checkpoint = checkpoint
    cfg.model.text.checkpoint = paths.tiny_clip
    cfg.test_dataloader.dataset.data_root = paths.world
    cfg.test_evaluator.out_file = osp.join(out_dir, f'{name}.per_class.json')
    cfg.experiment_name = f'eval_{name}_{time.strftime("%Y%m%d_%H%M%S")}_{os.getpid()}'
    metrics = Runner.from_cfg(cfg).test()
    result = dict(metrics={k.removeprefix('dense_zs/'): float(v) for k, v in metrics.items()},
                  per_class_file=cfg.test_evaluator.out_file)
    with open(cache, 'w') as f:
        json.dump(result, f, indent=1)
    return result


def format_table(rows: list[Row]) -> str:
    """Markdown table: rows = towers, columns = readout x group, top-1 / top-5 (percent, mean over seeds)."""
    head = '| tower | ' + ' | '.join(f'{kind} {group} top-1 / top-5' for kind, group in COLUMNS) + ' |'
    lines = [head, '|' + '---|' * (len(COLUMNS) + 1)]
    for row in rows:
        cells = []
        for kind, group in COLUMNS:
            top1 = row.metrics.get(f'{kind}/{group}_top1')
            top5 = row.metrics.get(f'{kind}/{group}_top5')
            spread = row.spread.get(f'{kind}/{group}_top1')
            pm = f' ±{spread:.1f}' if spread else ''
            cells.append('-' if top1 is None else f'{top1:.1f}{pm} / {top5:.1f}')
        lines.append(f'| {row.name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def average(results: list[dict]) -> tuple[dict, dict]:
    """Mean and (for several seeds) standard deviation of each metric."""
    keys = set.intersection(*(set(r) for r in results))
    mean = {k: sum(r[k] for r in results) / len(results) for k in keys}
    std = {k: (sum((r[k] - mean[k]) ** 2 for r in results) / (len(results) - 1)) ** 0.5 for k in keys} \
        if len(results) > 1 else {}
    return mean, std


def default_rows() -> list[Row]:
    """The table's towers; rows with ``default=False`` need ``--all``."""
    return [
        Row('tiny CLIP (image-text)', lambda paths, seed, force: paths.tiny_clip),  # made by stage 2
        Row('CLIPSelf', distilled('configs/clipself/clipself_patches_synthetic.py')),
        Row('CLIPSelf (proposals)', distilled('configs/clipself/clipself_proposals_synthetic.py'), default=False),
        Row('SC-CLIPSelf', distilled('configs/scd/sc_clipself_synthetic.py'), default=False),
        Row('R-SC-CLIPSelf', distilled('configs/scd/r_sc_clipself_synthetic.py', needs_refiner=True), default=False),
        Row('R-SC-V', distilled('configs/scd/r_sc_v_synthetic.py', needs_refiner=True), default=False),
        Row('RegionText', distilled('configs/regiontext/regiontext_synthetic.py'), default=False),
        Row('R-SC-RegionText', distilled('configs/regiontext/r_sc_regiontext_synthetic.py', needs_refiner=True),
            default=False),
    ]


def run_quickstart(paths: QuickstartPaths, seed: int = 0, include_all: bool = False, force: bool = False,
                   rows: Optional[list[Row]] = None, seeds: Sequence[int] = (0,)) -> str:
    """Run every stage; return the results table (also written to ``paths.results_md``).

    ``seed`` makes the world and the tiny CLIP; ``seeds`` are the distillation runs averaged per row.
    """
    from ..visualization.accuracy_plots import plot_per_class_accuracy
    rows = [r for r in (rows or default_rows()) if r.default or include_all]
    banner('1/4', 'synthetic world')
    ensure_world(paths, seed, force)
    banner('2/4', 'tiny CLIP pretraining (image-text contrastive)')
    pretrained_tiny_clip(paths, seed, force)
    per_class = {}
    for i, row in enumerate(rows):
        results = []
        for run_seed in seeds:
            banner('3/4', f'tower {i + 1}/{len(rows)}: {row.name} (seed {run_seed})')
            checkpoint = row.make_checkpoint(paths, run_seed, force)
            result = evaluate_tower(paths, osp.splitext(osp.basename(checkpoint))[0], checkpoint, force)
            results.append(result['metrics'])
            per_class.setdefault(row.name, json.load(open(result['per_class_file'])))
        row.metrics, row.spread = average(results)
    banner('4/4', 'results')
    table = format_table(rows)
    seeds_note = f' (mean over distillation seeds {list(seeds)}, ± = std of top-1)' if len(seeds) > 1 else ''
    with open(paths.results_md, 'w') as f:
        f.write(f'# Dense zero-shot accuracy on the synthetic world (val split){seeds_note}\n\n{table}\n')
    plot_per_class_accuracy(per_class, paths.picture)
    return table
