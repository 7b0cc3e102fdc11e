"""The main job on the synthetic world: world -> tiny CLIP -> towers -> one results table per section.

What it makes and evaluates is data (``configs/quickstart/main_job.py``): towers (the tiny CLIP and
its distilled students) and sections (dense zero-shot accuracy, F-ViT detection, ...), each a config
tested once per row with the row's tower, trained on it first where the section says so.
Every stage is cached on disk and keyed by what it depends on, so a rerun only computes what
changed; an interrupted training resumes from its last checkpoint.
"""
from __future__ import annotations

import json
import numbers
import os
import os.path as osp
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from ..datasets.synthetic import world_is_complete
from ..registry import MAIN_JOB_STEPS
from ..utils.run_manifest import record_model
from .console import MainJobConsole, attach_progress, format_duration, step
from .runs import (
    ARCH,
    NO_VALIDATION,
    QuickstartPaths,
    ensure_world,
    file_key,
    final_checkpoint,
    load_run_config,
    locked,
    pretrained_tiny_clip,
    resolved_config,
    tower_checkpoint,
    train_from_config,
)

MAIN_JOB_CONFIG = 'configs/quickstart/main_job.py'
EVAL_CONFIG = 'configs/quickstart/dense_zero_shot_synthetic.py'


def main_job_step(name: str, kind: str):
    """The picture or preparation step registered as ``name`` in :data:`~mmdistill.registry.MAIN_JOB_STEPS`;
    a ValueError naming the registered ones otherwise."""
    func = MAIN_JOB_STEPS.get(name)
    if func is None or getattr(func, 'kind', None) != kind:
        known = sorted(n for n, f in MAIN_JOB_STEPS.module_dict.items() if getattr(f, 'kind', None) == kind)
        raise ValueError(f'unknown {kind} {name!r}; registered: {known}')
    return func


def registered_step(kind: str, name: str):
    """Register a main-job step of ``kind`` (``'picture'``: ``(section, paths) -> file``; ``'prepare'``:
    ``(paths) -> None``) under ``name``, the value a section of ``configs/quickstart/main_job.py`` gives."""
    def register(func):
        func.kind = kind
        return MAIN_JOB_STEPS.register_module(name=name)(func)
    return register


@dataclass
class Row:
    """One row of a section: a tower (key of ``towers``), optional test-time config options and its own config
    (default: the section's)."""

    label: str
    tower: str
    default: bool = True
    config: Optional[str] = None
    own_text: bool = False  # the tower brings its own text tower (trained with it, e.g. SILC from scratch)
    test_options: dict = field(default_factory=dict)
    lane: int = 0  # 1: computed ahead by the second lane (SecondLane) when the job has two threads or more
    metrics: dict = field(default_factory=dict)
    spread: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)  # output name -> file of the first seed
    tower_checkpoint: Optional[str] = None  # the tower of the first seed
    model_checkpoint: Optional[str] = None  # the trained downstream model of the first seed


@dataclass
class Claim:
    """A paper's comparison that the world reproduces: ``row`` beats ``baseline`` (row labels of the section) on
    ``metric`` by at least ``margin``, in the table's units (the metric times ``scale``)."""

    text: str
    row: str
    baseline: str
    metric: str
    margin: float
    scale: float = 1.0

    def check(self, rows: dict) -> Optional[dict]:
        """The claim's numbers and whether it holds, given ``{label: Row}``; None if a row did not run."""
        if self.row not in rows or self.baseline not in rows:
            return None
        value, base = (rows[label].metrics[self.metric] * self.scale for label in (self.row, self.baseline))
        return dict(text=self.text, row=self.row, baseline=self.baseline, metric=self.metric, value=value,
                    baseline_value=base, margin=self.margin, holds=value - base >= self.margin)


def format_claim(result: dict) -> str:
    """``'- CLIPSelf lifts boxes: CLIPSelf 31.0 vs tiny CLIP 4.6 (+26.4, needs +10.0): holds'``."""
    gain = result['value'] - result['baseline_value']
    return (f"- {result['text']}: {result['row']} {result['value']:.1f} vs {result['baseline']} "
            f"{result['baseline_value']:.1f} ({gain:+.1f}, needs {result['margin']:+.1f}): "
            + ('holds' if result['holds'] else 'DOES NOT HOLD'))


@dataclass
class Section:
    """A config tested once per row with the row's tower at ``tower_key`` (trained on it first if ``train``).

    ``tower_key=None``: the config names the run's tiny CLIP itself (e.g. as a distillation teacher).
    """

    name: str
    title: str
    config: str
    tower_key: Optional[str]
    columns: list
    rows: list
    text_key: Optional[str] = None  # where a row whose tower has its own text tower puts it too
    train: bool = False
    outputs: dict = field(default_factory=dict)  # config key -> output file name, per evaluation
    prepare: Optional[str] = None
    picture: Optional[str] = None
    test_options: dict = field(default_factory=dict)  # config options of every row's test (not its training)
    claims: list = field(default_factory=list)  # Claim: the papers' comparisons its table shows
    tower_pictures: Optional[dict] = None  # affinity maps / PCA of the rows' towers: indices, grid, size, cell
    shows: Optional[str] = None  # what the table shows, one sentence under its title


def load_main_job(config: str = MAIN_JOB_CONFIG) -> tuple[dict, list[Section]]:
    """``(towers, sections)`` of the main job; an unknown tower name is an error naming it."""
    cfg = Config.fromfile(config)
    towers = {name: dict(spec, name=name) for name, spec in cfg.towers.to_dict().items()}
    sections = []
    for spec in cfg.sections:
        spec = spec.to_dict()
        rows = []
        for row in spec.pop('rows'):
            if row['tower'] not in towers:
                raise KeyError(f'{config}: section {spec["name"]!r} names tower {row["tower"]!r}; '
                               f'known towers: {sorted(towers)}')
            rows.append(Row(label=row.get('label', towers[row['tower']]['label']), tower=row['tower'],
                            default=row.get('default', True), test_options=row.get('test_options', {}),
                            config=row.get('config'), lane=row.get('lane', 0),
                            own_text=bool(towers[row['tower']].get('text_prefix'))))
        columns = [(c[0], list(c[1]), c[2] if len(c) > 2 else 1.0) for c in spec.pop('columns')]
        claims = [Claim(**claim) for claim in spec.pop('claims', [])]
        labels = {row.label for row in rows}
        for claim in claims:
            unknown = {claim.row, claim.baseline} - labels
            if unknown:
                raise KeyError(f'{config}: a claim of section {spec["name"]!r} names rows {sorted(unknown)}; '
                               f'its rows: {sorted(labels)}')
        sections.append(Section(rows=rows, columns=columns, claims=claims, **spec))
    return towers, sections


def tower_options(section: Section, row: Row, tower: str) -> dict:
    """The config options that put ``tower`` into the section's config (also as the text tower where the
    row's tower has its own)."""
    if row.own_text and not section.text_key:
        raise KeyError(f'section {section.name!r}: tower {row.tower!r} brings its own text tower; set the '
                       "section's text_key (e.g. 'model.vocabulary.text.checkpoint')")
    options = {section.tower_key: tower} if section.tower_key else {}
    return {**options, section.text_key: tower} if row.own_text else options


def trained_model(section: Section, row: Row, tower: str, paths: QuickstartPaths, seed: int, force: bool) -> str:
    """Train the row's config on ``tower`` (cached per tower, config and seed); its last checkpoint."""
    config = row.config or section.config
    key = file_key(resolved_config(config), tower, osp.join(paths.world, 'meta.json'), str(seed))
    work_dir = paths.stage_dir(osp.join(section.name, f'seed{seed}_{key}'))
    done = final_checkpoint(config, work_dir)
    with locked(work_dir):
        if not osp.isfile(done) or force:
            # the section tests the model itself: no validation loop (mmengine's iteration loop would validate
            # after the last iteration whatever the interval: a whole val split, 3 min for Cat-Seg)
            with step(f'{section.name}.train.{row_slug(row)}_seed{seed}',
                      f'train {section.name} on {row.label} (seed {seed})', 'model trained'):
                train_from_config(config, work_dir, paths.world, seed, paths.tiny_clip,
                                  **tower_options(section, row, tower), **NO_VALIDATION)
    record_model(paths.work_dir, section.name, row_slug(row), row.label, seed, config, done)
    return done


def evaluate(section: Section, row: Row, tower: str, model: Optional[str], paths: QuickstartPaths,
             force: bool) -> dict:
    """Test the row's config on ``tower`` (and the trained ``model``); cached metrics and output files."""
    config = row.config or section.config
    out_dir = paths.stage_dir(osp.join('eval', section.name))
    os.makedirs(out_dir, exist_ok=True)
    key = file_key(tower, model or '', paths.tiny_clip, resolved_config(config),
                   osp.join(paths.world, 'meta.json'),
                   json.dumps({**section.test_options, **row.test_options}, sort_keys=True))
    stem = f'{osp.splitext(osp.basename(model or tower))[0]}.{key}'
    cache = osp.join(out_dir, f'{stem}.json')
    with locked(cache):
        if osp.isfile(cache) and not force:
            return json.load(open(cache))
        cfg = load_run_config(config, osp.join(out_dir, stem), paths.world, paths.tiny_clip)
        outputs = {name: osp.join(out_dir, f'{stem}.{name}') for name in section.outputs.values()}
        cfg.merge_from_dict({**section.test_options, **tower_options(section, row, tower), **row.test_options,
                             **{k: outputs[name] for k, name in section.outputs.items()}})
        if model is not None:
            cfg.load_from = model
        with step(f'{section.name}.test.{row_slug(row)}', f'test {row.label}', 'tested'):
            runner = Runner.from_cfg(cfg)
            attach_progress(runner)
            metrics = runner.test()
        result = dict(metrics={k: float(v) for k, v in metrics.items() if isinstance(v, numbers.Real)},
                      outputs=outputs)
        with open(cache, 'w') as f:
            json.dump(result, f, indent=1)
    return result


def prepare_section(section: Section, paths: QuickstartPaths) -> None:
    """Data a section needs beyond the world: its registered preparation step (e.g. ``'ov_world'``)."""
    if section.prepare is not None:
        try:
            func = main_job_step(section.prepare, 'prepare')
        except ValueError as error:
            raise ValueError(f'section {section.name!r}: {error}') from None
        func(paths)


@registered_step('prepare', 'ov_world')
def prepare_ov_world_step(paths: QuickstartPaths) -> None:
    """The OV-detection annotation files of the world (base-class training set, all-class val set)."""
    from ..datasets.ov_splits import prepare_ov_world
    with locked(osp.join(paths.world, 'annotations', 'ov')):
        prepare_ov_world(paths.world)


def run_section(section: Section, towers: dict, paths: QuickstartPaths, seeds: Sequence[int], force: bool,
                console: Optional[MainJobConsole] = None, lane: Optional[SecondLane] = None) -> None:
    """Fill ``row.metrics`` (mean over seeds) and ``row.spread`` of every row of the section; one line per
    row and seed on ``console`` (what ran and how long, or 'cached'), after the progress bars of its steps.
    A row that the running second ``lane`` computes is read from its caches once there (its line says so)."""
    if section.prepare:
        with step(f'{section.name}.prepare', f'prepare {section.name}'):
            prepare_section(section, paths)
    for row in section.rows:
        results = []
        for run_seed in seeds:
            done = len(console.ran) if console else 0
            if lane is not None:
                lane.before_row(section, row, run_seed)
            tower = tower_checkpoint(towers[row.tower], paths, run_seed, force)
            model = trained_model(section, row, tower, paths, run_seed, force) if section.train else None
            result = evaluate(section, row, tower, model, paths, force)
            results.append(result['metrics'])
            if row.tower_checkpoint is None:
                row.outputs, row.tower_checkpoint, row.model_checkpoint = result['outputs'], tower, model
            if console:
                seed_note = f' (seed {run_seed})' if len(seeds) > 1 else ''
                summary = ran_summary(console.ran[done:])
                if lane is not None and not console.ran[done:]:
                    summary = lane.summary(section, row, run_seed) or summary
                console.print(f'  {row.label}{seed_note}: {summary}')
                if lane is not None:
                    lane.record_row(section, row, run_seed, console.ran[done:])
        row.metrics, row.spread = average(results)


def lane_key(section: Section, row: Row, seed: int) -> str:
    return f'{section.name}|{row.label}|{seed}'


class SecondLane:
    """A second process, one torch thread, that computes the rows marked ``lane=1`` in ``main_job.py`` ahead of
    the main process (also one thread while it runs: two one-thread processes do about 1.4 times the work of
    one two-thread process on 2 cores).

    It is a prefetcher: every cache entry is computed once under its file lock (:func:`locked`), so the main
    process, on reaching a lane row, waits until the lane has computed it and reads its cache entries; the rows
    of a lane that failed are computed by the main process as usual. What the lane ran is
    in ``<work_dir>/second_lane.json`` (per row, and its step times) and its terminal in ``logs/second_lane.log``.
    """

    def __init__(self, paths: QuickstartPaths, console: MainJobConsole, record: bool = False):
        self.paths, self.console = paths, console
        self.record_file = osp.join(paths.work_dir, 'second_lane.json')
        self.recording = record  # True in the lane itself: it writes what it ran per row
        self.process: Optional[subprocess.Popen] = None
        self.returncode: Optional[int] = None
        self.threads = torch.get_num_threads()

    def start(self, main_job: str, seeds: Sequence[int], include_all: bool, rows: int) -> bool:
        """Start the lane for its ``rows`` (row count); False (nothing started) without rows or with one thread.
        An earlier run's record goes either way, so that no stale row or step time is read as this run's."""
        if osp.isfile(self.record_file):
            os.remove(self.record_file)
        if not rows or self.threads < 2:
            return False
        command = [sys.executable, '-m', 'mmdistill.apis.second_lane', '--work-dir', self.paths.work_dir,
                   '--world', self.paths.world, '--main-job', main_job,
                   '--seeds', *map(str, seeds)] + (['--all'] if include_all else [])
        os.makedirs(self.console.log_dir, exist_ok=True)
        log = open(osp.join(self.console.log_dir, 'second_lane.log'), 'a')
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                        env=dict(os.environ, OMP_NUM_THREADS='1'))
        log.close()
        torch.set_num_threads(1)
        return True

    def running(self) -> bool:
        """Whether the lane still runs; once it stopped the main process takes both threads back."""
        if self.process is not None and self.process.poll() is not None:
            self._ended(self.process.returncode)
        return self.process is not None

    def _ended(self, returncode: int) -> None:
        self.process, self.returncode = None, returncode
        torch.set_num_threads(self.threads)

    def before_row(self, section: Section, row: Row, seed: int) -> None:
        """In the main process: a lane row waits until the running lane has computed it (it then reads the
        caches)."""
        key = lane_key(section, row, seed)
        while row.lane == 1 and self.running() and key not in self.read().get('rows', {}):
            time.sleep(1.0)

    def summary(self, section: Section, row: Row, seed: int) -> Optional[str]:
        """What the lane ran for the row (``'second lane: model trained 4m10s, tested 20s'``), if it did."""
        ran = self.read().get('rows', {}).get(lane_key(section, row, seed))
        return f'second lane: {ran_summary(ran)}' if ran else None

    def record_row(self, section: Section, row: Row, seed: int, ran: Sequence[tuple[str, float]]) -> None:
        """In the lane: add the row's steps (and their times) to the record the main process reads."""
        if not self.recording:
            return
        record = self.read()
        record.setdefault('rows', {})[lane_key(section, row, seed)] = [list(item) for item in ran]
        record['timings'] = [[name, round(seconds, 1)] for name, seconds in self.console.timings]
        tmp = f'{self.record_file}.{os.getpid()}.tmp'
        with open(tmp, 'w') as f:
            json.dump(record, f, indent=1)
        os.replace(tmp, self.record_file)

    def read(self) -> dict:
        return json.load(open(self.record_file)) if osp.isfile(self.record_file) else {}

    def stop(self) -> Optional[int]:
        """Wait for the lane to end (it only has rows the main process also reaches); its exit code (None: no
        lane ran)."""
        if self.process is not None:
            self._ended(self.process.wait())
        return self.returncode

    def kill(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self._ended(self.process.wait())


def ran_summary(ran: Sequence[tuple[str, float]]) -> str:
    """``[('tower distilled', 190.0), ('tested', 12.0)]`` -> ``'tower distilled 3m10s, tested 12s'``; none: cached."""
    return ', '.join(f'{desc} {format_duration(seconds)}' for desc, seconds in ran) if ran else 'cached'


def row_slug(row: Row) -> str:
    """The row's label as a file name: ``'tiny CLIP, value (MaskCLIP)'`` -> ``'tiny_clip_value_maskclip'``."""
    return re.sub(r'[^a-z0-9]+', '_', row.label.lower()).strip('_')


def format_table(section: Section) -> str:
    """Markdown table: a row per tower, the section's columns (mean over seeds times the column's scale,
    ± std of the first key)."""
    lines = ['| tower | ' + ' | '.join(label for label, *_ in section.columns) + ' |',
             '|' + '---|' * (len(section.columns) + 1)]
    for row in section.rows:
        cells = []
        for _, keys, scale in section.columns:
            values = [f'{row.metrics[k] * scale:.1f}' if k in row.metrics else '-' for k in keys]
            if row.spread.get(keys[0]):
                values[0] += f' ±{row.spread[keys[0]] * scale:.1f}'
            cells.append(' / '.join(values))
        lines.append(f'| {row.label} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def average(results: list[dict]) -> tuple[dict, dict]:
    """Mean and (for several seeds) standard deviation of each metric."""
    keys = set.intersection(*(set(r) for r in results))
    mean = {k: sum(r[k] for r in results) / len(results) for k in keys}
    std = {k: (sum((r[k] - mean[k]) ** 2 for r in results) / (len(results) - 1)) ** 0.5 for k in keys} \
        if len(results) > 1 else {}
    return mean, std


def draw_picture(section: Section, paths: QuickstartPaths) -> Optional[str]:
    """The section's picture (a registered picture step named by the section), or None."""
    if section.picture is None:
        return None
    try:
        func = main_job_step(section.picture, 'picture')
    except ValueError as error:
        raise ValueError(f'section {section.name!r}: {error}') from None
    return func(section, paths)


@registered_step('picture', 'per_class_accuracy')
def per_class_accuracy_picture(section: Section, paths: QuickstartPaths) -> str:
    """Per-class accuracy bars of every row (their ``per_class.json`` outputs)."""
    from ..visualization.accuracy_plots import plot_per_class_accuracy
    per_class = {row.label: json.load(open(row.outputs['per_class.json'])) for row in section.rows
                 if 'per_class.json' in row.outputs}
    plot_per_class_accuracy(per_class, paths.picture)
    return paths.picture


def _last_plain_row(section: Section, paths: QuickstartPaths) -> tuple[Row, Config]:
    row = ([r for r in section.rows if not r.test_options] or section.rows)[-1]  # a plain row if there is one
    cfg = load_run_config(row.config or section.config, paths.stage_dir('eval'), paths.world, paths.tiny_clip)
    cfg.merge_from_dict(tower_options(section, row, row.tower_checkpoint))
    return row, cfg


@registered_step('picture', 'detections')
def detections_picture(section: Section, paths: QuickstartPaths) -> str:
    """The detections of the section's last plain row's trained model on val images."""
    from ..visualization.predictions import draw_detections
    row, cfg = _last_plain_row(section, paths)
    return draw_detections(cfg, row.model_checkpoint, osp.join(paths.work_dir, 'detections.png'), title=row.label)


@registered_step('picture', 'segmentation')
def segmentation_picture(section: Section, paths: QuickstartPaths) -> str:
    """The segments of the section's last plain row on val images."""
    from ..visualization.predictions import draw_segmentation
    row, cfg = _last_plain_row(section, paths)
    return draw_segmentation(cfg, osp.join(paths.work_dir, 'segmentation.png'), title=row.label)


@registered_step('picture', 'unseen_comparison')
def unseen_comparison_picture(section: Section, paths: QuickstartPaths) -> str:
    """Every row's predictions side by side on val images with unseen classes."""
    from ..visualization.predictions import draw_segmentation_comparison
    models = []
    for row in section.rows:
        cfg = load_run_config(row.config or section.config, paths.stage_dir('eval'), paths.world, paths.tiny_clip)
        cfg.merge_from_dict(tower_options(section, row, row.tower_checkpoint))
        models.append((row.label, cfg, row.model_checkpoint))
    return draw_segmentation_comparison(models, osp.join(paths.work_dir, f'{section.name}.png'))


def tower_pictures(section: Section, paths: QuickstartPaths, spec: dict) -> list[str]:
    """Affinity maps and PCA pictures of the dense features of the section's towers (first seed) on a few
    val images of the world (``spec``: ``indices``, ``grid``, ``size``, ``cell``); cached by the towers."""
    from ..analysis import load_encoder, world_image_set
    from ..analysis.pictures import affinity_picture, grid_points, pca_picture, save_rgb
    towers = {}
    for row in section.rows:
        if not row.test_options:
            towers.setdefault(row.label, row.tower_checkpoint)
    key = file_key(*towers.values(), json.dumps(dict(spec, labels=list(towers)), sort_keys=True))
    outputs = [osp.join(paths.work_dir, f'{name}.png') for name in ('affinity_maps', 'feature_pca')]
    stamp = osp.join(paths.stage_dir('eval'), 'tower_pictures.key')
    if all(map(osp.isfile, outputs)) and osp.isfile(stamp) and open(stamp).read() == key:
        return outputs
    with step('tower_pictures', 'pictures of the towers'):
        encoders = {label: load_encoder(checkpoint, ARCH) for label, checkpoint in towers.items()}
        indices = list(spec['indices'])
        data = world_image_set(paths.world, spec['size'], 'val', max(indices) + 1)
        save_rgb(affinity_picture(encoders, data, indices, grid_points(spec['grid']), spec['cell']), outputs[0])
        save_rgb(pca_picture(encoders, data, indices, spec['cell']), outputs[1])
        os.makedirs(osp.dirname(stamp), exist_ok=True)
        with open(stamp, 'w') as f:
            f.write(key)
    return outputs


def run_quickstart(paths: QuickstartPaths, seed: int = 0, include_all: bool = False, force: bool = False,
                   seeds: Sequence[int] = (0,), main_job: str = MAIN_JOB_CONFIG,
                   console: Optional[MainJobConsole] = None) -> tuple[str, list[str]]:
    """Run every stage; return the results tables (also written to ``paths.results_md``) and the pictures.

    ``seed`` makes the world and the tiny CLIP; ``seeds`` are the runs averaged per row (tower
    distillation and downstream training alike). With a ``console``, each stage's output goes to its log
    file and the terminal shows stage headers, progress bars and one line per row.
    """
    console = console or MainJobConsole(osp.join(paths.work_dir, 'logs'))
    with console:
        return _run_stages(paths, seed, include_all, force, seeds, main_job, console)


def _run_stages(paths: QuickstartPaths, seed: int, include_all: bool, force: bool, seeds: Sequence[int],
                main_job: str, console: MainJobConsole) -> tuple[str, list[str]]:
    towers, sections = load_main_job(main_job)
    hidden = sum(not r.default for s in sections for r in s.rows)
    for section in sections:
        section.rows = [r for r in section.rows if r.default or include_all]
    sections = [s for s in sections if s.rows]  # a section of --all rows only waits for --all
    total = 2 + len(sections) + 1
    console.print(f'mmdistill main job on the synthetic world: {sum(len(s.rows) for s in sections)} rows'
                  + ('' if include_all else f' (--all adds {hidden})') + f'; logs in {console.log_dir}/')
    console.print(f'\n[1/{total}] synthetic world ({paths.world})')
    start, cached = time.time(), not force and world_is_complete(paths.world, seed=seed)
    ensure_world(paths, seed, force)
    if not cached:
        console.timings.append(('world', time.time() - start))
    console.print('  cached' if cached else f'  generated in {format_duration(time.time() - start)}')
    console.print(f'\n[2/{total}] tiny CLIP: image-text contrastive pretraining ({paths.tiny_clip})')
    done = len(console.ran)
    pretrained_tiny_clip(paths, seed, force)
    console.print(f'  {ran_summary(console.ran[done:])}')
    lane = SecondLane(paths, console)
    lane_rows = sum(row.lane == 1 for section in sections for row in section.rows)
    # --force recomputes everything in this process
    if lane.start(main_job, seeds, include_all, rows=0 if force else lane_rows):
        console.print(f'  second lane: the {lane_rows} rows marked lane=1 run in a second process '
                      f'(progress: {console.log_dir}/second_lane.log)')
    try:
        for i, section in enumerate(sections):
            console.print(f'\n[{3 + i}/{total}] {section.title}')
            run_section(section, towers, paths, seeds, force, console, lane)
        if lane.stop():
            console.print(f'  the second lane stopped with an error (log: {console.log_dir}/second_lane.log); '
                          'its rows ran here')
    except BaseException:
        lane.kill()
        raise
    console.print(f'\n[{total}/{total}] results')
    done = len(console.ran)
    seeds_note = f' Mean over seeds {list(seeds)}, ± = std.' if len(seeds) > 1 else ''
    parts, pictures, claims = [], [], []
    for section in sections:
        rows = {row.label: row for row in section.rows}
        results = [r for r in (claim.check(rows) for claim in section.claims) if r is not None]
        claims += results
        picture = None
        if section.picture:
            with step(f'{section.name}.picture', f'picture of {section.name}'):
                picture = draw_picture(section, paths)
        if section.tower_pictures:
            pictures += tower_pictures(section, paths, section.tower_pictures)
        pictures += [picture] if picture else []
        shows = f'{section.shows}\n\n' if section.shows else ''
        parts.append(f'## {section.title}\n\n{shows}{format_table(section)}\n'
                     + ''.join(f'{format_claim(r)}\n' for r in results)
                     + (f'\n![{section.name}]({osp.relpath(picture, paths.work_dir)})\n' if picture else ''))
    towers_part = ''.join(f'\n![{osp.basename(p)}]({osp.relpath(p, paths.work_dir)})\n' for p in pictures
                          if osp.basename(p) in ('affinity_maps.png', 'feature_pca.png'))
    if towers_part:
        parts.append('## Dense features of the towers (affinity maps of query points, PCA of the features)\n'
                     + towers_part)
    console.print(f'  pictures: {ran_summary(console.ran[done:])}')
    text = f'# The main job on the synthetic world{seeds_note}\n\n' + '\n'.join(parts)
    with open(paths.results_md, 'w') as f:
        f.write(text)
    write_stage_times(console, paths.stage_times, lane.read().get('timings', []))
    with open(paths.claims, 'w') as f:
        json.dump(claims, f, indent=1)
    return text, pictures


def write_stage_times(console: MainJobConsole, path: str, second_lane: Sequence[Sequence] = ()) -> None:
    """``path``: the seconds of every step this run computed (``steps``: ``[name, seconds]`` pairs, in order;
    cached steps are absent; ``second_lane``: the same for the second lane, which ran beside them), read by
    ``tools/analysis/benchmark_main_job.py``."""
    with open(path, 'w') as f:
        json.dump(dict(steps=[[name, round(seconds, 1)] for name, seconds in console.timings],
                       second_lane=[list(item) for item in second_lane]), f, indent=1)
