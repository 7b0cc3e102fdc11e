"""Shared by the tests that run tools/train.py and tools/dist_train.sh on the synthetic world configs
(test_distributed_cpu.py, test_exact_resume.py): a config that records every iteration's losses, and a
training run that returns them; and by the tests of other commands under tools/ (:func:`load_tool`)."""
import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / 'tests' / 'data'
WORLD = REPO / 'data' / 'synthetic_world'
TINY_CLIP = REPO / 'work_dirs' / 'quickstart' / 'tiny_clip.pt'
# the world and the tiny CLIP are built where missing (conftest.py): such tests are slow on a fresh clone
needs_world = pytest.mark.usefixtures('quickstart_world')

RECORD = ['default_hooks.logger.interval=1', 'train_dataloader.num_workers=0',
          'train_dataloader.persistent_workers=False']



def main_job_metrics(section_name: str, tower: str, row_index: int = 0) -> dict:
    """Metrics of the ``row_index``-th plain row of ``tower`` in a section of the main job (seed 0), through the
    main job's caches: what is missing (world, tiny CLIP, tower, trained model, test) is built, under the
    caches' locks, so the test lanes of ``.ci/run`` share the work."""
    from mmdistill.apis.quickstart import evaluate, load_main_job, prepare_section, trained_model
    from mmdistill.apis.runs import QuickstartPaths, ensure_world, pretrained_tiny_clip, tower_checkpoint
    paths = QuickstartPaths()
    ensure_world(paths, seed=0, force=False)
    pretrained_tiny_clip(paths, seed=0, force=False)
    towers, sections = load_main_job()
    section = next(s for s in sections if s.name == section_name)
    row = [r for r in section.rows if r.tower == tower and not r.test_options][row_index]
    prepare_section(section, paths)
    checkpoint = tower_checkpoint(towers[tower], paths, 0, False)
    model = trained_model(section, row, checkpoint, paths, 0, False) if section.train else None
    return evaluate(section, row, checkpoint, model, paths, False)['metrics']


def load_tool(path: str):
    """The module of a command under tools/ (``'analysis/benchmark'``), imported from its file."""
    spec = importlib.util.spec_from_file_location(f'tool_{Path(path).name}', REPO / 'tools' / f'{path}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recording_config(base: str, tmp_path: Path, body: str = '') -> str:
    """A config that inherits ``base`` (a path in the repository), records the global losses and adds ``body``."""
    path = tmp_path / f'{Path(base).stem}_recorded.py'
    path.write_text(f"_base_ = [{str(REPO / base)!r}]\n"
                    "custom_imports = dict(imports=['mmdistill', 'dist_parity_modules'], allow_failed_imports=False)\n"
                    "custom_hooks = [dict(type='mmdistill.GlobalLossRecorder')]\n"
                    "randomness = dict(seed=0)\n" + body)  # the data order of both runs
    return str(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def train_env() -> dict:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(REPO), str(DATA)] + [p for p in [env.get('PYTHONPATH')] if p])
    env.update(MMDISTILL_OFFLINE='1', CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1')
    return env


def train(config: str, work_dir: Path, procs: int, options: list[str], *extra: str,
          resume: Optional[Path] = None) -> list[dict]:
    """Train with ``tools/train.py`` (1 process) or ``tools/dist_train.sh`` (``procs``); the recorded losses."""
    if procs == 1:
        cmd = [sys.executable, str(REPO / 'tools' / 'train.py'), config]
    else:
        cmd = ['bash', str(REPO / 'tools' / 'dist_train.sh'), config, str(procs)]
    cmd += ['--work-dir', str(work_dir), *extra] + (['--resume', str(resume)] if resume else [])
    cmd += ['--cfg-options', *options]
    env = dict(train_env(), PYTHON=sys.executable, PORT=str(free_port()))
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f'{" ".join(cmd)} failed:\n{(proc.stdout + proc.stderr)[-6000:]}'
    with open(work_dir / 'global_losses.jsonl') as f:
        return [json.loads(line) for line in f]
