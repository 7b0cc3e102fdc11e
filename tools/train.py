"""Train a model with mmengine's Runner (OpenMMLab-style).

Examples:
    python tools/train.py configs/clipself/xxx.py
    python tools/train.py CONFIG --resume                  # latest checkpoint in the work dir
    python tools/train.py CONFIG --resume work_dirs/x/iter_2000.pth
    bash tools/dist_train.sh CONFIG 8 --amp
"""
import argparse
import importlib.util
import os
import os.path as osp
import sys


def _import_mmdistill() -> None:
    """Import mmdistill first, so its compat fixes apply before any config is read."""
    if importlib.util.find_spec('mmdistill') is None:  # running from a source checkout
        sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    import mmdistill  # noqa: F401
    import mmdistill.utils  # noqa: F401  (compat patches)


_import_mmdistill()

from mmengine.config import Config, DictAction  # noqa: E402

from mmdistill.engine import close_distributed, setup_cpu_distributed  # noqa: E402
from mmdistill.utils.runtime import (  # noqa: E402
    add_training_hooks,
    build_runner,
    default_work_dir,
    enable_amp,
    fall_back_to_fp32_without_accelerator,
    resume_from_latest,
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model with mmengine (mmdistill).')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models (default: work_dirs/<config name>)')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume training: without a value, from the latest checkpoint in the work dir (the one its '
        'last_checkpoint file names, else the newest iter_<n>.pth / epoch_<n>.pth); '
        'with a path, from that checkpoint (put --resume after the config path when giving no value)')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='mixed precision training (AmpOptimWrapper, dynamic loss scale). Needs CUDA (or NPU/MLU/MUSA): '
        'without one, a warning is printed and training runs in fp32 (also when the config itself '
        'asks for AmpOptimWrapper)')
    parser.add_argument(
        '--auto-scale-lr', action='store_true', help='scale the lr by the real batch size (cfg.auto_scale_lr)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs, e.g. train_cfg.max_iters=10 '
        '(lists: key="[a,b]" or key=a,b; quote the value when it has spaces)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def setup_cfg(args: argparse.Namespace) -> Config:
    """Load the config and apply the command-line options."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    if args.work_dir is not None:  # CLI > config > default
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = default_work_dir(args.config)

    if args.amp:
        enable_amp(cfg)
    fall_back_to_fp32_without_accelerator(cfg)

    if args.auto_scale_lr:
        scale_cfg = cfg.get('auto_scale_lr')
        if not scale_cfg or 'base_batch_size' not in scale_cfg:
            raise RuntimeError('--auto-scale-lr needs `auto_scale_lr = dict(base_batch_size=...)` in the config')
        cfg.auto_scale_lr.enable = True

    add_training_hooks(cfg)

    if args.resume == 'auto':
        resume_from_latest(cfg)
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume: checkpoint {args.resume} does not exist')
        cfg.resume = True
        cfg.load_from = args.resume
    if cfg.get('resume'):
        resume_seed(cfg)

    return cfg


def resume_seed(cfg: Config) -> None:
    """A config without a seed resumes with its checkpoint's: mmengine restores it only after the training
    data loader was built (on a fresh random seed), so the data order would change at the resume."""
    if (cfg.get('randomness') or {}).get('seed') is not None:
        return
    path = cfg.load_from
    if not path or not osp.isfile(path):
        return
    import torch
    seed = torch.load(path, map_location='cpu', mmap=True, weights_only=False).get('meta', {}).get('seed')
    if seed is not None:
        cfg.randomness = dict(cfg.get('randomness') or {}, seed=seed)


def train_model(cfg: Config) -> None:
    """Build the runner and train; the runner (and the process group its model wrapper holds) is released on
    return."""
    runner = build_runner(cfg)
    runner.train()


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = setup_cfg(args)
    setup_cpu_distributed(cfg)  # --launcher pytorch without an accelerator: gloo
    train_model(cfg)
    close_distributed()


if __name__ == '__main__':
    main()
