"""Test (evaluate) a checkpoint with mmengine's Runner (OpenMMLab-style).

Examples:
    python tools/test.py CONFIG CHECKPOINT
    python tools/test.py CONFIG CHECKPOINT --out results.pkl --show-dir vis/
    bash tools/dist_test.sh CONFIG CHECKPOINT 8
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import sys
from typing import Optional


def _import_mmdistill() -> None:
    """Import mmdistill first, so its compat fixes apply before any config is read."""
    if importlib.util.find_spec('mmdistill') is None:  # running from a source checkout
        sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    import mmdistill  # noqa: F401
    import mmdistill.utils  # noqa: F401  (compat patches)


_import_mmdistill()

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.evaluator import DumpResults  # noqa: E402

from mmdistill.engine import close_distributed, setup_cpu_distributed  # noqa: E402
from mmdistill.utils.runtime import build_runner, default_work_dir, setup_visualization  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (evaluate) a checkpoint with mmengine (mmdistill).')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file; omit it for models that load their weights from the config '
                             '(e.g. DenseZeroShotClassifier: tower=dict(checkpoint=...))')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics (default: work_dirs/<config name>)')
    parser.add_argument('--out', help='dump the raw predictions to this pickle file (.pkl / .pickle)')
    parser.add_argument('--show-dir', help='save drawn predictions here (needs default_hooks.visualization)')
    parser.add_argument('--show', action='store_true', help='show predictions in a window')
    parser.add_argument('--wait-time', type=float, default=2, help='seconds each shown image stays')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs, e.g. test_dataloader.batch_size=1')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation (cfg.tta_model, cfg.tta_pipeline)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error(f'--out must end with .pkl or .pickle, got {args.out}')
    return args


def setup_cfg(args: argparse.Namespace) -> Config:
    """Load the config and apply the command-line options."""
    if args.checkpoint is not None and not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint} does not exist')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = default_work_dir(args.config)
    cfg.load_from = args.checkpoint
    cfg.resume = False

    setup_visualization(cfg, show=args.show, show_dir=args.show_dir, wait_time=args.wait_time)

    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise RuntimeError('--tta needs `tta_model` and `tta_pipeline` in the config')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model

    return cfg


def test_model(cfg: Config, out: Optional[str]) -> dict:
    """Build the runner and test; the runner (and the process group its model wrapper holds) is released on
    return."""
    runner = build_runner(cfg)
    if out is not None:
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=out))
    metrics = runner.test()
    if runner.rank == 0:
        print('metrics: ' + json.dumps({k: _to_builtin(v) for k, v in (metrics or {}).items()}), flush=True)
    return metrics


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = setup_cfg(args)
    setup_cpu_distributed(cfg)  # --launcher pytorch without an accelerator: gloo
    metrics = test_model(cfg, args.out)
    close_distributed()
    return metrics


def _to_builtin(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


if __name__ == '__main__':
    main()
