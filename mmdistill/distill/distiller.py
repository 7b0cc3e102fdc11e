"""The distiller: a student, named teachers, a view sampler and weighted terms.

Every method of the papers (CLIPSelf, RegionText, SC-CLIPSelf, R-SC-CLIPSelf, R-SC-V, the
Refiner stage, ATAS, SILC) is a config of this one model. A term names the tensors it compares
by *signal keys* ``model.view.readout``:

* ``model``: ``student``, a teacher's name, or ``view`` (the geometry of a view);
* ``view``: a view of the sampler (``image``, ``crops``, ``stretched``, ``mosaic``, ``tiles``,
  ``full``, ``global``, ``local``; ``captions`` for the student's text tower);
* ``readout``:

===================  ==================================================================  =================
readout              what                                                                shape
===================  ==================================================================  =================
``cls``              image embedding of each view image                                  ``(N, D)``
``dense``            dense CLIP-space map (value-path last block), unit-norm cells       ``(N, D, h, w)``
``tokens``           all cells of the dense map                                          ``(N, h*w, D)``
``grid_tokens``      the dense map average-pooled to ``L x L`` (if its grid differs)     ``(N, L*L, D)``
``regions``          RoIAlign 1x1 of the dense map over the view's regions, normalised   ``(K, D)``
``region_tokens``    RoIAlign ``L x L`` over the regions (not re-normalised)             ``(K, L*L, D)``
``<head>``           a head of ``heads`` on ``cls`` (student and EMA teachers)           ``(N, K_head)``
``text``             student's text tower on the batch's captions (view ``captions``)    ``(B, D)``
``source``           ``view.<v>.source``: source image of each view image                ``(N,)``
===================  ==================================================================  =================

plus ``text``, the concept vocabulary's text embeddings ``(C, D)``. Examples:
``student.image.regions`` (CLIPSelf's student), ``frozen.crops.cls`` (its teacher),
``student.mosaic.regions`` <- ``frozen.tiles.cls`` (ATAS global-to-local),
``student.local.head`` <- ``ema.global.head`` (SILC).

Every key a term names is checked when the model is built (an unknown model, view or readout
fails naming what is available). In a step, each (model, view) forward runs once, with class
embedding and dense map switched on only where some key needs them, and is shared by every
term; views without a size of their own are rendered at each model's native size. A Refiner
teacher (or student) answers ``dense`` / ``tokens`` / ``region_tokens`` on views with regions
with its refined tokens.

EMA teachers follow the student after each optimiser step through
:class:`~mmdistill.engine.TeacherUpdateHook`, which the config names (it calls :meth:`Distiller.update_teachers`
unless :class:`~mmdistill.engine.LossGuardHook` skipped the step).
"""
from __future__ import annotations

import fnmatch
from typing import Callable, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.dist import get_dist_info
from mmengine.model import BaseModel
from torch import nn

from ..clip.pooling import roi_embeddings
from ..clip.tower import CLIPTower
from ..clip.vocabulary import build_text_classifier_module
from ..registry import MODELS
from ..utils import at_least_float32
from .teachers import EMATeacher, FrozenTeacher, Teacher
from .views import View, ViewSampler, ViewSet, view_generator

DENSE_READOUTS = ('dense', 'tokens', 'grid_tokens', 'regions', 'region_tokens')
TOWER_READOUTS = ('cls',) + DENSE_READOUTS
REFINED_READOUTS = ('dense', 'tokens', 'region_tokens')  # a Refiner's readouts on views with regions
REGION_READOUTS = ('regions', 'region_tokens')


def no_grad(fn: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
    def wrapped() -> torch.Tensor:
        with torch.no_grad():
            return fn()
    return wrapped


class StepContext:
    """Named values of one step, each computed on first use by its producer and then reused.

    Intermediate results shared by several signals (a tower's output on a view) are
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


def resolve_towers(cfg, towers: nn.ModuleDict):
    """Replace every ``tower='name'`` in a (nested) config by the shared tower of that name."""
    if isinstance(cfg, dict):
        out = {}
        for k, v in cfg.items():
            if k == 'tower' and isinstance(v, str):
                if v not in towers:
                    raise KeyError(f'tower {v!r} is not one of the shared towers {sorted(towers)}')
                out[k] = towers[v]
            else:
                out[k] = resolve_towers(v, towers)
        return out
    return cfg


@MODELS.register_module()
class Distiller(BaseModel):
    """Student tower (+ heads, + text tower) + teachers + views + weighted terms.

    Args:
        student: ``CLIPTower`` config (what trains is set by its ``trainable``, or by ``trainable``
            below), or a ``Refiner`` config to train a Refiner (its readouts are refined tokens).
        teachers: name -> teacher config. ``FrozenTeacher`` without ``tower`` and ``EMATeacher``
            copy the student (the EMA teacher also its heads); ``tower='name'`` anywhere in a
            teacher config (e.g. a Refiner's tower) is the shared tower of that name.
        views: view sampler config, or a list of them (merged by ``ViewSet``).
        terms: term configs, each with ``name``, ``type``, ``loss_weight`` and one signal key
            per entry of the term's ``inputs`` (e.g. ``student='student.image.regions',
            teacher='frozen.crops.cls'``).
        towers: name -> ``CLIPTower`` config of towers shared by several teachers (one copy in
            memory; in checkpoints its tensors are stored once).
        heads: name -> head config (e.g. ``DINOHead``), owned by the student, read on ``cls``;
            an ``EMATeacher`` averages them with the tower. ``in_dim`` defaults to the tower's.
        text_tower: ``CLIPTextTower`` config: the student's text tower (``student.captions.text``).
        trainable: name patterns (``fnmatch``, on the distiller's parameter names such as
            ``student.visual.transformer.resblocks.*.attn.in_proj_weight``); when given, exactly
            the matching parameters outside the teachers train.
        student_size: side of the student image of box samplers (CLIPSelf: 1024 for ViT-B/16).
        token_size: ``L`` of the ``L x L`` region / grid tokens.
        vocabulary: optional vocabulary schema (:mod:`mmdistill.clip.vocabulary`, docs/vocabulary.md):
            ``dict(classes=..., text=dict(arch=..., checkpoint=...), templates=...)``, whose ``TextClassifier``
            embeddings ``(C, D)`` are the ``text`` signal (RegionText's concept vocabulary).
        seed: seed of the view sampler; each step's generator is derived from
            ``(seed, rank, step)`` (:func:`~.views.view_generator`). ``None``: the seed of torch's
            default generator when the model is built (the run's ``randomness.seed``).
    """

    def __init__(self, student: dict, teachers: dict, views: Union[dict, Sequence[dict]], terms: Sequence[dict],
                 towers: Optional[dict] = None, heads: Optional[dict] = None, text_tower: Optional[dict] = None,
                 trainable: Optional[Sequence[str]] = None, student_size: int = 1024, token_size: int = 7,
                 vocabulary: Optional[dict] = None, seed: Optional[int] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.towers = nn.ModuleDict({name: MODELS.build(cfg) for name, cfg in (towers or {}).items()})
        self.student = MODELS.build(resolve_towers(dict(student), self.towers))
        width = self.student_tower.embed_dim
        self.heads = nn.ModuleDict({name: MODELS.build(dict(dict(in_dim=width), **cfg))
                                    for name, cfg in (heads or {}).items()})
        self.text_tower = MODELS.build(text_tower) if text_tower is not None else None
        self.teachers = nn.ModuleDict({name: self._build_teacher(resolve_towers(dict(cfg), self.towers))
                                       for name, cfg in teachers.items()})
        self.views: ViewSampler = ViewSet(list(views)) if isinstance(views, (list, tuple)) else MODELS.build(views)
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
        self.vocabulary = (build_text_classifier_module(vocabulary, type(self).__name__)
                           if vocabulary is not None else None)
        self.seed = torch.initial_seed() % 2 ** 32 if seed is None else seed
        # steps taken: with the seed and the rank it fixes each step's views, also after a resume
        self.register_buffer('view_step', torch.zeros((), dtype=torch.long))
        if trainable is not None:
            self.set_trainable(trainable)
        self._check_signals()

    @property
    def student_tower(self) -> CLIPTower:
        """The student's CLIP tower (the Refiner's frozen tower when a Refiner is trained)."""
        return self.student if isinstance(self.student, CLIPTower) else self.student.tower

    def _student_modules(self) -> nn.ModuleDict:
        """What an EMA teacher averages: the student tower and its heads."""
        return nn.ModuleDict(dict(tower=self.student_tower, heads=self.heads))

    def _build_teacher(self, cfg: dict) -> Teacher:
        if cfg['type'] in ('EMATeacher', EMATeacher):
            cfg['student'] = self._student_modules()
        elif cfg['type'] in ('FrozenTeacher', FrozenTeacher) and cfg.get('tower') is None:
            cfg['student'] = self.student_tower
        return MODELS.build(cfg)

    def set_trainable(self, patterns: Sequence[str]) -> None:
        """Exactly the parameters (outside the teachers) whose names match a pattern train."""
        names = [n for n, _ in self.named_parameters() if not n.startswith('teachers.')]
        unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(n, p) for n in names)]
        if unmatched:
            raise KeyError(f'trainable patterns {unmatched} match no parameter; e.g. {names[:5]}')
        for n, p in self.named_parameters():
            if not n.startswith('teachers.'):
                p.requires_grad_(any(fnmatch.fnmatchcase(n, pat) for pat in patterns))

    # ------------------------------------------------------------------ keys
    def _readouts(self, model: str, view: str) -> tuple[str, ...]:
        """Readouts ``model`` offers on ``view``."""
        sampler = self.views
        if model == 'view':
            return ('source',) if view in sampler.source_views else ()
        if view == 'captions':
            return ('text',) if model == 'student' and self.text_tower is not None else ()
        if view not in sampler.view_names:
            return ()
        if model == 'student' and not isinstance(self.student, CLIPTower):  # a Refiner trains
            return REFINED_READOUTS if view in sampler.region_views else ()
        names = [r for r in TOWER_READOUTS if r not in REGION_READOUTS or view in sampler.region_views]
        heads = self.heads if model == 'student' else self.teachers[model].heads
        return tuple(names) + tuple(heads)

    def _check_signals(self) -> None:
        """Fail at build time (not at the first step) on a key no producer answers, naming the available ones."""
        models = ['student', *self.teachers, 'view']
        views = list(self.views.view_names) + ['captions']
        for term, binding in self.bindings.items():
            for arg, key in binding.items():
                if key == 'text':
                    if self.vocabulary is None:
                        raise KeyError(f'term {term!r}: {arg}={key!r} needs the distiller\'s vocabulary=dict(...)')
                    continue
                parts = key.split('.')
                where = f'term {term!r}: {arg}={key!r}'
                if len(parts) != 3:
                    raise KeyError(f"{where} is not a signal key model.view.readout (e.g. 'student.image.regions', "
                                   f"'frozen.crops.cls'); models: {models}, views: {views}")
                model, view, readout = parts
                if model not in models:
                    raise KeyError(f'{where} names no student, teacher or view; models: {models}')
                if view not in views:
                    raise KeyError(f'{where}: unknown view {view!r}; views of the sampler: {views}')
                available = self._readouts(model, view)
                if readout not in available:
                    raise KeyError(f'{where}: {model!r} has no readout {readout!r} on view {view!r}; '
                                   f'available: {list(available)}')

    def _needs(self, model: str, view: str) -> set[str]:
        prefix = f'{model}.{view}.'
        return {key[len(prefix):] for b in self.bindings.values() for key in b.values() if key.startswith(prefix)}

    # ------------------------------------------------------------------ signals
    def _tower_signals(self, ctx: StepContext, model: str, name: str, view: View, tower: CLIPTower,
                       heads: nn.ModuleDict, frozen: bool) -> None:
        """Lazy producers of ``model.name.*`` from one forward of ``tower`` on the view's images
        (rendered at the tower's native size if the view has no size of its own)."""
        needs = self._needs(model, name)
        want_cls = bool(needs & {'cls', *heads})
        want_dense = bool(needs & set(DENSE_READOUTS))
        out = f'_{model}.{name}.out'

        def grid_tokens() -> torch.Tensor:  # the crop's grid, pooled to L x L if it differs
            dense = ctx[out].dense
            if dense.shape[-1] != self.token_size:
                dense = F.adaptive_avg_pool2d(dense, self.token_size)
            return dense.flatten(2).transpose(1, 2)

        def regions(output_size: int) -> torch.Tensor:
            dense = ctx[out].dense
            return roi_embeddings(dense, view.rois.to(dense.device), tower.stride, ctx[out].image_size,
                                  output_size=output_size, validate=False)

        producers: dict[str, Callable[[], object]] = {
            out: lambda: tower(view.images(tower.native_size), cls=want_cls, dense=want_dense),
            f'{model}.{name}.cls': lambda: ctx[out].cls,
            f'{model}.{name}.dense': lambda: ctx[out].dense,
            f'{model}.{name}.tokens': lambda: ctx[out].dense.flatten(2).transpose(1, 2),
            f'{model}.{name}.grid_tokens': grid_tokens,
        }
        if view.rois is not None:
            producers[f'{model}.{name}.regions'] = lambda: F.normalize(regions(1), dim=-1)
            producers[f'{model}.{name}.region_tokens'] = lambda: regions(self.token_size)
        for head_name, head in heads.items():
            producers[f'{model}.{name}.{head_name}'] = lambda h=head: h(ctx[out].cls)
        ctx.update({k: no_grad(v) for k, v in producers.items()} if frozen else producers)

    def step_context(self, images: torch.Tensor, data_samples: Sequence) -> tuple[StepContext, int]:
        """Sample views and build the lazily evaluated signals of one step.

        ``images``: ``(B, 3, H, W)``, or ``(B, V, 3, H, W)`` photometric draws for samplers that take them."""
        if images.dim() == 5 and not self.views.takes_draws:
            raise ValueError(f'{type(self.views).__name__} takes (B, 3, H, W) images, got {tuple(images.shape)}: '
                             f'per-view photometric draws (PhotometricViews) are for MultiCrop')
        sizes = [tuple(s.metainfo.get('img_shape', images.shape[-2:]))[:2] for s in data_samples]
        proposals = [s.proposals for s in data_samples] if all('proposals' in s for s in data_samples) else None
        rank, _ = get_dist_info()
        generator = view_generator(self.seed, rank, int(self.view_step))
        self.view_step.add_(1)
        views = self.views.views(images, sizes, generator, proposals, self.student_size)
        ctx = StepContext()
        for name, view in views.items():
            if view.source is not None:
                ctx.update({f'view.{name}.source': lambda v=view: v.source.to(images.device)})
            if isinstance(self.student, CLIPTower):
                self._tower_signals(ctx, 'student', name, view, self.student, self.heads, frozen=False)
            elif view.rois is not None:  # a Refiner trains (stage 1 of R-SCD): its refined tokens
                ctx.update(self.student.signals(f'student.{name}', view.images, view.rois, self.token_size))
            for t_name, teacher in self.teachers.items():
                self._tower_signals(ctx, t_name, name, view, teacher.tower, teacher.heads, frozen=True)
                if hasattr(teacher, 'refiner') and view.rois is not None:
                    refined = teacher.refiner.signals(f'{t_name}.{name}', view.images, view.rois, self.token_size)
                    ctx.update({key: no_grad(fn) for key, fn in refined.items()})
        if self.text_tower is not None:
            ctx.update({'student.captions.text': lambda: self.text_tower([s.caption for s in data_samples])})
        if self.vocabulary is not None:
            ctx.update({'text': lambda: self.vocabulary.embeddings})
        return ctx, sum(v.num_regions for v in views.values())

    # ------------------------------------------------------------------ forward
    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None, mode: str = 'loss'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'tensor':
            return self.student_tower(inputs).dense
        raise ValueError(f'{type(self).__name__} trains only (mode "loss" or "tensor"); evaluate the exported '
                         f'tower with DenseZeroShotClassifier. Got mode={mode!r}')

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict[str, torch.Tensor]:
        """Weighted terms of one step."""
        ctx, num_boxes = self.step_context(inputs, data_samples)
        losses = {}
        for name, term in self.terms.items():
            args = [ctx[key] for key in self.bindings[name].values()]
            with torch.autocast(inputs.device.type, enabled=False):  # the loss math in float32 under autocast
                losses[f'loss_{name}'] = term.loss_weight * term(*map(at_least_float32, args))
        losses['num_boxes'] = torch.tensor(float(num_boxes), device=inputs.device)
        return losses

    def update_teachers(self) -> None:
        """After an optimiser step: each teacher follows the student's tower and heads (only EMA teachers act)."""
        student = self._student_modules()
        for teacher in self.teachers.values():
            teacher.update(student)
