"""The distiller: a student tower, named teachers, a view sampler and weighted terms.

Every method of the papers (CLIPSelf, RegionText, SC-CLIPSelf, R-SC-CLIPSelf,
R-SC-V, the Refiner stage, ATAS, SILC) is a config of this one model. A term
names the tensors it compares by *signal keys* such as ``'student.regions'`` or
``'frozen.crop_cls'``; the :class:`StepContext` computes each signal on first
use and shares it, so every teacher forward runs once per step, whatever the
number of terms that read it.

Signal keys (``T`` is a teacher name):

==========================  =====================================================  ===============
key                         what                                                   shape
==========================  =====================================================  ===============
``student.cls``             student image embedding of the student image           (B, D)
``student.dense``           student dense map (normalised)                         (B, D, h, w)
``student.regions``         RoIAlign 1x1 of the student map over the boxes         (K, D)
``student.region_tokens``   RoIAlign L x L of the student map over the boxes       (K, L*L, D)
``student.image_tokens``    all cells of the student map                           (B, h*w, D)
``T.crop_cls``              T's image embedding of each crop (letterboxed) alone   (K, D)
``T.crop_tokens``           T's dense map of each crop (stretched), L x L          (K, L*L, D)
``T.cls`` / ``T.dense``     T on the student image (as the student keys)           (B, D) / ...
``T.regions`` ...           T's map pooled like the student keys                   ...
``text``                    concept / class text embeddings                        (C, D)
==========================  =====================================================  ===============

Refiner teachers answer ``T.region_tokens`` / ``T.image_tokens`` / ``T.dense``
with the Refiner's refined tokens instead of the plain tower's.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.dist import get_dist_info
from mmengine.model import BaseModel
from torch import nn

from ..clip.pooling import crop_and_resize, roi_embeddings
from ..clip.tower import CLIPTower, TowerOutput
from ..registry import MODELS
from .teachers import EMATeacher, FrozenTeacher, Teacher

DENSE_KEYS = {'dense', 'regions', 'region_tokens', 'image_tokens'}


def no_grad(fn: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
    def wrapped() -> torch.Tensor:
        with torch.no_grad():
            return fn()
    return wrapped


class StepContext:
    """Named values of one step, each computed on first use by its producer and then reused.

    Intermediate results shared by several signals (a tower's output, the cut crops) are
    entries too, under keys starting with ``_``: this is the only cache of a step.
    """

    def __init__(self) -> None:
        self._producers: dict[str, Callable[[], object]] = {}
        self._values: dict[str, object] = {}

    def update(self, producers: dict[str, Callable[[], object]]) -> None:
        self._producers.update(producers)

    def __getitem__(self, key: str):
        if key not in self._values:
            if key not in self._producers:
                public = sorted(k for k in self._producers if not k.startswith('_'))
                raise KeyError(f'unknown signal {key!r}; available: {public}')
            self._values[key] = self._producers[key]()
        return self._values[key]


def restore_view_rng(module: Distiller, incompatible_keys) -> None:
    """After ``load_state_dict``: continue the view sampler from the saved state."""
    module.generator.set_state(module.view_rng_state.cpu())


def resize_longest_side(images: torch.Tensor, sizes: Sequence[tuple[int, int]], target: int
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Resize each image's valid ``(h, w)`` region so its longest side is ``target``; pad bottom-right.

    Args:
        images: ``(B, 3, H, W)`` normalised (padding is 0 = the mean colour).
    Returns:
        ``(B, 3, target, target)`` images and ``(B,)`` scale factors.
    """
    scales = torch.tensor([target / max(h, w) for h, w in sizes], device=images.device)
    if len(set(sizes)) == 1:  # a uniform batch: one call
        h, w = sizes[0]
        out = F.interpolate(images[:, :, :h, :w], size=(round(h * scales[0].item()), round(w * scales[0].item())),
                            mode='bilinear', align_corners=False, antialias=True)
        return F.pad(out, (0, target - out.shape[-1], 0, target - out.shape[-2])), scales
    out = images.new_zeros(len(images), images.shape[1], target, target)
    for i, (h, w) in enumerate(sizes):
        new = (round(h * scales[i].item()), round(w * scales[i].item()))
        out[i, :, :new[0], :new[1]] = F.interpolate(images[i:i + 1, :, :h, :w], size=new, mode='bilinear',
                                                     align_corners=False, antialias=True)[0]
    return out, scales


@MODELS.register_module()
class Distiller(BaseModel):
    """Student tower + teachers + views + weighted terms.

    Args:
        student: ``CLIPTower`` config (what trains is set by its ``trainable``), or a
            ``Refiner`` config to train a Refiner (its ``student.*`` signals are refined tokens).
        teachers: name -> teacher config. ``FrozenTeacher`` without ``tower``
            and ``EMATeacher`` copy the student.
        views: view sampler config (``GridPatches``, ``ProposalBoxes``, ``RandomCrops``).
        terms: list of term configs, each with ``name``, ``type``, ``loss_weight``
            and one signal key per entry of the term's ``inputs`` (e.g.
            ``student='student.regions', teacher='frozen.crop_cls'``).
        student_size: longest side of the student image (CLIPSelf: 1024 for
            ViT-B/16); the teacher encodes crops at its native size.
        token_size: L of the L x L region tokens.
        text: optional ``dict(arch=..., checkpoint=..., class_names=..., templates=...)``
            for the ``text`` signal (RegionText's concept vocabulary).
        seed: seed of the view sampler's generator.
    """

    def __init__(self, student: dict, teachers: dict, views: dict, terms: Sequence[dict],
                 student_size: int = 1024, token_size: int = 7, text: Optional[dict] = None, seed: int = 0,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.student: CLIPTower = MODELS.build(student)
        self.teachers = nn.ModuleDict({name: self._build_teacher(cfg) for name, cfg in teachers.items()})
        self.views = MODELS.build(views)
        self.terms = nn.ModuleDict()
        self.bindings: dict[str, dict[str, str]] = {}
        for cfg in terms:
            cfg = dict(cfg)
            name = cfg.pop('name')
            term_cls = MODELS.get(cfg['type'])
            if term_cls is None:
                raise KeyError(f'term {name!r}: unknown type {cfg["type"]!r}')
            self.bindings[name] = {arg: cfg.pop(arg) for arg in term_cls.inputs if arg in cfg}
            missing = [arg for arg in term_cls.inputs if arg not in self.bindings[name]]
            if missing:
                raise KeyError(f'term {name!r} ({cfg["type"]}) needs signal keys for {missing}')
            self.terms[name] = MODELS.build(cfg)
        self.student_size = student_size
        self.token_size = token_size
        if text is not None:
            from ..clip.vocabulary import resolve_class_names, text_embeddings
            text = dict(text)
            names = resolve_class_names(text.pop('class_names'))
            self.register_buffer('text', text_embeddings(class_names=names, **text), persistent=False)
        else:
            self.text = None
        rank, _ = get_dist_info()
        self.generator = torch.Generator().manual_seed(seed + rank)  # each rank samples its own views
        # the sampler's state travels with checkpoints, so a resumed run draws the views it would have drawn
        self.register_buffer('view_rng_state', self.generator.get_state())
        self.register_load_state_dict_post_hook(restore_view_rng)
        self._check_signals()

    @property
    def student_tower(self) -> CLIPTower:
        """The student's CLIP tower (the Refiner's frozen tower when a Refiner is trained)."""
        return self.student if isinstance(self.student, CLIPTower) else self.student.tower

    def _build_teacher(self, cfg: dict) -> Teacher:
        cfg = dict(cfg)
        if cfg['type'] in ('EMATeacher', EMATeacher) or (cfg['type'] in ('FrozenTeacher', FrozenTeacher)
                                                          and cfg.get('tower') is None):
            cfg['student'] = self.student_tower
        return MODELS.build(cfg)

    def _check_signals(self) -> None:
        """Fail at build time (not at the first step) on a signal no producer answers."""
        known_roots = {'student', 'text', *self.teachers}
        for term, binding in self.bindings.items():
            for arg, key in binding.items():
                if key.split('.')[0] not in known_roots:
                    raise KeyError(f'term {term!r}: {arg}={key!r} names no student, teacher or text; '
                                   f'teachers: {sorted(self.teachers)}')

    # ------------------------------------------------------------------ signals
    def _needs(self, root: str) -> set[str]:
        return {key.split('.', 1)[1] for b in self.bindings.values() for key in b.values()
                if key.startswith(root + '.')}

    def _tower_signals(self, ctx: StepContext, prefix: str, run: Callable[[], TowerOutput],
                       boxes: list[torch.Tensor], size: tuple[int, int], stride: int) -> None:
        """Producers of the keys computed from one tower output (``ctx['_{prefix}.out']``) on the student image."""
        out = f'_{prefix}.out'
        ctx.update({
            out: run,
            f'{prefix}.cls': lambda: ctx[out].cls,
            f'{prefix}.dense': lambda: ctx[out].dense,
            f'{prefix}.regions': lambda: F.normalize(
                roi_embeddings(ctx[out].dense, boxes, stride, size, validate=False), dim=-1),
            # not re-normalised: the terms decide (their ``normalize``)
            f'{prefix}.region_tokens': lambda: roi_embeddings(ctx[out].dense, boxes, stride, size,
                                                              output_size=self.token_size, validate=False),
            f'{prefix}.image_tokens': lambda: ctx[out].dense.flatten(2).transpose(1, 2),
        })

    def _teacher_signals(self, ctx: StepContext, name: str, teacher: Teacher, student_images: torch.Tensor,
                         boxes: list[torch.Tensor]) -> None:
        needs = self._needs(name)
        tower = teacher.tower
        run = no_grad(lambda: tower(student_images, cls='cls' in needs, dense=bool(needs & DENSE_KEYS)))
        self._tower_signals(ctx, name, run, boxes, tuple(student_images.shape[-2:]), tower.stride)

        def crop_tokens() -> torch.Tensor:  # stretched crops: token j matches RoIAlign cell j of the box
            dense = tower(ctx['_crops.stretched']).dense
            if dense.shape[-1] != self.token_size:
                dense = F.adaptive_avg_pool2d(dense, self.token_size)
            return dense.flatten(2).transpose(1, 2)

        ctx.update({
            # letterboxed crops, as CLIPSelf's teacher sees them
            f'{name}.crop_cls': no_grad(lambda: tower(ctx['_crops.letterboxed'], cls=True, dense=False).cls),
            f'{name}.crop_tokens': no_grad(crop_tokens),
        })
        if hasattr(teacher, 'refiner'):
            refined = teacher.refiner.signals(name, student_images, boxes, self.token_size)
            ctx.update({key: no_grad(fn) for key, fn in refined.items()})

    def step_context(self, images: torch.Tensor, data_samples: Sequence) -> tuple[StepContext, int]:
        """Sample views and build the lazily evaluated signals of one step."""
        sizes = [tuple(s.metainfo.get('img_shape', images.shape[-2:]))[:2] for s in data_samples]
        proposals = [s.proposals for s in data_samples] if all('proposals' in s for s in data_samples) else None
        views = self.views(sizes, self.generator, proposals)
        self.view_rng_state.copy_(self.generator.get_state())
        student_images, scales = resize_longest_side(images, sizes, self.student_size)
        limit = float(self.student_size)
        boxes = [(b.to(images.device) * scales[i]).clamp(0, limit) for i, b in enumerate(views.boxes)]
        crop_boxes = [b.to(images.device) for b in views.crop_boxes]
        needs = self._needs('student')
        # all teacher crops of the batch at the (first) teacher's native size, cut in one call per shape
        native = next(iter(self.teachers.values())).tower.native_size if self.teachers else \
            self.student_tower.native_size

        ctx = StepContext()
        ctx.update({
            '_crops.letterboxed': lambda: crop_and_resize(images, crop_boxes, native, square=True),
            '_crops.stretched': lambda: crop_and_resize(images, crop_boxes, native, square=False),
        })
        if isinstance(self.student, CLIPTower):
            self._tower_signals(
                ctx, 'student',
                lambda: self.student(student_images, cls='cls' in needs, dense=bool(needs & DENSE_KEYS)),
                boxes, tuple(student_images.shape[-2:]), self.student.stride)
        else:  # a Refiner trains (stage 1 of R-SCD): its refined tokens are the student's signals
            ctx.update(self.student.signals('student', student_images, boxes, self.token_size))
        for name, teacher in self.teachers.items():
            self._teacher_signals(ctx, name, teacher, student_images, boxes)
        if self.text is not None:
            ctx.update({'text': lambda: self.text})
        return ctx, sum(views.counts)

    # ------------------------------------------------------------------ forward
    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None, mode: str = 'loss'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'tensor':
            return self.student_tower(inputs).dense
        raise ValueError(f'{type(self).__name__} trains only (mode "loss" or "tensor"); evaluate the exported '
                         f'tower with DenseZeroShotClassifier. Got mode={mode!r}')

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict[str, torch.Tensor]:
        ctx, num_boxes = self.step_context(inputs, data_samples)
        losses = {}
        for name, term in self.terms.items():
            args = [ctx[key] for key in self.bindings[name].values()]
            losses[f'loss_{name}'] = term.loss_weight * term(*args)
        losses['num_boxes'] = torch.tensor(float(num_boxes), device=inputs.device)
        return losses

    def train_step(self, data, optim_wrapper) -> dict[str, torch.Tensor]:
        log_vars = super().train_step(data, optim_wrapper)
        for teacher in self.teachers.values():
            teacher.update(self.student_tower)
        return log_vars

