"""Check a config before booking GPUs: build its model, step its training, run its validation and test.

:func:`check_config` loads a config as ``tools/train.py`` does, then

1. *random weights* (default): drops every checkpoint the model names (CLIP towers, text towers, Refiners,
   backbone ``init_cfg=Pretrained``, ``load_from``), so nothing has to be downloaded; outside this mode every
   checkpoint file must exist (:func:`check_checkpoints`);
2. *data*: writes a tiny data set in the layout each dataloader's dataset class reads
   (:mod:`mmdistill.datasets.check_data`) into a scratch folder and points the config at it (the leading
   ``data/`` and ``work_dirs/`` of every path); with ``data_root`` the user's own data replaces ``data/``
   instead, and every file and folder the config names must exist (:func:`check_data_paths`);
3. *shrinking* (unless ``real_size``): only what costs time changes, never a registered type, a dataset
   class, a transform, a metric or a hook: CLIP towers get an open_clip config of the same family and
   classes 64 wide (image towers keep their depth and patch size, since configs name their blocks; text
   towers keep 2 blocks; the embedding size is kept, and a neck fed by the tower follows its width), stock
   mmseg students one block per stage, image / crop / window sizes above 224 px are divided by 4 (at least
   224, multiples of 32), prompt-template sets keep their first 2 templates, RPN proposals and RoI samples
   are at most 100, batch sizes at most 2, and data loaders use no worker process (docs/config_check.md);
4. runs one training epoch / iteration on the 2 generated images, one validation and one test (the loops the
   config has), timing each step and recording its peak memory (process RSS high-water mark on CPU, CUDA
   max allocated on a GPU); every loss logged in training must be finite.
"""
from __future__ import annotations

import copy
import json
import math
import os
import os.path as osp
import re
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

from mmengine.config import Config

CHECKPOINT_KEYS = ('checkpoint', 'pretrained')
SIZE_KEYS = ('scale', 'img_scale', 'crop_size', 'size', 'image_size', 'student_size', 'teacher_size', 'tile_size',
             'global_size', 'local_size', 'stride', 'pad_size_divisor')  # F-ViT pads to its square image size
MIN_SIZE = 224
SIZE_FACTOR = 4
WIDTH, TEXT_LAYERS = 64, 2
MAX_TEMPLATES = 2
MAX_BATCH = 2
MAX_PROPOSALS = 100
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
EVALUATORS = ('val_evaluator', 'test_evaluator')
DATA_PREFIX, WORK_PREFIX = 'data/', 'work_dirs/'
SHRUNK_ARCH_PREFIX = 'mmdistill-check-'


class ConfigCheckError(RuntimeError):
    """A config that cannot run as it is: the message names the config key and the file."""


@dataclass
class StepResult:
    """One step of the check: ``status`` is ``'ok'``, ``'skipped'`` (the config has no such loop) or ``'failed'``."""

    name: str
    status: str
    seconds: float = 0.0
    peak_bytes: int = 0
    memory_kind: str = 'RSS'
    detail: str = ''

    def line(self) -> str:
        if self.status == 'skipped':
            return f'{self.name:<6} skipped ({self.detail})'
        text = f'{self.name:<6} {self.status:<6} {self.seconds:8.1f} s   peak {self.memory_kind} ' \
               f'{self.peak_bytes / 2**30:6.2f} GiB'
        return text + (f'   {self.detail}' if self.detail else '')


@dataclass
class CheckReport:
    """The steps of a check and its verdict: ``'ok'`` or the failed step and why."""

    config: str
    steps: list[StepResult] = field(default_factory=list)
    losses: dict[str, float] = field(default_factory=dict)
    error: str = ''
    traceback: str = ''

    @property
    def ok(self) -> bool:
        return not self.error

    def verdict(self) -> str:
        return 'ok' if self.ok else self.error


# ---------------------------------------------------------------------------------------------- config tree
def walk(node: object, path: str = '') -> Iterator[tuple[dict, str, str]]:
    """``(dict, key, dotted path)`` of every dict entry of a config tree (lists indexed as ``[i]``)."""
    if isinstance(node, dict):
        for key in list(node.keys()):
            here = f'{path}.{key}' if path else str(key)
            yield node, key, here
            yield from walk(node[key], here)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from walk(value, f'{path}[{i}]')


def checkpoint_entries(cfg: Config) -> list[tuple[dict, str, str]]:
    """Entries of the model (and ``load_from``) that name weights: ``checkpoint`` / ``pretrained`` strings and
    ``init_cfg=dict(type='Pretrained')``."""
    entries = []
    for parent, key, path in walk(cfg._cfg_dict.get('model', {}), 'model'):
        value = parent[key]
        if key in CHECKPOINT_KEYS and isinstance(value, str):
            entries.append((parent, key, path))
        elif key == 'init_cfg' and isinstance(value, dict) and str(value.get('type', '')).endswith('Pretrained'):
            entries.append((parent, key, path))
    if cfg.get('load_from'):
        entries.append((cfg._cfg_dict, 'load_from', 'load_from'))
    return entries


def use_random_weights(cfg: Config) -> list[str]:
    """Drop every checkpoint the config names; return the keys changed."""
    changed = []
    for parent, key, path in checkpoint_entries(cfg):
        parent[key] = None
        changed.append(path)
    return changed


def looks_like_tag(name: str) -> bool:
    """An open_clip pretrained tag or hub id (``'webli'``, ``'hf-hub:org/repo'``) rather than a file path."""
    return name.startswith('hf-hub:') or (os.sep not in name and not osp.splitext(name)[1])


def check_checkpoints(cfg: Config) -> None:
    """Every checkpoint file the config names exists; else a ConfigCheckError naming the key and the file."""
    for parent, key, path in checkpoint_entries(cfg):
        value = parent[key]
        name = value.get('checkpoint') if isinstance(value, dict) else value
        if isinstance(name, str) and not looks_like_tag(name) and not osp.isfile(name):
            raise ConfigCheckError(f'{path}{".checkpoint" if isinstance(value, dict) else ""}: checkpoint file '
                                   f'not found: {name!r} (put the weights there, set the key to where they are, '
                                   'or check with random weights)')


def dataset_configs(cfg: Config) -> Iterator[tuple[str, dict]]:
    """``(dotted path, dataset config)`` of every dataloader's dataset, dataset wrappers followed."""
    def children(path: str, ds: dict) -> Iterator[tuple[str, dict]]:
        if isinstance(ds.get('datasets'), (list, tuple)):
            for i, child in enumerate(ds['datasets']):
                yield from children(f'{path}.datasets[{i}]', child)
        elif isinstance(ds.get('dataset'), dict):
            yield from children(f'{path}.dataset', ds['dataset'])
        else:
            yield path, ds
    for loader in LOADERS:
        if isinstance(cfg.get(loader), dict) and isinstance(cfg[loader].get('dataset'), dict):
            yield from children(f'{loader}.dataset', cfg[loader]['dataset'])


def check_data_paths(cfg: Config) -> None:
    """Every data file and folder the dataloaders and evaluators name exists; else a ConfigCheckError naming
    the config key and the path."""
    from ..datasets.check_data import join

    def require(path: str, key: str, folder: bool = False) -> None:
        if not (osp.isdir(path) if folder else osp.exists(path)):
            raise ConfigCheckError(f'{key}: {"folder" if folder else "file"} not found: {path!r}')
    for path, ds in dataset_configs(cfg):
        root = ds.get('data_root')
        if root:
            require(root, f'{path}.data_root', folder=True)
        for key in ('ann_file', 'proposal_file', 'classes_file'):
            if ds.get(key):
                require(join(root, ds[key]), f'{path}.{key}')
        for key, value in (ds.get('data_prefix') or {}).items():
            if value:
                require(join(root, value), f'{path}.data_prefix.{key}', folder=True)
    for evaluator in EVALUATORS:
        for parent, key, path in walk(cfg.get(evaluator) or {}, evaluator):
            if key in ('ann_file', 'split_file') and isinstance(parent[key], str):
                require(parent[key], path)


# ----------------------------------------------------------------------------------------------- shrinking
def shrink_size(value: object) -> object:
    """An image size above 224 px divided by 4 (at least 224, a multiple of 32); tuples element-wise."""
    if isinstance(value, (list, tuple)):
        return type(value)(shrink_size(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool) and value > MIN_SIZE:
        return max(MIN_SIZE, 32 * round(value / SIZE_FACTOR / 32))
    return value


def register_narrow_timm(name: str) -> tuple[str, int]:
    """Register ``mmdistill_check_<name>``: timm model ``name`` (same class, depth and patch) at width 64 with one
    head; return the new name and the original width."""
    import timm
    import torch
    from timm.models import model_entrypoint, register_model
    with torch.device('meta'):
        width = int(timm.create_model(name, pretrained=False).embed_dim)
    narrow = f'mmdistill_check_{name}'
    if not timm.is_model(narrow):
        def entrypoint(pretrained: bool = False, **kwargs):
            narrow_kwargs = dict(kwargs, embed_dim=WIDTH, num_heads=1)
            return model_entrypoint(name)(pretrained=False, **narrow_kwargs)
        entrypoint.__name__ = entrypoint.__qualname__ = narrow
        register_model(entrypoint)
    return narrow, width


CLIP_VOCAB_SIZE = 49408  # open_clip's bundled BPE tokenizer


def shrunk_arch(arch: str, folder: str) -> tuple[str, Optional[tuple[int, int]]]:
    """An open_clip architecture like ``arch``: the same family, classes, depths, patch size and embedding size,
    with towers 64 wide (one head), registered as ``mmdistill-check-<arch>`` from a JSON in ``folder``. A text
    tower with a Hugging Face tokenizer (SigLIP) gets open_clip's bundled CLIP tokenizer and vocabulary: the
    check runs offline (``--real-size`` keeps the real tokenizer, whose files must be in the HF cache).

    Returns:
        The name, and ``(old, new)`` image-tower width when it changed (``None`` for a tower without a
        projection to the embedding, e.g. SigLIP's, whose width is the embedding size).
    """
    import open_clip
    cfg = copy.deepcopy(open_clip.get_model_config(arch) or {})
    if not cfg:
        return arch, None
    vision, text = cfg.get('vision_cfg') or {}, cfg.get('text_cfg') or {}
    widths = None
    if vision.get('timm_model_name') and vision.get('timm_proj') != 'none':
        vision['timm_model_name'], width = register_narrow_timm(vision['timm_model_name'])
        widths = (width, WIDTH)
    elif not vision.get('timm_model_name') and vision.get('width', 768) > WIDTH:
        widths = (vision.get('width', 768), WIDTH)
        vision.update(width=WIDTH, head_width=WIDTH)
    if 'hf_model_name' not in text and text.get('width', 0) > WIDTH:
        text.update(width=WIDTH, heads=1, layers=TEXT_LAYERS)
    name = SHRUNK_ARCH_PREFIX + arch
    if text.pop('hf_tokenizer_name', None):  # its files come from the Hugging Face hub: CLIP's bundled BPE instead
        text.pop('tokenizer_kwargs', None)
        text['vocab_size'] = CLIP_VOCAB_SIZE
        # open_clip gives any name containing 'siglip' SigLIP's own (Hugging Face) tokenizer
        name = SHRUNK_ARCH_PREFIX + re.sub('(?i)siglip', 'SLIP-BPE', arch)
    path = osp.join(folder, f'{name}.json')
    os.makedirs(folder, exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(cfg, f)
    open_clip.add_model_config(path)
    return name, widths


def shrink_student(node: dict) -> dict:
    """Stock mmseg students with one block per stage (SegFormer's MiT, SegNeXt's MSCAN)."""
    kind = str(node.get('type', '')).split('.')[-1]
    if kind == 'MixVisionTransformer' and isinstance(node.get('num_layers'), (list, tuple)):
        return {'num_layers': [1] * len(node['num_layers'])}
    if kind == 'MSCAN' and isinstance(node.get('depths'), (list, tuple)):
        return {'depths': [1] * len(node['depths'])}
    return {}


def shrink(cfg: Config, arch_folder: str) -> list[str]:
    """Shrink what costs time (module doc, 3.); return the changes as ``key: old -> new`` lines."""
    from ..clip.text import TEMPLATE_SETS
    changes = []

    def change(parent: dict, key: str, path: str, new: object) -> None:
        if new != parent[key]:
            changes.append(f'{path}: {parent[key]!r} -> {new!r}')
            parent[key] = new
    archs: dict[str, tuple[str, Optional[tuple[int, int]]]] = {}
    for parent, key, path in list(walk(cfg._cfg_dict)):
        value = parent[key]
        if key == 'arch' and isinstance(value, str) and not value.startswith('timm:'):
            archs.setdefault(value, shrunk_arch(value, arch_folder))
            change(parent, key, path, archs[value][0])
        elif key == 'templates' and isinstance(value, (str, list, tuple)):
            templates = list(TEMPLATE_SETS.get(value, ())) if isinstance(value, str) else list(value)
            if len(templates) > MAX_TEMPLATES:
                change(parent, key, path, templates[:MAX_TEMPLATES])
        elif key in SIZE_KEYS and (key != 'stride' or parent.get('mode') == 'slide'):
            change(parent, key, path, shrink_size(value))
        elif key in ('nms_pre', 'max_per_img') and 'rpn' in path and isinstance(value, int) and value > MAX_PROPOSALS:
            change(parent, key, path, MAX_PROPOSALS)
        elif key == 'num' and str(parent.get('type', '')).endswith('Sampler') and value > MAX_PROPOSALS:
            change(parent, key, path, MAX_PROPOSALS)
        elif isinstance(value, dict):
            for k, v in shrink_student(value).items():
                change(value, k, f'{path}.{k}', v)
    model = cfg._cfg_dict.get('model') or {}
    tower = ((model.get('backbone') or {}).get('tower') or {}) if isinstance(model.get('backbone'), dict) else {}
    neck = model.get('neck') if isinstance(model.get('neck'), dict) else {}
    widths = [w for name, w in archs.values() if name == tower.get('arch') and w]
    if widths and isinstance(neck.get('in_channels'), (list, tuple)):  # a tower as backbone (F-ViT): its width
        old, new = widths[0]
        change(neck, 'in_channels', 'model.neck.in_channels', [new if c == old else c for c in neck['in_channels']])
    for loader in LOADERS:
        if isinstance(cfg.get(loader), dict):
            loader_cfg = cfg[loader]
            if isinstance(loader_cfg.get('batch_size'), int):
                change(loader_cfg, 'batch_size', f'{loader}.batch_size', min(loader_cfg['batch_size'], MAX_BATCH))
    return changes


def lighten_loaders(cfg: Config) -> None:
    """No worker processes (the check's data are 2 images)."""
    for loader in LOADERS:
        if isinstance(cfg.get(loader), dict):
            cfg[loader].update(num_workers=0, persistent_workers=False)


def one_pass(cfg: Config) -> None:
    """One epoch (or one iteration) of training, validation left to its own step."""
    train_cfg = cfg.get('train_cfg')
    if not isinstance(train_cfg, dict):
        return
    if 'max_iters' in train_cfg or train_cfg.get('type') == 'IterBasedTrainLoop':
        train_cfg['max_iters'] = 1
    else:
        train_cfg['max_epochs'] = 1
    train_cfg['val_begin'] = 10**9


# ---------------------------------------------------------------------------------------------------- running
def finite_loss_hook(report: CheckReport):
    """A hook recording the logged training losses and raising on a non-finite one."""
    import torch
    from mmengine.hooks import Hook

    class FiniteLossCheck(Hook):
        priority = 'HIGHEST'

        def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
            values = {k: float(v.detach().float().mean()) if isinstance(v, torch.Tensor) else float(v)
                      for k, v in (outputs or {}).items() if isinstance(v, (torch.Tensor, int, float))}
            report.losses = values
            bad = {k: v for k, v in values.items() if not math.isfinite(v)}
            if bad:
                raise FloatingPointError(f'non-finite training loss at iteration {runner.iter + 1}: {bad}')
    return FiniteLossCheck()


def replace_prefixes(node, mapping: dict[str, str]):
    """Replace, in every string leaf of a config tree, a leading ``mapping`` key (a path prefix the shipped
    configs name, e.g. ``data/``) by its value: the check points any config at its generated data."""
    if isinstance(node, dict):
        for k, v in node.items():
            node[k] = replace_prefixes(v, mapping)
    elif isinstance(node, (list, tuple)):
        return type(node)(replace_prefixes(v, mapping) for v in node)
    elif isinstance(node, str):
        for old, new in mapping.items():
            if node.startswith(old):
                return new + node[len(old):]
    return node


def prepare_config(config: str, work_dir: str, real_size: bool = False, random_weights: bool = True,
                   data_root: Optional[str] = None, data_dir: Optional[str] = None) -> tuple[Config, list[str]]:
    """The config as the check runs it, and the notes of what changed (module doc, 1.-3.).

    Args:
        config: config file.
        work_dir: the run's folder (checkpoints, logs, registered shrunk architectures).
        real_size: keep the real sizes.
        random_weights: drop the checkpoints (else they must exist).
        data_root: the user's data replacing the config's ``data/`` (else generated data).
        data_dir: where generated data go (default ``<work_dir>/data``); data sets already there are reused.
    """
    from ..datasets.check_data import write_check_data, write_world
    from ..utils.runtime import add_training_hooks, fall_back_to_fp32_without_accelerator

    cfg = Config.fromfile(config)
    notes = []
    if random_weights:
        dropped = use_random_weights(cfg)
        notes += [f'random weights: {", ".join(dropped)}'] if dropped else []
    else:
        check_checkpoints(cfg)
    data_dir = osp.abspath(data_dir or osp.join(work_dir, 'data'))
    target = osp.abspath(data_root) if data_root else data_dir
    replace_prefixes(cfg._cfg_dict,
                     {DATA_PREFIX: target + '/', WORK_PREFIX: osp.join(osp.abspath(work_dir), WORK_PREFIX)})
    if not real_size:
        notes += shrink(cfg, osp.join(work_dir, 'architectures'))
    lighten_loaders(cfg)
    one_pass(cfg)
    if data_root:
        check_data_paths(cfg)
    else:
        world = osp.join(data_dir, 'synthetic_world')
        worlds = (world, ) if world in str(cfg._cfg_dict) else ()
        if worlds:
            write_world(world)
        size = (480, 640) if real_size else (96, 128)
        for _, ds in dataset_configs(cfg):
            notes += write_check_data(ds, size, worlds)
    cfg.work_dir = osp.join(work_dir, 'run')
    cfg.resume = False
    cfg.launcher = 'none'
    cfg.log_level = 'WARNING'
    cfg.randomness = dict(cfg.get('randomness') or {}, seed=0)
    fall_back_to_fp32_without_accelerator(cfg)
    if cfg.get('train_cfg'):
        add_training_hooks(cfg)
    return cfg, notes


def has_loop(cfg: Config, name: str) -> bool:
    keys = {'train': ('train_cfg', 'train_dataloader'), 'val': ('val_cfg', 'val_dataloader', 'val_evaluator'),
            'test': ('test_cfg', 'test_dataloader', 'test_evaluator')}[name]
    return all(cfg.get(k) for k in keys)


def val_repeated_by_test(cfg: Config) -> bool:
    """Whether the test loop would run the validation again: the same dataloader and evaluator configs."""
    return (cfg.get('test_dataloader') == cfg.get('val_dataloader')
            and cfg.get('test_evaluator') == cfg.get('val_evaluator'))


def check_config(config: str, work_dir: Optional[str] = None, real_size: bool = False, random_weights: bool = True,
                 data_root: Optional[str] = None, data_dir: Optional[str] = None,
                 log: Callable[[str], None] = print, repeat_val_as_test: bool = True,
                 cfg_options: Optional[dict] = None) -> CheckReport:
    """Run the check (module doc); ``log`` gets one line per step and the verdict (``ok`` or the failure).

    ``cfg_options`` (``{'model.decode_head.with_cp': True}``, as ``tools/train.py --cfg-options``) apply after the
    check's own changes: the run checks the options it will use (e.g. the memory options of a big config).

    ``repeat_val_as_test=False`` skips a test loop whose data and evaluator are the validation's (the
    contract test over every config: a third of its time for most configs, nothing it would not see).
    """
    from ..utils.runtime import build_runner
    report = CheckReport(config)
    work_dir = work_dir or tempfile.mkdtemp(prefix='check_config_')
    from ..engine.profiling import PeakMemory
    memory = PeakMemory()
    runner = None
    cfg: Optional[Config] = None

    def step(name: str, action: Callable[[], object]) -> bool:
        memory.reset()
        start = time.perf_counter()
        try:
            action()
        except Exception as err:  # noqa: BLE001  (any failure is the check's verdict)
            message = f'{type(err).__name__}: {err}'.strip().splitlines()
            detail = message[0] if message else type(err).__name__
            result = StepResult(name, 'failed', time.perf_counter() - start, memory.peak(), memory.kind, detail)
            report.error = f'failed at {name}: {detail}'
            report.traceback = traceback.format_exc()
            report.steps.append(result)
            log(result.line())
            return False
        report.steps.append(StepResult(name, 'ok', time.perf_counter() - start, memory.peak(), memory.kind))
        log(report.steps[-1].line())
        return True

    def prepare() -> None:
        nonlocal cfg
        cfg, notes = prepare_config(config, work_dir, real_size, random_weights, data_root, data_dir)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
            notes.append('options: ' + ', '.join(f'{key}={value!r}' for key, value in cfg_options.items()))
        for note in notes:
            log(f'       {note}')

    def build() -> None:
        nonlocal runner
        runner = build_runner(cfg)
        runner.register_hook(finite_loss_hook(report))

    def train() -> None:
        runner.train()
        if not report.losses:
            raise RuntimeError('no training iteration ran (an empty training set?)')
        log(f'       losses: {", ".join(f"{k}={v:.4g}" for k, v in report.losses.items())}')

    ok = step('config', prepare) and step('build', build)
    for name, action in (('train', train), ('val', lambda: runner.val()), ('test', lambda: runner.test())):
        if not ok:
            break
        if not has_loop(cfg, name):
            report.steps.append(StepResult(name, 'skipped', detail=f'the config has no {name} loop'))
            log(report.steps[-1].line())
            continue
        if name == 'test' and not repeat_val_as_test and has_loop(cfg, 'val') and val_repeated_by_test(cfg):
            report.steps.append(StepResult(name, 'skipped', detail='the same data and evaluator as val'))
            log(report.steps[-1].line())
            continue
        ok = step(name, action)
    log(report.verdict())
    return report
