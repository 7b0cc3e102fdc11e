"""The vocabulary schema and the text classifier every zero-shot consumer builds from it.

One config dict, under the key ``vocabulary`` of every consumer (training-free and Cat-Seg / C2S segmentors,
the F-ViT box head, the dense zero-shot classifier, the distiller's concept vocabulary)::

    vocabulary = dict(
        classes=...,                  # label order: a list (entries 'name;synonym' or lists), a comma string,
                                      # a .txt / .json file or dict(dataset=TYPE)  (mmdistill.datasets.class_names)
        text=dict(arch=..., checkpoint=...),  # the CLIP whose text tower embeds the names
        templates='vild',             # a registered template set or a list of templates with '{}'
        name_cleaner='default',       # 'default', 'coco_stuff' or 'none' (applied to each name before prompting)
        cache_dir=None,               # embedding cache (default ~/.cache/mmdistill/text_embeddings)
        # consumer-specific splits:
        base_classes=...,             # F-ViT: the classes trained on (names or a split JSON with "base")
        unseen_classes=...,           # Cat-Seg, C2S: the classes left out of training (names or a split JSON)
    )

Cat-Seg trains its text tower: its ``text`` also takes ``trainable_attention`` and ``grad_checkpointing``.
An unknown key is an error that names it (:func:`check_vocabulary`). The consumer turns the dict into a
registered :class:`TextClassifier` (:func:`build_text_classifier_module`), whose ``set_vocabulary`` swaps the
classes at any time (inference with a user's class names). docs/vocabulary.md has the whole story.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from ..datasets.class_names import ClassesType, parse_classes
from ..registry import MODELS
from .builder import build_clip_model, build_tokenizer
from .text import (
    TemplatesType,
    build_prompts,
    build_text_classifier,
    clean_class_name,
    clean_coco_stuff_name,
    get_templates,
    model_identity,
)

NAME_CLEANERS = {'default': clean_class_name, 'coco_stuff': lambda n: clean_class_name(clean_coco_stuff_name(n)),
                 'none': None}
VOCABULARY_KEYS = ('classes', 'text', 'templates', 'name_cleaner', 'cache_dir')
SPLIT_KEYS = ('base_classes', 'unseen_classes')
TEXT_KEYS = ('arch', 'checkpoint')
LIVE_TEXT_KEYS = ('trainable_attention', 'grad_checkpointing')


def check_vocabulary(vocabulary: dict, consumer: str, splits: Sequence[str] = (),
                     text_keys: Sequence[str] = ()) -> dict:
    """The vocabulary config of ``consumer`` as a plain dict, its keys checked.

    Args:
        vocabulary: the config (see the module's schema).
        consumer: named in the messages (e.g. ``'FViTBBoxHead'``).
        splits: the split keys this consumer takes (a subset of ``('base_classes', 'unseen_classes')``).
        text_keys: keys of ``text`` beyond ``arch`` / ``checkpoint`` (Cat-Seg's live text tower).

    Raises:
        ValueError: a key of the schema this consumer does not take, or an unknown key (both named);
            ``classes`` or ``text`` missing.
    """
    vocabulary = dict(vocabulary)
    known = VOCABULARY_KEYS + tuple(splits)
    for key in vocabulary:
        if key not in known:
            hint = (f'{key!r} is a split of other consumers' if key in SPLIT_KEYS else f'unknown key {key!r}')
            raise ValueError(f'{consumer}: vocabulary has {hint}; it takes {list(known)} (docs/vocabulary.md)')
    for key in ('classes', 'text'):
        if vocabulary.get(key) is None:
            raise ValueError(f'{consumer}: vocabulary.{key} is missing (docs/vocabulary.md)')
    text = dict(vocabulary['text'])
    known_text = TEXT_KEYS + tuple(text_keys)
    unknown = [k for k in text if k not in known_text]
    if unknown:
        raise ValueError(f'{consumer}: vocabulary.text has unknown key {unknown[0]!r}; it takes {list(known_text)}')
    if 'arch' not in text:
        raise ValueError(f'{consumer}: vocabulary.text.arch is missing (an open_clip architecture name)')
    vocabulary['text'] = text
    cleaner = vocabulary.get('name_cleaner', 'default')
    if cleaner not in NAME_CLEANERS:
        raise ValueError(f'{consumer}: vocabulary.name_cleaner must be one of {sorted(NAME_CLEANERS)}, got {cleaner!r}')
    return vocabulary


def build_text_classifier_module(vocabulary: dict, consumer: str, splits: Sequence[str] = (),
                                 classes: Optional[ClassesType] = None, text_keys: Sequence[str] = (),
                                 **kwargs) -> TextClassifier:
    """A :class:`TextClassifier` (through the registry) from a consumer's vocabulary config.

    ``splits`` / ``text_keys`` go to :func:`check_vocabulary` (the splits stay with the consumer); ``classes``
    replaces ``vocabulary['classes']`` (e.g. a training subset); ``kwargs`` are the consumer's own arguments of
    :class:`TextClassifier` (``background``, ``min_classes``, ``encoder``...).
    """
    vocabulary = check_vocabulary(vocabulary, consumer, splits, text_keys)
    for key in splits:
        vocabulary.pop(key, None)
    if classes is not None:
        vocabulary['classes'] = classes
    return MODELS.build(dict(type=TextClassifier, **vocabulary, **kwargs))


@MODELS.register_module()
class TextClassifier(BaseModule):
    """Class names -> unit text embeddings; features ``(..., D)`` -> class logits ``(..., C)``.

    The classes are parsed by :func:`~mmdistill.datasets.class_names.parse_classes` (synonyms ``'a;b'``). By
    default (no ``encoder``) every name is encoded once by the frozen text tower of ``text`` with the templates
    (:func:`~mmdistill.clip.text.build_text_classifier`: template mean, cached on disk; the tower is built only
    on a cache miss and not kept). Buffers (not saved in checkpoints):

    * ``name_embeddings`` ``(N, D)``: one row per name (synonyms included), ``name_to_class`` ``(N,)`` its class;
    * ``embeddings`` ``(C, D)``: one row per class, the renormalised mean of its names' rows (the name's own row
      for a class with one name); with ``background`` one more row, last.

    With ``encoder`` (a trainable text tower's ``forward``: prompts -> ``(P, D)`` unit rows, Cat-Seg) nothing is
    cached on disk: :meth:`template_embeddings` gives ``(C, T, D)`` per template, synonyms averaged.

    Args:
        classes: the classes in label order (any form of ``parse_classes``).
        text: ``dict(arch=..., checkpoint=...)``: the CLIP whose text tower embeds the names (unused with
            ``encoder``, which is that tower).
        templates: a registered template set or a list of templates with ``{}``.
        name_cleaner: ``'default'``, ``'coco_stuff'`` or ``'none'``.
        cache_dir: folder of the embedding cache.
        background: False, True (a last row for 'background') or the background's name.
        min_classes: fewest classes a vocabulary may have.
        this_is_prefix: 'This is ' before prompts starting with a / an / the; None: for 'vild' only.
        encoder: see above.
    """

    def __init__(self, classes: ClassesType, text: dict, templates: TemplatesType = 'vild',
                 name_cleaner: str = 'default', cache_dir: Optional[str] = None,
                 background: Union[bool, str] = False, min_classes: int = 1, this_is_prefix: Optional[bool] = None,
                 encoder: Optional[Callable[[list[str]], Tensor]] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if name_cleaner not in NAME_CLEANERS:
            raise ValueError(f'name_cleaner must be one of {sorted(NAME_CLEANERS)}, got {name_cleaner!r}')
        self.text_cfg = dict(text)
        self.templates = templates if isinstance(templates, str) else list(templates)
        self.num_templates = len(get_templates(templates))
        self.name_cleaner = name_cleaner
        self.cache_dir = cache_dir
        self.background = background
        self.min_classes = min_classes
        self.this_is_prefix = this_is_prefix
        self.encoder = encoder
        self.set_vocabulary(classes)

    # -------------------------------------------------------------- vocabulary
    @property
    def vocabulary(self) -> list[str]:
        """The classes in label order, synonyms joined by ``';'`` (accepted by :meth:`set_vocabulary`)."""
        return [';'.join(names) for names in self.classes]

    @property
    def num_classes(self) -> int:
        """``C``: the classes (without the background row)."""
        return len(self.classes)

    @property
    def names(self) -> list[str]:
        """Every name of every class, in class order (``N``)."""
        return [n for names in self.classes for n in names]

    @property
    def embed_dim(self) -> int:
        """``D`` of the frozen embeddings."""
        return self.name_embeddings.shape[-1]

    def set_vocabulary(self, classes: ClassesType) -> None:
        """Classify ``classes`` from now on; a bad vocabulary raises and leaves the current one in place."""
        parsed = parse_classes(classes, self.min_classes)
        name_to_class = torch.tensor([c for c, names in enumerate(parsed) for _ in names])
        if self.encoder is not None:
            self._set_live(parsed, name_to_class)
            return
        names = [n for entry in parsed for n in entry]
        arch, checkpoint = self.text_cfg['arch'], self.text_cfg.get('checkpoint')
        names_emb = build_text_classifier(
            lambda: build_clip_model(arch, checkpoint).eval(), build_tokenizer(arch), names,
            templates=self.templates, background=self.background, cache_dir=self.cache_dir,
            cache_key=model_identity(arch, checkpoint) if checkpoint is not None else None,
            this_is_prefix=self.this_is_prefix, name_cleaner=NAME_CLEANERS[self.name_cleaner])
        if self.background:  # the background row is a class of its own, last
            name_to_class = torch.cat([name_to_class, name_to_class.new_tensor([len(parsed)])])
        num_rows = len(parsed) + bool(self.background)
        if len(names_emb) == num_rows:
            embeddings = names_emb
        else:  # synonyms: the renormalised mean of the names' unit rows
            embeddings = F.normalize(names_emb.new_zeros(num_rows, names_emb.shape[1]).index_add(
                0, name_to_class, names_emb), dim=-1)
        device = self.name_embeddings.device if hasattr(self, 'name_embeddings') else torch.device('cpu')
        self.register_buffer('name_embeddings', names_emb.to(device), persistent=False)  # (N, D)
        self.register_buffer('name_to_class', name_to_class.to(device), persistent=False)  # (N,)
        self.register_buffer('embeddings', embeddings.to(device), persistent=False)  # (C, D)
        self.classes = parsed

    def _set_live(self, parsed: list[tuple[str, ...]], name_to_class: Tensor) -> None:
        """Prompts and their slots (class * T + template) for an ``encoder``; embeddings on demand."""
        cleaner = NAME_CLEANERS[self.name_cleaner]
        names = [n for entry in parsed for n in entry]
        prompts = build_prompts(names, self.templates, self.this_is_prefix, cleaner)
        t = self.num_templates
        self.prompts = [p for texts in prompts for p in texts]  # (P,) = N * T
        self.slots = (name_to_class[:, None] * t + torch.arange(t)).flatten()  # (P,)
        self.classes = parsed
        self.clear_cache()

    def clear_cache(self) -> None:
        """Forget the embeddings of a live encoder (its weights changed)."""
        self._cached: Optional[Tensor] = None

    def template_embeddings(self, cache: bool = True) -> Tensor:
        """``(C, T, D)`` unit embeddings of an ``encoder``: per template, the mean over a class's names.

        Recorded for gradients when grad mode is on; ``cache=True`` keeps the result until :meth:`clear_cache`
        or :meth:`set_vocabulary`.
        """
        if self.encoder is None:
            raise RuntimeError('template_embeddings needs an encoder (a live text tower)')
        if self._cached is not None:
            return self._cached
        embeddings = self.encoder(self.prompts)  # (P, D), unit rows
        slots = self.slots.to(embeddings.device)
        total = embeddings.new_zeros(self.num_classes * self.num_templates, embeddings.shape[1])
        total = F.normalize(total.index_add(0, slots, embeddings), dim=-1)
        total = total.view(self.num_classes, self.num_templates, -1)
        if cache:
            self._cached = total
        return total

    # ---------------------------------------------------------------- classify
    def forward(self, features: Tensor, dim: int = -1, per_name: bool = False) -> Tensor:
        """Dot products of ``features`` (unit or not) with the class rows.

        Args:
            features: ``(..., D, ...)`` with ``D`` at ``dim``.
            dim: the feature axis; the class axis takes its place.
            per_name: one output per name ``N`` (synonyms apart) instead of per class ``C`` (+ background).

        Returns:
            ``(..., C, ...)`` (or ``N``) in the features' dtype.
        """
        weight = (self.name_embeddings if per_name else self.embeddings).to(features.dtype)
        if dim % features.dim() == features.dim() - 1:
            return features @ weight.T
        return torch.einsum('bd...,nd->bn...', features.movedim(dim, 1), weight).movedim(1, dim)


__all__ = ['NAME_CLEANERS', 'VOCABULARY_KEYS', 'check_vocabulary', 'build_text_classifier_module', 'TextClassifier']
