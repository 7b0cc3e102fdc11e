"""Config adjustments and the runner shared by ``tools/train.py`` and ``tools/test.py``."""
import inspect
import logging
import os
import os.path as osp
import re
from typing import Optional

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner, find_latest_checkpoint

AMP_DEVICES_HINT = 'CUDA (or NPU / MLU / MUSA)'


def build_runner(cfg: Config) -> Runner:
    """mmengine's ``Runner``, or the config's ``runner_type`` from the registry."""
    from ..registry import RUNNERS
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)


def default_work_dir(config_path: str) -> str:
    """``./work_dirs/<config file name without extension>``."""
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def add_training_hooks(cfg: Config,
                       names: tuple = ('RNGStateHook', 'NonEmptyTrainDataHook', 'FlushDenormalsHook', 'LossGuardHook',
                                       'TeacherUpdateHook')) -> None:
    """Append mmdistill's hooks ``names`` to ``cfg.custom_hooks`` unless the config has them (by default:
    generator states in checkpoints for an exact resume, an error for an empty training set, subnormal
    floats flushed to zero on CPUs, a stop at the first non-finite loss, and EMA teachers that follow the
    student). Importing mmdistill adds none of them: ``tools/train.py`` and the main job call this."""
    hooks = list(cfg.get('custom_hooks') or [])
    present = {str(h.get('type', '')).split('.')[-1] for h in hooks if isinstance(h, dict)}
    cfg.custom_hooks = hooks + [dict(type=f'mmdistill.{name}') for name in names if name not in present]


def latest_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint a run in ``work_dir`` resumes from, None when there is none.

    mmengine's rule first: the file ``<work_dir>/last_checkpoint`` names. When that file is empty or names a
    checkpoint that is gone (a run killed while mmengine rewrote it, which it does in place, or checkpoints
    moved), the newest ``iter_<n>.pth`` (else ``epoch_<n>.pth``) in ``work_dir`` by its number, with a warning.
    """
    named = find_latest_checkpoint(work_dir)  # mmengine's: the file's text, None without the file
    if named and osp.isfile(named):
        return named
    files = os.listdir(work_dir) if osp.isdir(work_dir) else []
    for kind in ('iter', 'epoch'):
        found = [(int(m.group(1)), name) for name in files if (m := re.fullmatch(rf'{kind}_(\d+)\.pth', name))]
        if found:
            newest = osp.join(work_dir, max(found)[1])
            if named is not None:
                print_log(f'{work_dir}/last_checkpoint names {named or "nothing"!r}, which does not exist: resuming '
                          f'from the newest checkpoint in the folder, {newest}', logger='current',
                          level=logging.WARNING)
            return newest
    return None


def resume_from_latest(cfg: Config) -> None:
    """Resume ``cfg`` from :func:`latest_checkpoint` of its ``work_dir``. Without one the run starts from the
    beginning, from the config's own ``load_from`` if it names initial weights (mmengine would resume from
    those, as if they were this run's checkpoint)."""
    latest = latest_checkpoint(cfg.work_dir)
    cfg.resume = latest is not None
    if latest is not None:
        cfg.load_from = latest
    else:
        print_log(f'no checkpoint in {cfg.work_dir} to resume from: training starts from the beginning',
                  logger='current')


def amp_supported() -> bool:
    """Whether mmengine's ``AmpOptimWrapper`` can run here (it needs an accelerator)."""
    from mmengine.device import is_cuda_available, is_mlu_available, is_musa_available, is_npu_available
    return is_cuda_available() or is_npu_available() or is_mlu_available() or is_musa_available()


def enable_amp(cfg: Config) -> None:
    """Switch ``cfg.optim_wrapper`` to ``AmpOptimWrapper`` (dynamic loss scale)."""
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper == 'AmpOptimWrapper':
        print_log('AMP training is already enabled in your config.', logger='current')
        return
    if optim_wrapper != 'OptimWrapper':
        raise ValueError(f'--amp is only supported with optim_wrapper.type="OptimWrapper", got {optim_wrapper!r}')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')


def replace_amp_wrapper(wrapper_cfg: dict, new_type: str = 'OptimWrapper') -> bool:
    """Turn an ``AmpOptimWrapper`` config into ``new_type``, its AMP-only keys dropped.

    Returns:
        bool: Whether the config was an ``AmpOptimWrapper`` (and is changed).
    """
    if not isinstance(wrapper_cfg, dict) or wrapper_cfg.get('type') != 'AmpOptimWrapper':
        return False
    wrapper_cfg['type'] = new_type
    for key in ('loss_scale', 'dtype', 'use_fsdp'):
        wrapper_cfg.pop(key, None)
    return True


def fall_back_to_fp32_without_accelerator(cfg: Config) -> bool:
    """Replace ``AmpOptimWrapper`` by ``OptimWrapper`` when no accelerator is present.

    mmengine's ``AmpOptimWrapper`` asserts CUDA / NPU / MLU / MUSA; on a
    CPU-only machine training continues in fp32 with a warning.

    Returns:
        bool: Whether the config was changed.
    """
    if amp_supported() or 'optim_wrapper' not in cfg:
        return False
    changed = replace_amp_wrapper(cfg.optim_wrapper)
    for value in cfg.optim_wrapper.values():  # OptimWrapperDict-style configs
        changed = replace_amp_wrapper(value) or changed
    if changed:
        print_log(
            f'Mixed precision (AmpOptimWrapper) needs {AMP_DEVICES_HINT}; none is available, '
            'so training runs in fp32 (OptimWrapper).',
            logger='current',
            level=logging.WARNING)
    return changed


def _hook_accepts(hook_type, arg: str, scope: Optional[str]) -> bool:
    """Whether the registered hook class takes ``arg`` in ``__init__``."""
    from mmengine.registry import HOOKS
    if not isinstance(hook_type, str):
        cls = hook_type
    else:
        try:
            with HOOKS.switch_scope_and_registry(scope) as registry:
                cls = registry.get(hook_type)
        except Exception:  # the scope's package is not importable: fall back below
            cls = None
    if cls is None:
        return False
    return arg in inspect.signature(cls.__init__).parameters


def setup_visualization(cfg: Config, show: bool = False, show_dir: Optional[str] = None,
                        wait_time: float = 2.) -> None:
    """Turn on ``default_hooks.visualization`` for ``--show`` / ``--show-dir``.

    ``show_dir`` goes to the hook's ``test_out_dir`` when it has one (mmdet's
    ``DetVisualizationHook``), else to ``visualizer.save_dir`` (mmseg style).

    Raises:
        RuntimeError: the config has no visualization hook.
    """
    if not (show or show_dir):
        return
    hooks = cfg.get('default_hooks') or {}
    if 'visualization' not in hooks or hooks['visualization'] is None:
        raise RuntimeError(
            '--show / --show-dir need a visualization hook: the config has no '
            '`default_hooks.visualization` (e.g. dict(type="DetVisualizationHook") for '
            'mmdet or dict(type="SegVisualizationHook") for mmseg) and a `visualizer`.')
    hook = hooks['visualization']
    hook['draw'] = True
    if show:
        hook['show'] = True
        hook['wait_time'] = wait_time
    if show_dir:
        if _hook_accepts(hook.get('type'), 'test_out_dir', cfg.get('default_scope')):
            hook['test_out_dir'] = show_dir
        elif cfg.get('visualizer') is not None:
            cfg.visualizer['save_dir'] = show_dir
        else:
            raise RuntimeError('--show-dir: the visualization hook has no `test_out_dir` and the config '
                               'has no `visualizer` to take a `save_dir`.')
