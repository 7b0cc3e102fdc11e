"""A suite of segmentation benchmarks: test each config with mmengine's Runner, tabulate mIoU (and the
inductive zero-shot sIoU / uIoU / hIoU where reported) in ``results.md`` and ``results.csv``.

A config whose test data is missing is skipped (its row says which path), one that raises is marked
failed; the others still run.
"""
from __future__ import annotations

import csv
import math
import os
import os.path as osp
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from mmengine import fileio
from mmengine.config import Config
from mmengine.runner import Runner

SUITE_METRICS = ('mIoU', 'sIoU', 'uIoU', 'hIoU')
OK, SKIPPED, FAILED = 'ok', 'skipped', 'failed'


@dataclass
class BenchmarkResult:
    """The outcome of one config: ``status`` is ``'ok'``, ``'skipped'`` (missing data) or ``'failed'``."""

    benchmark: str
    config: str
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    message: str = ''


class MissingDataError(FileNotFoundError):
    """The test data of a config is not where the config says."""


def dataset_paths(dataset: dict) -> list[str]:
    """Folders and files a dataset config reads: its ``data_root``, then ``ann_file``, ``classes_file`` and
    the ``data_prefix`` folders joined to it (wrapped datasets included)."""
    if 'datasets' in dataset:
        return [p for d in dataset['datasets'] for p in dataset_paths(d)]
    if 'dataset' in dataset:
        return dataset_paths(dataset['dataset'])
    root = dataset.get('data_root') or ''
    names = [dataset.get('ann_file'), dataset.get('classes_file'), *(dataset.get('data_prefix') or {}).values()]
    return ([root] if root else []) + [n if osp.isabs(n) else osp.join(root, n) for n in names if n]


def check_test_data(cfg: Config, config: str) -> None:
    """MissingDataError naming `config` and the first missing path of its test dataset."""
    dataset = cfg.test_dataloader.dataset
    for path in dataset_paths(dataset):
        if not fileio.exists(path, backend_args=dataset.get('backend_args')):
            raise MissingDataError(f'{config}: test data not found: {path}')


def benchmark_config(config: str, work_dir: str, tower_checkpoint: Optional[str] = None,
                     dense_path: Optional[str] = None, cfg_options: Optional[dict] = None) -> Config:
    """`config` with `cfg_options`, then the tower's checkpoint / dense readout, and `work_dir` applied."""
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    tower = {k: v for k, v in (('checkpoint', tower_checkpoint), ('dense_path', dense_path)) if v is not None}
    if tower:
        if 'tower' not in cfg.model:
            raise ValueError(f'{config}: the model has no tower to set {sorted(tower)} of')
        cfg.merge_from_dict({f'model.tower.{k}': v for k, v in tower.items()})
    cfg.work_dir = work_dir
    # Runners in one process share loggers and visualizers of the same name: give each run its own.
    cfg.experiment_name = f'{osp.splitext(osp.basename(config))[0]}_{uuid.uuid4().hex[:8]}'
    if cfg.get('visualizer'):
        cfg.visualizer.pop('name', None)
    cfg.launcher = 'none'
    cfg.load_from = None
    cfg.resume = False
    return cfg


def find_metric(metrics: dict, name: str) -> Optional[float]:
    """The value of `name` in Runner.test()'s metrics, also under an evaluator prefix (``'x/mIoU'``)."""
    for key, value in metrics.items():
        if key == name or key.endswith('/' + name):
            return float(value)
    return None


def run_benchmark(config: str, out_dir: str, **overrides) -> BenchmarkResult:
    """Test one config (``overrides``: see :func:`benchmark_config`); never raises for data or model errors."""
    benchmark = osp.splitext(osp.basename(config))[0]
    try:
        cfg = benchmark_config(config, osp.join(out_dir, benchmark), **overrides)
        benchmark = cfg.get('benchmark', benchmark)
        check_test_data(cfg, config)
        metrics = Runner.from_cfg(cfg).test() or {}
    except MissingDataError as e:
        return BenchmarkResult(benchmark, config, SKIPPED, message=str(e))
    except Exception as e:  # one broken config must not stop the suite
        traceback.print_exc()
        return BenchmarkResult(benchmark, config, FAILED, message=f'{config}: {type(e).__name__}: {e}')
    found = {name: find_metric(metrics, name) for name in SUITE_METRICS}
    return BenchmarkResult(benchmark, config, OK, {k: v for k, v in found.items() if v is not None})


def run_suite(configs: Sequence[str], out_dir: str, log: Callable[[str], None] = print,
              **overrides) -> list[BenchmarkResult]:
    """Run every config (each in ``out_dir/<config name>``), write the tables, return the results."""
    results = []
    for i, config in enumerate(configs, 1):
        log(f'[{i}/{len(configs)}] {config}')
        result = run_benchmark(config, out_dir, **overrides)
        values = ', '.join(f'{k} {v:.2f}' for k, v in result.metrics.items())
        log(f'[{i}/{len(configs)}] {result.benchmark}: {result.status}'
            + (f': {values}' if values else '') + (f': {result.message}' if result.message else ''))
        results.append(result)
    paths = write_tables(results, out_dir)
    log(f"wrote {paths['md']} and {paths['csv']}")
    return results


def metric_columns(results: Sequence[BenchmarkResult]) -> list[str]:
    """``mIoU`` and the other suite metrics some result has."""
    return [m for m in SUITE_METRICS if m == 'mIoU' or any(m in r.metrics for r in results)]


def mean_row(results: Sequence[BenchmarkResult], columns: Sequence[str]) -> dict[str, float]:
    """Mean of each column over the benchmarks that report it."""
    means = {}
    for column in columns:
        values = [r.metrics[column] for r in results if column in r.metrics and not math.isnan(r.metrics[column])]
        if values:
            means[column] = sum(values) / len(values)
    return means


def _cell(value: Optional[float]) -> str:
    return '-' if value is None else f'{value:.2f}'


def format_markdown(results: Sequence[BenchmarkResult]) -> str:
    """A markdown table: a row per benchmark, then the mean over those that ran."""
    columns = metric_columns(results)
    ran = [r for r in results if r.status == OK]
    lines = ['| benchmark | ' + ' | '.join(columns) + ' | status |', '|---' * (len(columns) + 2) + '|']
    for r in results:
        status = r.status if r.status == OK else f'{r.status}: {r.message}'.replace('|', '\\|')
        lines.append(f'| {r.benchmark} | ' + ' | '.join(_cell(r.metrics.get(c)) for c in columns)
                     + f' | {status} |')
    means = mean_row(ran, columns)
    lines.append(f'| mean ({len(ran)} of {len(results)}) | ' + ' | '.join(_cell(means.get(c)) for c in columns)
                 + ' | |')
    return '\n'.join(lines) + '\n'


def write_tables(results: Sequence[BenchmarkResult], out_dir: str) -> dict[str, str]:
    """Write ``results.md`` and ``results.csv`` (a row per benchmark plus the mean) to `out_dir`."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {'md': osp.join(out_dir, 'results.md'), 'csv': osp.join(out_dir, 'results.csv')}
    with open(paths['md'], 'w', encoding='utf-8') as f:
        f.write(format_markdown(results))
    columns = metric_columns(results)
    means = mean_row([r for r in results if r.status == OK], columns)
    with open(paths['csv'], 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(['benchmark', 'config', *columns, 'status', 'message'])
        for r in results:
            writer.writerow([r.benchmark, r.config, *(_csv_cell(r.metrics.get(c)) for c in columns), r.status,
                             r.message])
        writer.writerow(['mean', '', *(_csv_cell(means.get(c)) for c in columns), '', ''])
    return paths


def _csv_cell(value: Optional[float]) -> str:
    return '' if value is None else f'{value:.4f}'
