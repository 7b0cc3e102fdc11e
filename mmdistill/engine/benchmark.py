"""One benchmark for any config: the training step's parts, FLOPs, utilisation and memory; inference of
detectors and segmentors. The command is ``tools/analysis/benchmark.py``; ``tools/analysis/gpu_speed.py``
runs a list of them in one process."""
from __future__ import annotations

import contextlib
import datetime
import os.path as osp
import tempfile
from dataclasses import asdict, dataclass
from typing import Callable, ContextManager, Iterator, Optional

import torch
from mmengine.config import Config
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from ..utils.runtime import replace_amp_wrapper
from .bf16 import native_bf16
from .flops import device_peak
from .profiling import (
    model_kind,
    part_table,
    profile_inference,
    profile_training,
    repeat,
    synthetic_batch,
    training_labels,
)

DTYPES = ('config', 'fp32', 'bf16', 'fp16')
BF16 = 'mmdistill.BF16OptimWrapper'
ATTENTION = {'default': None, 'flash': SDPBackend.FLASH_ATTENTION, 'efficient': SDPBackend.EFFICIENT_ATTENTION,
             'cudnn': SDPBackend.CUDNN_ATTENTION, 'math': SDPBackend.MATH}
DOCS_SECTION = '## Benchmark runs (`tools/analysis/benchmark.py`)'
DOCS_HEADER = ('| date | run | config | machine | torch | dtype | options | batch | step ms | parts ms | GFLOP / step '
               '| TFLOP/s | of peak | peak MiB | attention kernels | inference |')


@dataclass
class BenchmarkOptions:
    """What :func:`benchmark_config` measures and how.

    ``dtype``: ``'config'`` (the config's optimiser wrapper; fp32 on CPUs for AMP configs), ``'fp32'``,
    ``'bf16'`` (``BF16OptimWrapper``: autocast, no loss scaler; float32 on CPUs unless ``cpu_bf16``)
    or ``'fp16'`` (``AmpOptimWrapper``). ``compile``: ``torch.compile`` every CLIP tower's blocks.
    ``grad_checkpointing``: the towers' activation checkpointing (``CLIPTower(grad_checkpointing=True)``).
    ``fused_optimizer``: the optimiser's ``fused=True``. ``attention``: force one
    ``scaled_dot_product_attention`` kernel (:data:`ATTENTION`). ``synthetic``: random images and
    samples (:func:`~.profiling.synthetic_batch`) instead of the config's dataset. ``keep_denormals``:
    leave CPU subnormal floats as they are (training runs flush them, :class:`~.denormals.FlushDenormalsHook`).
    """

    steps: int = 20
    warmup: int = 5
    device: str = 'cuda' if torch.cuda.is_available() else 'cpu'
    dtype: str = 'config'
    random_weights: bool = False
    synthetic: bool = False
    batch_size: Optional[int] = None
    image_size: Optional[tuple[int, int]] = None
    compile: bool = False
    grad_checkpointing: bool = False
    fused_optimizer: bool = False
    attention: str = 'default'
    inference: bool = True
    infer_iters: int = 10
    cfg_options: Optional[dict] = None
    label: Optional[str] = None
    keep_denormals: bool = False


def strip_checkpoints(node) -> None:
    """Random weights: every ``checkpoint`` of a model config to ``None``, ``Pretrained`` inits dropped."""
    if isinstance(node, dict):
        init = node.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            node.pop('init_cfg')
        for key in list(node):
            if key == 'checkpoint' and isinstance(node[key], str):
                node[key] = None
            else:
                strip_checkpoints(node[key])
    elif isinstance(node, (list, tuple)):
        for value in node:
            strip_checkpoints(value)


def set_precision(wrapper: dict, dtype: str, device: str) -> str:
    """Set ``optim_wrapper`` for ``dtype`` (see :class:`BenchmarkOptions`); returns the compute dtype."""
    on_cpu = torch.device(device).type == 'cpu'
    if dtype == 'fp32' or (dtype == 'config' and on_cpu):
        replace_amp_wrapper(wrapper)
        if wrapper.get('type') in (BF16, 'BF16OptimWrapper') and dtype == 'fp32':
            wrapper['type'] = 'OptimWrapper'
            wrapper.pop('cpu_bf16', None)
    elif dtype == 'bf16':  # scoped: mmdet / mmseg configs look wrappers up in their own registries first
        if not replace_amp_wrapper(wrapper, BF16):
            wrapper['type'] = BF16
    elif dtype == 'fp16':
        if on_cpu:
            raise ValueError('fp16 (AmpOptimWrapper) needs an accelerator')
        wrapper.update(type='AmpOptimWrapper', dtype='float16')
    kind = wrapper.get('type', 'OptimWrapper')
    if kind == 'AmpOptimWrapper':
        return str(wrapper.get('dtype') or 'float16')
    if kind in (BF16, 'BF16OptimWrapper'):
        device_type = torch.device(device).type
        on = (device_type != 'cpu' or wrapper.get('cpu_bf16', False)) and native_bf16(device_type)
        return 'bfloat16' if on else 'float32'
    return 'float32'


def default_image_size(cfg: Config, kind: str) -> tuple[int, int]:
    """Synthetic image size: the segmentor's crop, the detector config's ``image_size`` (640 x 640 if
    none), 480 x 640 (a COCO image, resized by a distiller to its ``student_size``) otherwise."""
    if kind == 'segmentor':
        size = cfg.model.get('data_preprocessor', {}).get('size')
        return tuple(size) if size else (512, 512)
    return tuple(cfg.get('image_size', (640, 640))) if kind == 'detector' else (480, 640)


def prepare_config(config: str, opts: BenchmarkOptions) -> tuple[Config, str]:
    """The config as measured, and its compute dtype."""
    cfg = Config.fromfile(config)
    if opts.cfg_options:
        cfg.merge_from_dict(opts.cfg_options)
    if opts.random_weights:
        strip_checkpoints(cfg.model)
        cfg.load_from = None
    cfg.work_dir = tempfile.mkdtemp(prefix='mmdistill_benchmark_')
    cfg.resume = False
    dtype = set_precision(cfg.optim_wrapper, opts.dtype, opts.device)
    if opts.fused_optimizer:
        cfg.optim_wrapper.optimizer.fused = True
    if not opts.synthetic:
        cfg.train_dataloader.num_workers = 0
        cfg.train_dataloader.persistent_workers = False
    return cfg, dtype


def set_towers(model: nn.Module, compile: bool, grad_checkpointing: bool) -> None:
    """``torch.compile`` the blocks of every CLIP tower of ``model`` and / or turn on their activation
    checkpointing (which acts only where gradients flow: the student)."""
    from ..clip.tower import CLIPTower
    for tower in (m for m in model.modules() if isinstance(m, CLIPTower)):
        if compile:
            tower.compile_blocks()
        if grad_checkpointing:
            tower.grad_checkpointing = True


def cycle(loader) -> Iterator[dict]:
    while True:
        yield from loader


def attention_context(name: str) -> Callable[[], ContextManager]:
    backend = ATTENTION[name]
    return contextlib.nullcontext if backend is None else (lambda: sdpa_kernel(backend))


def benchmark_config(config: str, opts: BenchmarkOptions) -> dict:
    """Profile a training step of ``config`` (and, for detectors and segmentors, inference)."""
    from mmengine.runner import Runner
    cfg, dtype = prepare_config(config, opts)
    torch.set_flush_denormal(not opts.keep_denormals)  # as a training run (FlushDenormalsHook) unless kept
    runner = Runner.from_cfg(cfg)
    model = runner.model.to(opts.device)
    set_towers(model, opts.compile, opts.grad_checkpointing)
    optim_wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
    kind = model_kind(model)
    size = tuple(opts.image_size or default_image_size(cfg, kind))
    if opts.synthetic:
        batch_size = opts.batch_size or cfg.train_dataloader.batch_size
        batches = repeat(synthetic_batch(kind, batch_size, size, labels=training_labels(model)))
    else:
        if opts.batch_size:
            cfg.train_dataloader.batch_size = opts.batch_size
        batches = cycle(runner.build_dataloader(cfg.train_dataloader))
    profile = profile_training(model, optim_wrapper, batches, opts.steps, opts.warmup, opts.device,
                               context=attention_context(opts.attention),
                               after_step=getattr(model, 'update_teachers', None))
    peak = device_peak(opts.device, dtype)
    result = dict(config=config, label=opts.label or osp.splitext(osp.basename(config))[0], kind=kind,
                  date=datetime.date.today().isoformat(), device=peak.device, torch=torch.__version__,
                  dtype=dtype, options=asdict(opts), image_size=list(size), peak_tflops=peak.tflops,
                  peak_source=peak.source, train=profile.as_dict(),
                  utilisation=profile.tflops() / peak.tflops if peak.tflops else None)
    result['train_table'] = part_table(profile, peak.tflops)
    if kind in ('detector', 'segmentor') and opts.inference:
        data = synthetic_batch(kind, 1, size, train=False)
        result['inference'] = profile_inference(model, data, opts.infer_iters, 1, opts.device)
    del runner, model, optim_wrapper
    if torch.device(opts.device).type == 'cuda':
        torch.cuda.empty_cache()
    return result


def options_text(opts: dict) -> str:
    """The options that differ from the defaults, as ``key=value`` (steps and warm-up always)."""
    default = asdict(BenchmarkOptions())
    keep = ('steps', 'warmup')
    skip = ('device', 'label', 'dtype', 'batch_size', 'infer_iters', 'inference')
    return ', '.join(f'{k}={v}' for k, v in opts.items() if k not in skip and (k in keep or v != default[k]))


def summary_row(result: dict) -> str:
    """One markdown row of :data:`DOCS_HEADER`."""
    train = result['train']
    seconds = train['seconds']
    parts = ', '.join(f'{p} {1000 * seconds[p]:.1f}' for p in train['parts'] if seconds[p] >= 5e-4)
    util = f'{100 * result["utilisation"]:.1f} %' if result['utilisation'] is not None else 'n/a'
    inference = result.get('inference')
    infer = (f'{inference["images_per_s"]:.2f} img/s, {inference["gflops_per_image"]:.1f} GFLOP, '
             f'{inference["params"] / 1e6:.1f} M params' if inference else '-')
    kernels = ', '.join(f'{k.lstrip("_")} x{n}' for k, n in train['attention_kernels'].items()) or '-'
    return (f'| {result["date"]} | {result["label"]} | `{osp.basename(result["config"])}` | {result["device"]} | '
            f'{result["torch"]} | {result["dtype"]} | {options_text(result["options"])} | {train["batch_size"]} | '
            f'{1000 * train["step_seconds"]:.1f} | {parts} | {train["step_flops"] / 1e9:.1f} | '
            f'{train["step_tflops"]:.3g} | {util} | {train["peak_memory_mib"]:.0f} | {kernels} | {infer} |')


def append_docs(rows: list[str], path: str) -> None:
    """Append table rows to the :data:`DOCS_SECTION` table of ``path`` (created at the end if absent)."""
    with open(path) as f:
        lines = f.read().splitlines()
    if DOCS_SECTION not in lines:
        lines += ['', DOCS_SECTION, '', 'Rows appended by `--append-docs`.', '', DOCS_HEADER,
                  '|' + '---|' * (DOCS_HEADER.count('|') - 1)]
    start = lines.index(DOCS_SECTION)
    table = next(i for i in range(start, len(lines)) if lines[i] == DOCS_HEADER)
    end = table
    while end + 1 < len(lines) and lines[end + 1].startswith('|'):
        end += 1
    lines[end + 1:end + 1] = rows
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
