"""C2S: CLIP-to-Seg distillation into a stock mmseg segmentor (paper 003).

The student is mmseg's ``EncoderDecoder`` with a stock backbone and decode head whose ``conv_seg``
outputs ``D`` channels: the features ``F`` in CLIP's embedding space. Classes are scored by text
embeddings (``X_s = alpha F^T A_s``); a frozen CLIP tower (the teacher) is used only by :meth:`loss`:

* global distillation (Sec. 3.2, Eq. 2): the CLS-weighted prototype of ``F`` against a bank of the
  teacher's global CLS tokens (InfoNCE on the paper's dot products ``F_g^T c_i / tau``);
* latent class mining (Sec. 3.1, Eq. 1): seeded k-means of the teacher's dense tokens where no seen
  label is; pseudo masks = seen labels + latent classes;
* local distillation (Eq. 3-4): each class's prototype against the CLS token of the image masked to
  that class (all masked images of the step in one teacher forward);
* latent embedding generation (Sec. 3.3): latent classes scored by ``X_u = beta cos(F, A'_u)``;
  NEL (ZegCLIP's form) + cross-entropy over ``cat(X_s, X_u)`` against the pseudo masks (Eq. 5);
* auxiliary heads of the student (SETR's deep supervision), if configured: their ``conv_seg`` also gives
  ``D`` channels, scored by the seen text embeddings against the seen labels with the head's own loss.

At test time only the student runs (``alpha F^T A`` over the test vocabulary), which is why
:func:`~mmdistill.seg.c2s.export.export_student` can fold the text embeddings into ``conv_seg``
and hand mmseg a stock model.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from torch import Tensor, nn
from torch.profiler import record_function

from ...clip.vocabulary import build_text_classifier_module
from ...datasets.class_names import ClassesType, class_names
from ...datasets.zero_shot_splits import resolve_split
from ...utils import at_least_float32, module_device
from .bank import CLSTokenBank
from .latent_embedding import LatentEmbeddingGenerator
from .latent_mining import LatentClassMiner
from .losses import ResidualProjector, class_prototypes, global_prototypes

TEACHER_PREFIX = 'teacher.'
# Eq. 2 / 4 as the paper writes them: InfoNCE on dot products F^T c / tau (PrototypeInfoNCELoss, normalize=False)
DISTILL_DEFAULTS = dict(loss=dict(type='PrototypeInfoNCELoss', tau=0.07, normalize=False, loss_weight=1.0),
                        residual=None)
# Eq. 5: NEL in ZegCLIP's form (ignored pixels are negatives of every class) + cross-entropy
PIXEL_LOSS_DEFAULTS = dict(nel=dict(type='NELLoss', ignored_pixels='negative', loss_weight=1.0),
                           ce=dict(type='PixelCrossEntropyLoss', loss_weight=1.0))


@MODELS.register_module()
class C2SSegmentor(EncoderDecoder):
    """A stock mmseg segmentor trained by C2S distillation; CLIP is used in training only.

    Args:
        backbone / neck / decode_head: stock mmseg configs; the decode head's ``num_classes`` is the
            text embedding dimension ``D`` (its ``conv_seg`` gives the features ``F``).
        auxiliary_head: stock mmseg head config(s) with ``num_classes = D`` (training only, never exported): each
            one's features scored by the seen text embeddings, its ``loss_decode`` against the seen labels.
        vocabulary: the vocabulary schema (:mod:`mmdistill.clip.vocabulary`, docs/vocabulary.md):
            ``dict(classes=[...], unseen_classes=[...] or 'split.json', text=dict(arch=..., checkpoint=...),
            templates=...)``: the dataset's classes in label order; training labels are seen classes renumbered
            in that order (``SeenClassLabels``); testing scores all classes. Two text classifiers: ``seen_text``
            (the seen classes, training) and ``text`` (the test vocabulary, :meth:`set_vocabulary`).
        teacher: config of a frozen ``CLIPTower`` (the CLIP image tower of ``text``); needed by every
            distillation part, not at test time and never saved in checkpoints.
        global_distill: ``dict(loss=dict(type='PrototypeInfoNCELoss', tau=0.07, normalize=False,
            loss_weight=1.0), bank_size=24, residual=None)`` or ``None``.
        local_distill: the same keys but ``bank_size``, or ``None``. ``loss``: a registered prototype loss
            (:mod:`mmdistill.seg.c2s.losses`): ``PrototypeInfoNCELoss`` (Eq. 2 / 4; ``normalize=False`` the
            paper's dot products, ``True`` cosine logits), or Table 4's ``PrototypeCosineLoss`` (``1 - cos``) and
            ``PrototypeL2Loss`` (squared distance; ``normalize=True`` between unit vectors) to the positive
            alone. ``residual``: :class:`ResidualProjector` arguments (e.g. ``dict(alpha=0.1)``): the
            prototypes pass ``p + alpha MLP(p)`` before the loss (Table 4's Froster is
            ``loss=dict(type='PrototypeL2Loss', normalize=True), residual=dict(alpha=0.1)``).
        latent_mining: :class:`LatentClassMiner` arguments or ``None`` (no latent classes: local
            distillation then covers the seen classes only).
        latent_embedding: :class:`LatentEmbeddingGenerator` arguments or ``None``.
        seen_scale: ``alpha`` of ``X_s``.
        latent_scale: ``beta`` of ``X_u``.
        pixel_losses: ``{name: loss config}`` of Eq. 5's terms on ``cat(X_s, X_u)``, each logged as
            ``loss_<name>``; updates the default ``dict(nel=dict(type='NELLoss', ignored_pixels='negative'),
            ce=dict(type='PixelCrossEntropyLoss'))`` name by name (``None`` removes a term). ``NELLoss``'s
            ``ignored_pixels='excluded'`` drops ignored pixels from NEL instead of ZegCLIP's negatives.
        teacher_size: ``(h, w)`` the teacher sees the image at; default its native size.
        teacher_mean / teacher_std: the teacher's input normalisation (0-255 RGB); the images are
            re-normalised from the data preprocessor's.
        seen_score_offset: if positive, test scores are ``sigmoid(X) - offset`` on seen classes (ZegCLIP's
            calibration); 0 keeps the plain ``argmax X``, which the exported stock model reproduces.
        ignore_index: the ignored label.
    """

    def __init__(self, backbone: ConfigType, decode_head: ConfigType, vocabulary: dict,
                 teacher: OptConfigType = None, neck: OptConfigType = None,
                 auxiliary_head: OptConfigType = None,
                 global_distill: Optional[dict] = None, local_distill: Optional[dict] = None,
                 latent_mining: Optional[dict] = None, latent_embedding: Optional[dict] = None,
                 seen_scale: float = 1.0, latent_scale: float = 20.0,
                 pixel_losses: Optional[dict] = None, teacher_size: Optional[Sequence[int]] = None,
                 teacher_mean: Sequence[float] = tuple(255 * m for m in OPENAI_DATASET_MEAN),
                 teacher_std: Sequence[float] = tuple(255 * s for s in OPENAI_DATASET_STD),
                 seen_score_offset: float = 0.0, ignore_index: int = 255,
                 train_cfg: OptConfigType = None, test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None, init_cfg: OptMultiConfig = None) -> None:
        super().__init__(backbone=backbone, decode_head=decode_head, neck=neck, auxiliary_head=auxiliary_head,
                         train_cfg=train_cfg, test_cfg=test_cfg, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        needs_teacher = [name for name, part in (('global_distill', global_distill), ('local_distill', local_distill),
                                                 ('latent_mining', latent_mining)) if part is not None]
        if needs_teacher and teacher is None:
            raise ValueError(f'{needs_teacher} need a CLIP teacher: set teacher=dict(type="CLIPTower", ...)')
        if latent_embedding is not None and latent_mining is None:
            raise ValueError('latent_embedding needs latent classes: set latent_mining too')
        self.dim = self.decode_head.out_channels
        self.teacher = MODELS.build(dict(teacher, trainable='none')) if teacher is not None else None
        if self.teacher is not None and self.teacher.embed_dim != self.dim:
            raise ValueError(f'decode_head.num_classes must be the teacher embedding dimension '
                             f'{self.teacher.embed_dim} ({self.teacher.arch}), got {self.dim}')
        aux_dims = [head.out_channels for head in self._auxiliary_heads()]
        if any(d != self.dim for d in aux_dims):
            raise ValueError(f'auxiliary_head num_classes must be D = {self.dim} like the decode head, got {aux_dims}')
        self.global_distill = self._distill_settings('global_distill', global_distill, bank_size=24)
        self.local_distill = self._distill_settings('local_distill', local_distill)
        self.use_global, self.use_local = global_distill is not None, local_distill is not None
        self.distill_terms = nn.ModuleDict(
            {name: self._build_loss(f'{name}_distill.loss', settings['loss']) for name, settings, used in (
                ('global', self.global_distill, self.use_global), ('local', self.local_distill, self.use_local))
             if used})
        self.global_projector = self._projector(self.global_distill)
        self.local_projector = self._projector(self.local_distill)
        if self.use_global:
            self.bank = CLSTokenBank(self.global_distill['bank_size'], self.dim)
        self.miner = LatentClassMiner(**latent_mining) if latent_mining is not None else None
        self.latent_generator = (LatentEmbeddingGenerator(self.dim, **latent_embedding)
                                 if latent_embedding is not None else None)
        self.seen_scale, self.latent_scale = seen_scale, latent_scale
        self.pixel_terms = nn.ModuleDict(
            {name: self._build_loss(f'pixel_losses.{name}', cfg)
             for name, cfg in {**PIXEL_LOSS_DEFAULTS, **(pixel_losses or {})}.items() if cfg is not None})
        self.teacher_size = tuple(teacher_size) if teacher_size else (
            self.teacher.native_size if self.teacher is not None else None)
        self.register_buffer('teacher_mean', torch.tensor(teacher_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('teacher_std', torch.tensor(teacher_std).view(1, 3, 1, 1), persistent=False)
        self.seen_score_offset = seen_score_offset
        self.ignore_index = ignore_index
        if vocabulary.get('unseen_classes') is None:
            raise ValueError('C2SSegmentor: vocabulary.unseen_classes is missing (names or a split JSON file)')
        self.classes = class_names(vocabulary['classes'])
        self.seen_classes, self.unseen_classes = resolve_split(vocabulary['unseen_classes'], self.classes)
        name = type(self).__name__
        self.seen_text = build_text_classifier_module(vocabulary, name, ('unseen_classes', ), self.seen_classes)
        self.text = build_text_classifier_module(vocabulary, name, ('unseen_classes', ))
        self._use_vocabulary()
        self._register_state_dict_hook(_drop_teacher)
        self.register_load_state_dict_post_hook(_forgive_missing_teacher)

    @staticmethod
    def _distill_settings(name: str, given: Optional[dict], **extra) -> dict:
        """The defaults updated by ``given``; unknown keys and losses are errors."""
        defaults = {**DISTILL_DEFAULTS, **extra}
        unknown = set(given or {}) - set(defaults)
        if unknown:
            raise ValueError(f'{name} has unknown keys {sorted(unknown)}; known: {sorted(defaults)}')
        return {**defaults, **(given or {})}

    @staticmethod
    def _build_loss(name: str, cfg) -> nn.Module:
        """A registered loss term from its config; it must carry a ``loss_weight``."""
        if not isinstance(cfg, dict) or 'type' not in cfg:
            raise ValueError(f'{name} must be a loss config dict(type=...), e.g. '
                             f"dict(type='PrototypeInfoNCELoss', tau=0.07), got {cfg!r}")
        loss = MODELS.build(cfg)
        if not hasattr(loss, 'loss_weight'):
            raise ValueError(f'{name}: {cfg["type"]} has no loss_weight')
        return loss

    def _projector(self, settings: dict) -> nn.Module:
        """:class:`ResidualProjector` if ``settings['residual']``, else the identity (no parameters)."""
        return ResidualProjector(self.dim, **settings['residual']) if settings['residual'] else nn.Identity()

    def _auxiliary_heads(self) -> list[nn.Module]:
        if not self.with_auxiliary_head:
            return []
        return list(self.auxiliary_head) if isinstance(self.auxiliary_head, nn.ModuleList) else [self.auxiliary_head]

    # -------------------------------------------------------------- vocabulary
    def set_vocabulary(self, classes: ClassesType) -> None:
        """Segment ``classes`` (any form of ``parse_classes``) from now on; the student is kept."""
        self.text.set_vocabulary(classes)
        self._use_vocabulary()

    def _use_vocabulary(self) -> None:
        """Check the text classifiers' size against ``D``; the seen mask and class count of the test vocabulary."""
        for text in (self.seen_text, self.text):
            if text.embed_dim != self.dim:
                raise ValueError(f'the text embeddings of {text.text_cfg["arch"]} have {text.embed_dim} '
                                 f'dimensions but decode_head.num_classes is {self.dim}')
            text.to(module_device(self.decode_head))
        names = self.text.vocabulary
        seen = torch.tensor([n in self.seen_classes for n in names], device=self.text.embeddings.device)
        self.register_buffer('test_seen', seen, persistent=False)
        self.vocabulary = names
        self.num_classes = self.out_channels = len(names)  # slide inference sizes its buffer by these

    def train(self, mode: bool = True) -> C2SSegmentor:
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    # --------------------------------------------------------------- inference
    def student_features(self, inputs: Tensor) -> Tensor:
        """Images ``(B, 3, H, W)`` -> features ``F`` ``(B, D, h, w)`` (the decode head's ``conv_seg`` output)."""
        return self.decode_head(self.extract_feat(inputs))

    def classify(self, features: Tensor) -> Tensor:
        """``alpha F^T A`` over the test vocabulary: ``(B, D, h, w)`` -> ``(B, N, h, w)``."""
        logits = self.seen_scale * self.text(features, dim=1)
        if self.seen_score_offset > 0:
            logits = logits.sigmoid() - self.seen_score_offset * self.test_seen.view(1, -1, 1, 1).to(logits.dtype)
        return logits

    def encode_decode(self, inputs: Tensor, batch_img_metas: list[dict]) -> Tensor:
        """Class scores ``(B, N, H, W)`` at the input size; the student alone."""
        logits = self.classify(self.student_features(inputs))
        return resize(logits, size=batch_img_metas[0]['img_shape'], mode='bilinear', align_corners=self.align_corners)

    def _forward(self, inputs: Tensor, data_samples: Optional[SampleList] = None) -> Tensor:
        return self.classify(self.student_features(inputs))

    # ---------------------------------------------------------------- training
    def teacher_inputs(self, inputs: Tensor) -> Tensor:
        """The student's batch re-normalised for the teacher and resized to ``teacher_size``."""
        pre = self.data_preprocessor
        images = inputs * pre.std + pre.mean if getattr(pre, '_enable_normalize', False) else inputs
        images = (images - self.teacher_mean) / self.teacher_std
        return F.interpolate(images, size=self.teacher_size, mode='bilinear', align_corners=False)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """``L = L_g + L_l + L_p`` (Eq. 6), each part logged under its own name."""
        with record_function('c2s.student_forward'):
            neck_out = self.extract_feat(inputs)
            features = self.decode_head(neck_out)  # (B, D, h, w)
        labels = torch.stack([s.gt_sem_seg.data[0] for s in data_samples]).long()  # (B, H, W)
        num_seen = len(self.seen_classes)
        losses = {}
        pseudo, num_latent = labels, labels.new_zeros(labels.shape[0])
        if self.teacher is not None:
            images = self.teacher_inputs(inputs)
            with torch.no_grad(), record_function('c2s.teacher_global'):
                out = self.teacher(images, cls=True, dense=self.miner is not None)
            global_cls = F.normalize(at_least_float32(out.cls), dim=-1)  # (B, D)
            if self.miner is not None:
                with record_function('c2s.latent_mining'):
                    free = self.miner.unlabelled_tokens(labels, out.dense.shape[-2:], self.ignore_index)
                    latent, num_latent = self.miner(out.dense, free)  # (B, h_t, w_t)
                latent = F.interpolate(latent[:, None].float(), size=labels.shape[-2:], mode='nearest')[:, 0].long()
                pseudo = torch.where((labels == self.ignore_index) & (latent >= 0), num_seen + latent, labels)
        num_classes = num_seen + int(num_latent.max())
        small = F.interpolate(pseudo[:, None].float(), size=features.shape[-2:], mode='nearest')[:, 0].long()
        prototypes, present = class_prototypes(features, small, num_classes, self.ignore_index)  # (B, C, D)
        local_cls = local_valid = None
        if self.use_local or self._generator_needs_local():
            with record_function('c2s.local_cls'):
                local_cls, local_valid = self.local_cls_tokens(images, pseudo, present)
        if self.use_global:
            slots = self.bank.push(global_cls)
            term = self.distill_terms['global']
            projected = self.global_projector(at_least_float32(global_prototypes(features, global_cls)))
            losses['loss_global'] = term.loss_weight * term(projected, self.bank.tokens, slots)
        if self.use_local:
            term = self.distill_terms['local']
            losses['loss_local'] = term.loss_weight * term(
                self.local_projector(at_least_float32(prototypes[local_valid])), local_cls[local_valid],
                torch.arange(int(local_valid.sum()), device=features.device))
        logits = self.seen_scale * self.seen_text(features, dim=1)
        target, valid = labels, torch.ones(labels.shape[0], num_seen, dtype=torch.bool, device=labels.device)
        if self.latent_generator is not None and num_classes > num_seen:
            latent_valid = torch.arange(num_classes - num_seen, device=labels.device)[None] < num_latent[:, None]
            latent_embeddings = self.latent_generator(
                prototypes[:, num_seen:], local_cls[:, num_seen:] if local_cls is not None else None,
                global_cls, local_cls, local_valid, latent_valid)  # (B, U, D)
            cosine = torch.einsum('bdhw,bud->buhw', F.normalize(features, dim=1),
                                  F.normalize(latent_embeddings, dim=-1))
            logits = torch.cat([logits, self.latent_scale * cosine], 1)
            classes = torch.arange(num_classes, device=labels.device)
            valid = classes[None] < (num_seen + num_latent)[:, None]  # (B, C)
            target = pseudo
        losses.update(self.pixel_losses(logits, target, valid))
        losses.update(self.auxiliary_losses(neck_out, labels))
        return losses

    def auxiliary_losses(self, neck_out: Sequence[Tensor], labels: Tensor) -> dict:
        """Each auxiliary head's ``D``-channel output scored by the seen text embeddings (``alpha F_a^T A_s``,
        ``(B, N_s, h, w)``) against the seen labels ``(B, H, W)`` with its ``loss_decode``; named as mmseg does
        (``aux.loss_ce`` for one head, ``aux_0.loss_ce``, ... for a list)."""
        heads = self._auxiliary_heads()
        losses = {}
        for i, head in enumerate(heads):
            prefix = f'aux_{i}' if isinstance(self.auxiliary_head, nn.ModuleList) else 'aux'
            aux = head(neck_out)  # (B, D, h, w)
            logits = self.seen_scale * self.seen_text(aux, dim=1)
            logits = resize(logits, size=labels.shape[-2:], mode='bilinear', align_corners=self.align_corners)
            decode = head.loss_decode if isinstance(head.loss_decode, nn.ModuleList) else [head.loss_decode]
            for loss in decode:
                losses[f'{prefix}.{loss.loss_name}'] = loss(at_least_float32(logits), labels,
                                                            ignore_index=self.ignore_index)
        return losses

    def _generator_needs_local(self) -> bool:
        g = self.latent_generator
        return g is not None and (g.query == 'cls' or (g.calibrator == 'transformer' and 'local' in g.keys))

    def local_cls_tokens(self, images: Tensor, pseudo: Tensor, present: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher CLS tokens of the image masked to each present class: one batched forward.

        Args:
            images: ``(B, 3, h_t, w_t)`` teacher inputs.
            pseudo: ``(B, H, W)`` pseudo labels.
            present: ``(B, C)`` classes present on the feature grid.

        Returns:
            ``(B, C, D)`` normalised tokens (zero where not valid) and ``valid`` ``(B, C)``: present on the
            feature grid and visible at the teacher's size.
        """
        small = F.interpolate(pseudo[:, None].float(), size=images.shape[-2:], mode='nearest')[:, 0].long()
        b, c = present.shape
        bins = torch.where(small == self.ignore_index, c, small).flatten(1)  # ignored pixels in an extra bin
        area = torch.zeros(b, c + 1, dtype=torch.long, device=small.device).scatter_add_(1, bins, torch.ones_like(bins))
        valid = present & (area[:, :c] > 0)
        image_of, class_of = valid.nonzero(as_tuple=True)
        masks = (small[image_of] == class_of[:, None, None])[:, None].to(images.dtype)  # (P, 1, h_t, w_t)
        tokens = images.new_zeros(*valid.shape, self.dim)
        if len(image_of):
            with torch.no_grad():
                cls = self.teacher(images[image_of] * masks, cls=True, dense=False).cls
            tokens[image_of, class_of] = F.normalize(at_least_float32(cls), dim=-1).to(tokens.dtype)
        return tokens, valid

    def pixel_losses(self, logits: Tensor, target: Tensor, valid: Tensor) -> dict:
        """Eq. 5's terms (NEL + cross-entropy by default) of ``(B, C, h, w)`` logits, upsampled to the labels
        ``(B, H, W)``; classes not ``valid`` ``(B, C)`` for an image take no part. ``{'loss_<name>': weighted}``."""
        logits = at_least_float32(
            resize(logits, size=target.shape[-2:], mode='bilinear', align_corners=self.align_corners))
        return {f'loss_{name}': term.loss_weight * term(logits, target, valid, ignore_index=self.ignore_index)
                for name, term in self.pixel_terms.items()}


def _drop_teacher(module: C2SSegmentor, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    """Checkpoints hold the student (and the CLS bank), never the frozen teacher."""
    for key in [k for k in state_dict if k.startswith(prefix + TEACHER_PREFIX)]:
        del state_dict[key]


def _forgive_missing_teacher(module: C2SSegmentor, incompatible_keys) -> None:
    """The teacher comes from its own checkpoint: its keys are expected to be missing."""
    missing = incompatible_keys.missing_keys
    missing[:] = [k for k in missing if '.' + TEACHER_PREFIX not in '.' + k]
