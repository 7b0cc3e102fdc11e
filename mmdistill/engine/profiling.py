"""Training-step and inference profiles of any config: time and counted FLOPs per part, peak memory.

A training step is split into ``data`` (the next batch), ``preprocess`` (the data preprocessor), the
model's own parts inside the loss forward (:func:`step_parts`: teacher forwards and the student
forward of a distiller, C2S's parts, backbone / neck / heads of a detector or segmentor),
``loss_other`` (the rest of the loss forward: views, crops, RoI pooling, loss math), ``backward``
and ``optimizer`` (step, zero_grad, teacher update). A part call nested in another part's call counts
for the outer one only. Times are medians over the measured steps (CUDA synchronised at every
boundary); FLOPs come from one extra counted step (:mod:`.flops`).

``synthetic_batch`` makes random images with the data samples each kind of model reads (boxes and
captions for distillers, label maps for segmentors, boxes and labels for detectors), so a config
runs without its dataset; speed does not depend on pixel values or on weights.
"""
from __future__ import annotations

import contextlib
import inspect
import resource
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, ContextManager, Iterator, Optional, Sequence

import numpy as np
import torch
from mmengine.structures import BaseDataElement, InstanceData, PixelData
from torch import nn

from .flops import AttentionKernels, counting

PartTargets = dict[str, list[tuple[object, str]]]


# ------------------------------------------------------------------------------------------ parts
def step_parts(model: nn.Module) -> PartTargets:
    """Part name -> ``(owner, attribute)`` callables whose calls make up that part of the loss forward.

    Distiller: ``teacher_forward`` (teacher towers, Refiner teachers), ``student_forward`` (student
    tower or trained Refiner, heads, text tower). C2S: ``student_forward``, ``teacher_global``,
    ``latent_mining``, ``local_cls`` (its teacher forward on masked images). Detectors and segmentors:
    ``backbone``, ``neck``, ``heads`` (each head's ``loss`` / ``loss_and_predict``).
    Other models: none (all ``loss_other``).
    """
    parts: PartTargets = defaultdict(list)
    if hasattr(model, 'teachers') and hasattr(model, 'student'):  # Distiller
        for teacher in model.teachers.values():
            parts['teacher_forward'].append((teacher.tower, 'forward'))
            if hasattr(teacher, 'refiner'):
                parts['teacher_forward'] += [(teacher.refiner, m) for m in ('forward', 'extract', 'dense')]
        student = model.student
        parts['student_forward'].append((student, 'forward'))
        if hasattr(student, 'tower'):  # a Refiner trains: its frozen tower runs outside its forward
            parts['student_forward'] += [(student, 'extract'), (student, 'dense'), (student.tower, 'forward')]
        parts['student_forward'] += [(head, 'forward') for head in model.heads.values()]
        if model.text_tower is not None:
            parts['student_forward'].append((model.text_tower, 'forward'))
    elif hasattr(model, 'local_cls_tokens'):  # C2S
        parts['student_forward'] += [(model, 'student_features'), (model, 'extract_feat'),
                                     (model.decode_head, 'forward')]
        if model.teacher is not None:
            parts['teacher_global'].append((model.teacher, 'forward'))
        if model.miner is not None:
            parts['latent_mining'].append((model, 'miner'))
        parts['local_cls'].append((model, 'local_cls_tokens'))
    else:
        for name in ('backbone', 'neck'):
            if isinstance(getattr(model, name, None), nn.Module):
                parts[name].append((getattr(model, name), 'forward'))
        for name in ('rpn_head', 'roi_head', 'decode_head', 'auxiliary_head'):
            head = getattr(model, name, None)
            if isinstance(head, nn.Module):
                parts['heads'] += [(head, m) for m in ('loss', 'loss_and_predict') if hasattr(head, m)]
    return dict(parts)


class _Proxy:
    """A callable object whose calls go through ``wrapper``; its other attributes stay reachable."""

    def __init__(self, target: object, wrapper: Callable) -> None:
        self._target, self._wrapper = target, wrapper

    def __call__(self, *args, **kwargs):
        return self._wrapper(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._target, name)


class PartMeter:
    """Seconds and counted FLOPs per part: explicit ``part()`` blocks of the step, and the model's parts
    (:func:`step_parts`, installed as instance-level wrappers; outermost calls only)."""

    def __init__(self, device: str) -> None:
        self.cuda = torch.device(device).type == 'cuda'
        self.seconds: dict[str, float] = defaultdict(float)
        self.flops: dict[str, int] = defaultdict(int)
        self.counter = None  # a FlopCounterMode while a counted step runs
        self._depth = 0
        self._wrapped: set[tuple[int, str]] = set()

    def _now(self) -> tuple[float, int]:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter(), self.counter.get_total_flops() if self.counter is not None else 0

    def _add(self, name: str, start: tuple[float, int]) -> None:
        end = self._now()
        self.seconds[name] += end[0] - start[0]
        self.flops[name] += end[1] - start[1]

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        start = self._now()
        try:
            yield
        finally:
            self._add(name, start)

    def install(self, parts: PartTargets) -> None:
        """Wrap every target of ``parts``; a target already wrapped keeps its first part."""
        for name, targets in parts.items():
            for owner, attr in targets:
                if (id(owner), attr) in self._wrapped:
                    continue
                self._wrapped.add((id(owner), attr))
                target = getattr(owner, attr)
                wrapper = self._timed(name, target)
                setattr(owner, attr, wrapper if inspect.ismethod(target) else _Proxy(target, wrapper))

    def _timed(self, name: str, fn: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            self._depth += 1
            start = self._now() if self._depth == 1 else None
            try:
                return fn(*args, **kwargs)
            finally:
                self._depth -= 1
                if start is not None:
                    self._add(name, start)
        return wrapper

    def reset(self) -> None:
        self.seconds.clear()
        self.flops.clear()


# ------------------------------------------------------------------------------------- profiles
@dataclass
class StepProfile:
    """Median seconds and counted FLOPs per part of a training step; the step is their sum."""

    parts: tuple[str, ...]
    seconds: dict[str, float]
    flops: dict[str, int]
    batch_size: int
    peak_memory_mib: float
    attention_kernels: dict[str, int] = field(default_factory=dict)
    cpu_step_seconds: float = 0.0  # median CPU time of the process per step (all threads): a shared machine's cost

    @property
    def step_seconds(self) -> float:
        return sum(self.seconds.values())

    @property
    def step_flops(self) -> int:
        return sum(self.flops.values())

    def tflops(self, part: Optional[str] = None) -> float:
        """Achieved TFLOP/s of one part, or of the whole step."""
        seconds = self.seconds[part] if part else self.step_seconds
        flops = self.flops[part] if part else self.step_flops
        return flops / seconds / 1e12 if seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return dict(parts=list(self.parts), seconds=self.seconds, flops=self.flops, batch_size=self.batch_size,
                    step_seconds=self.step_seconds, cpu_step_seconds=self.cpu_step_seconds,
                    step_flops=self.step_flops, step_tflops=self.tflops(),
                    peak_memory_mib=self.peak_memory_mib, attention_kernels=self.attention_kernels)


class PeakMemory:
    """Peak memory in bytes: CUDA max allocated (``cuda=True``; default: when CUDA is available), else the
    process's resident high-water mark, which :meth:`reset` restarts through ``/proc/self/clear_refs`` on
    Linux (elsewhere the process's peak so far)."""

    def __init__(self, cuda: Optional[bool] = None) -> None:
        self.cuda = torch.cuda.is_available() if cuda is None else cuda
        self.kind = 'CUDA' if self.cuda else 'RSS'

    def reset(self) -> None:
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
            return
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
        except OSError:
            pass

    def peak(self) -> int:
        if self.cuda:
            return int(torch.cuda.max_memory_allocated())
        try:
            with open('/proc/self/status') as f:
                for line in f:
                    if line.startswith('VmHWM:'):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_memory_mib(device: str) -> float:
    """CUDA: the allocator's peak since the last reset; CPU: the process's resident high-water mark."""
    return PeakMemory(cuda=torch.device(device).type == 'cuda').peak() / 2 ** 20


def profile_training(model: nn.Module, optim_wrapper, batches: Iterator[dict], steps: int, warmup: int,
                     device: str, context: Callable[[], ContextManager] = contextlib.nullcontext,
                     after_step: Optional[Callable[[], None]] = None, count_flops: bool = True) -> StepProfile:
    """Profile ``steps`` training steps after ``warmup`` ones, then one step that records the attention
    kernels and one that counts FLOPs (neither timed).

    Args:
        model: an mmengine ``BaseModel`` (``data_preprocessor``, ``forward(mode='loss')``, ``parse_losses``).
        optim_wrapper: an mmengine ``OptimWrapper`` of the model.
        batches: raw batches (a data loader's items, or :func:`synthetic_batch`'s).
        context: entered around each loss forward (e.g. an attention-kernel choice).
        after_step: called after each optimiser step (a distiller's ``update_teachers``).
    """
    if steps < 1:
        raise ValueError(f'steps must be at least 1, got {steps}')
    meter = PartMeter(device)
    model_parts = step_parts(model)
    meter.install(model_parts)
    order = ('data', 'preprocess', *model_parts, 'loss_other', 'backward', 'optimizer')
    batch_size = 0

    def step() -> None:
        nonlocal batch_size
        with meter.part('data'):
            data = next(batches)
        batch_size = len(data['inputs'])
        with meter.part('preprocess'):
            data = model.data_preprocessor(data, True)
        with meter.part('forward'):
            with optim_wrapper.optim_context(model), context():
                losses = model(**data, mode='loss')
            loss, _ = model.parse_losses(losses)
        with meter.part('backward'):
            optim_wrapper.backward(loss)
        with meter.part('optimizer'):
            optim_wrapper.step()
            optim_wrapper.zero_grad()
            if after_step is not None:
                after_step()
        meter.seconds['loss_other'] = meter.seconds.pop('forward') - sum(meter.seconds[p] for p in model_parts)
        meter.flops['loss_other'] = meter.flops.pop('forward') - sum(meter.flops[p] for p in model_parts)

    model.train()
    for _ in range(warmup):
        step()
    with AttentionKernels() as kernels:
        step()
    flops: dict[str, int] = dict.fromkeys(order, 0)
    if count_flops:
        meter.reset()
        with counting(device) as counter:
            meter.counter = counter
            step()
        meter.counter = None
        flops.update(meter.flops)
    if torch.device(device).type == 'cuda':
        torch.cuda.reset_peak_memory_stats(torch.device(device))
    samples, cpu = [], []
    for _ in range(steps):
        meter.reset()
        start = time.process_time()
        step()
        cpu.append(time.process_time() - start)
        samples.append({p: meter.seconds.get(p, 0.0) for p in order})
    seconds = {p: statistics.median(s[p] for s in samples) for p in order}
    return StepProfile(order, seconds, {p: flops.get(p, 0) for p in order}, batch_size, peak_memory_mib(device),
                       kernels.calls, statistics.median(cpu))


def profile_inference(model: nn.Module, data: dict, iters: int, warmup: int, device: str) -> dict:
    """Images/s, counted FLOPs per image and parameters of ``model.test_step(data)`` (data preprocessor,
    forward and post-processing; batch = ``len(data['inputs'])``)."""
    model.eval()
    batch = len(data['inputs'])
    cuda = torch.device(device).type == 'cuda'
    with torch.no_grad():
        for _ in range(warmup):
            model.test_step(data)
        with counting(device) as counter:
            model.test_step(data)
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(iters):
            model.test_step(data)
        if cuda:
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - start) / iters
    return dict(images_per_s=batch / seconds, gflops_per_image=counter.get_total_flops() / batch / 1e9,
                params=sum(p.numel() for p in model.parameters()), batch_size=batch)


# ------------------------------------------------------------------------------------ synthetic data
def model_kind(model: nn.Module) -> str:
    """``'detector'`` (mmdet), ``'segmentor'`` (mmseg) or ``'image'`` (distillers, pretrainers)."""
    with contextlib.suppress(ImportError):
        from mmdet.models.detectors import BaseDetector
        if isinstance(model, BaseDetector):
            return 'detector'
    with contextlib.suppress(ImportError):
        from mmseg.models.segmentors import BaseSegmentor
        if isinstance(model, BaseSegmentor):
            return 'segmentor'
    return 'image'


def random_boxes(n: int, size: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
    """``(n, 4)`` boxes ``x1, y1, x2, y2`` inside an ``(H, W)`` image, sides 10-50 % of the image's."""
    h, w = size
    wh = (0.1 + 0.4 * torch.rand(n, 2, generator=generator)) * torch.tensor([w, h])
    xy = torch.rand(n, 2, generator=generator) * (torch.tensor([w, h]) - wh)
    return torch.cat([xy, xy + wh], dim=1)


def training_labels(model: nn.Module) -> list[int]:
    """Class ids a synthetic target may use: a detector's base classes (an open-vocabulary box head
    masks the others out of its loss), else 0 and 1."""
    is_base = getattr(getattr(getattr(model, 'roi_head', None), 'bbox_head', None), 'is_base', None)
    return is_base[:-1].nonzero().flatten().tolist()[:2] if is_base is not None else [0, 1]


def synthetic_batch(kind: str, batch_size: int, size: tuple[int, int], train: bool = True, num_boxes: int = 20,
                    labels: Sequence[int] = (0, 1), seed: int = 0) -> dict:
    """A raw batch of ``batch_size`` random ``(3, H, W)`` uint8 images and data samples for ``kind``
    (:func:`model_kind`): image-level samples with ``num_boxes`` proposals ``(N, 5)`` and a caption,
    ``SegDataSample`` with a label map, or ``DetDataSample`` with ``num_boxes`` boxes, of classes drawn
    from ``labels``."""
    g = torch.Generator().manual_seed(seed)
    pool = torch.tensor(list(labels))
    h, w = size
    inputs = [torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g) for _ in range(batch_size)]
    meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), scale_factor=(1.0, 1.0), flip=False)
    samples = []
    for _ in range(batch_size):
        if kind == 'segmentor':
            from mmseg.structures import SegDataSample
            sample = SegDataSample(metainfo=meta)
            if train:
                sample.gt_sem_seg = PixelData(data=pool[torch.randint(0, len(pool), (1, h, w), generator=g)])
        elif kind == 'detector':
            from mmdet.structures import DetDataSample
            sample = DetDataSample(metainfo=meta)
            if train:
                sample.gt_instances = InstanceData(bboxes=random_boxes(num_boxes, size, g),
                                                   labels=pool[torch.randint(0, len(pool), (num_boxes,), generator=g)])
        else:
            boxes = random_boxes(num_boxes, size, g)
            proposals = np.concatenate([boxes.numpy(), np.ones((num_boxes, 1))], axis=1).astype(np.float32)
            sample = BaseDataElement(metainfo=dict(meta, proposals=proposals, caption='a photo of a thing.'))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def repeat(batch: dict) -> Iterator[dict]:
    """The same batch forever (a loader of synthetic data)."""
    while True:
        yield batch


def part_table(profile: StepProfile, peak_tflops: Optional[float]) -> list[str]:
    """Markdown rows ``| part | ms | share | GFLOP | TFLOP/s | utilisation |`` of a profile, then the step."""
    rows = ['| part | ms | share | GFLOP | TFLOP/s | of peak |', '|---|---|---|---|---|---|']
    total = profile.step_seconds

    def row(name: str, seconds: float, flops: int, tflops: float) -> str:
        util = f'{100 * tflops / peak_tflops:.1f} %' if peak_tflops and flops else '-'
        rate = f'{tflops:.3g}' if flops else '-'
        return (f'| {name} | {1000 * seconds:.1f} | {100 * seconds / total:.1f} % | {flops / 1e9:.1f} | '
                f'{rate} | {util} |')

    for p in profile.parts:
        rows.append(row(p, profile.seconds[p], profile.flops[p], profile.tflops(p)))
    rows.append(row('**step**', total, profile.step_flops, profile.tflops()))
    return rows
