"""Cat-Seg (Cho et al., CVPR 2024) in mmseg 1.x, fed by any CLIP tower.

A CLIP image tower gives the dense CLIP-space map and intermediate token maps, the CLIP text tower one
embedding per (class, template); :class:`~mmdistill.seg.catseg.head.CatSegHead` aggregates their cosine cost
volume into per-class logits, trained with a per-class sigmoid binary cross-entropy. In both towers only the
attention query and value projections train ("updated" Cat-Seg; ``text_tower.trainable_attention=()`` keeps
the text tower frozen: the "vanilla" variant of paper 001).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.runner.checkpoint import load_checkpoint
from mmseg.models.segmentors import BaseSegmentor
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, OptSampleList, SampleList, add_prefix
from torch import Tensor

from ...clip.text import build_prompts, get_templates
from ...clip.text_tower import CLIPTextTower
from ...clip.vocabulary import NAME_CLEANERS
from ...datasets.zero_shot_splits import resolve_split
from ..inference import check_test_cfg, slide_inference
from ..zero_shot import ClassEntry, parse_vocabulary
from .finetune import tune_attention

TEXT_PREFIX = 'text_tower.'


@dataclass
class PromptSet:
    """The prompts of a vocabulary: every (class, synonym, template), and where each one's embedding goes."""

    names: list[tuple[str, ...]]  # per class, its names
    prompts: list[str]  # (P,)
    slots: Tensor  # (P,) class * T + template
    embeddings: Optional[Tensor] = None  # (C, T, D), cached while the text tower does not change

    @property
    def num_classes(self) -> int:
        return len(self.names)


@MODELS.register_module()
class CatSegSegmentor(BaseSegmentor):
    """Cat-Seg: open-vocabulary segmentation by cost aggregation over a CLIP image and text tower.

    Args:
        tower: ``CLIPTower`` config (its ``checkpoint`` chooses the tower: base or distilled); its dense path gives
            the cost volume's image side.
        text_tower: ``dict(arch=..., checkpoint=..., trainable_attention=('q', 'v'))``: the CLIP text tower
            (``CLIPTextTower``) and its trainable projections (``()``: frozen, kept out of checkpoints).
        decode_head: ``CatSegHead`` config; its CLIP sizes, template count and class count are filled in.
        vocabulary: ``dict(classes=..., unseen_classes=None, templates='scene', name_cleaner='default')``: the
            dataset's classes in label order (entries with synonyms: ``'tv;television'``, see
            :func:`~mmdistill.seg.zero_shot.parse_vocabulary`); with ``unseen_classes`` (names or a split
            file) training uses the seen classes only (labels renumbered as ``SeenClassLabels`` does).
        guidance_layers: tower blocks (0-indexed) whose tokens guide the decoder stages, shallow first.
        trainable_attention: image tower projections that train.
        checkpoint: a trained Cat-Seg checkpoint loaded at construction (evaluation configs).
        test_cfg: ``dict(mode='whole')`` or ``dict(mode='slide', size=(H, W), crop_size=(h, w), stride=(sh, sw))``:
            resize to ``size``, windows plus the whole image resized to one window (``global_view=False``
            drops it), their sigmoid probabilities averaged (windows with each other, then with the global
            view; :func:`~mmdistill.seg.inference.slide_inference`).
    """

    def __init__(self, tower: ConfigType, text_tower: dict, decode_head: ConfigType, vocabulary: dict,
                 guidance_layers: Sequence[int] = (3, 7), trainable_attention: Sequence[str] = ('q', 'v'),
                 checkpoint: Optional[str] = None, train_cfg: OptConfigType = None, test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None, init_cfg: OptMultiConfig = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.tower = MODELS.build(dict(tower, trainable='none'))
        tune_attention(self.tower.visual, trainable_attention)
        text_cfg = dict(text_tower)
        text_attention = tuple(text_cfg.pop('trainable_attention', ('q', 'v')))
        self.text_tower = CLIPTextTower(**text_cfg, trainable=False)
        tune_attention(self.text_tower.clip, text_attention)
        self.text_trainable = bool(text_attention)
        bad = [i for i in guidance_layers if not -self.tower.num_blocks <= i < self.tower.num_blocks]
        if bad:
            raise ValueError(f'guidance_layers {bad} out of range for {self.tower.arch} '
                             f'({self.tower.num_blocks} blocks)')
        self.guidance_layers = tuple(guidance_layers)
        self.templates = get_templates(vocabulary.get('templates', 'scene'))
        cleaner = vocabulary.get('name_cleaner', 'default')
        if cleaner not in NAME_CLEANERS:
            raise ValueError(f'vocabulary.name_cleaner must be one of {sorted(NAME_CLEANERS)}, got {cleaner!r}')
        self.name_cleaner = NAME_CLEANERS[cleaner]
        classes = [';'.join(names) for names in parse_vocabulary(vocabulary['classes'])]
        unseen = vocabulary.get('unseen_classes')
        train_classes = resolve_split(unseen, classes)[0] if unseen else classes
        self.decode_head = MODELS.build(dict(
            decode_head, in_channels=self.tower.embed_dim, guidance_channels=self.tower.width,
            num_templates=len(self.templates), num_classes=len(train_classes)))
        self.align_corners = self.decode_head.align_corners  # read by postprocess_result
        self.train_cfg, self.test_cfg = train_cfg, check_test_cfg(test_cfg, global_view=True)
        self.train_prompts = self.prompt_set(train_classes)
        self.set_vocabulary(classes)
        self._register_state_dict_hook(_drop_frozen_text_tower)
        self.register_load_state_dict_post_hook(_after_load)
        if checkpoint is not None:
            load_checkpoint(self, checkpoint, map_location='cpu', strict=True)

    # -------------------------------------------------------------- vocabulary
    def prompt_set(self, classes: Union[str, dict, Sequence[ClassEntry]]) -> PromptSet:
        """The prompts of ``classes`` (see :func:`parse_vocabulary`) with the configured templates."""
        names = parse_vocabulary(classes)
        self.decode_head.check_num_classes(len(names))
        flat = [n for entry in names for n in entry]
        prompts = build_prompts(flat, self.templates, this_is_prefix=False, name_cleaner=self.name_cleaner)
        num_templates = len(self.templates)
        slots = torch.tensor([c * num_templates + t for c, entry in enumerate(names) for _ in entry
                              for t in range(num_templates)])
        return PromptSet(names, [p for texts in prompts for p in texts], slots)

    def set_vocabulary(self, classes: Union[str, dict, Sequence[ClassEntry]]) -> None:
        """Segment ``classes`` from now on (a list, comma-separated string, file or ``dict(dataset=...)``)."""
        self.test_prompts = self.prompt_set(classes)

    @property
    def vocabulary(self) -> list[str]:
        """The test classes in label order, synonyms joined by ``';'``."""
        return [';'.join(names) for names in self.test_prompts.names]

    @property
    def num_classes(self) -> int:
        return self.test_prompts.num_classes

    def text_features(self, prompt_set: PromptSet) -> Tensor:
        """``(C, T, D)`` unit embeddings: per template, the mean over a class's names (Cat-Seg's synonyms).

        Cached while the text tower cannot change (frozen, or not training).
        """
        if prompt_set.embeddings is not None:
            return prompt_set.embeddings
        with torch.set_grad_enabled(self.training and self.text_trainable and torch.is_grad_enabled()):
            embeddings = self.text_tower(prompt_set.prompts)  # (P, D), unit rows
            slots = prompt_set.slots.to(embeddings.device)
            total = embeddings.new_zeros(prompt_set.num_classes * len(self.templates), embeddings.shape[1])
            total = F.normalize(total.index_add(0, slots, embeddings), dim=-1)
        total = total.view(prompt_set.num_classes, len(self.templates), -1)
        if not (self.training and self.text_trainable):
            prompt_set.embeddings = total
        return total

    def _clear_text_cache(self) -> None:
        for prompt_set in (self.train_prompts, self.test_prompts):
            prompt_set.embeddings = None

    def train(self, mode: bool = True) -> CatSegSegmentor:
        super().train(mode)
        if self.text_trainable:
            self._clear_text_cache()
        return self

    # ------------------------------------------------------------------- model
    def extract_feat(self, inputs: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Images ``(B, 3, H, W)`` -> dense map ``(B, D, h, w)`` and the guidance layers ``[(B, W, h, w)]``."""
        out = self.tower(inputs, dense=True, layers=self.guidance_layers)
        return out.dense, [out.layers[i % self.tower.num_blocks] for i in self.guidance_layers]

    def logits(self, inputs: Tensor, prompt_set: PromptSet) -> Tensor:
        """Images ``(B, 3, H, W)`` -> per-class logits ``(B, C, h', w')`` (the decoder's resolution)."""
        text = self.text_features(prompt_set)
        dense, layers = self.extract_feat(inputs)
        return self.decode_head((dense, layers, text[None].expand(inputs.shape[0], -1, -1, -1)))

    def encode_decode(self, inputs: Tensor, batch_img_metas: Optional[list[dict]] = None) -> Tensor:
        """Images ``(B, 3, H, W)`` -> logits ``(B, C, H, W)`` over the test vocabulary."""
        return resize(self.logits(inputs, self.test_prompts), size=inputs.shape[-2:], mode='bilinear',
                      align_corners=self.align_corners)

    def inference(self, inputs: Tensor) -> Tensor:
        """Sigmoid probabilities ``(B, C, H, W)`` of the batch by ``test_cfg`` (every image on its own)."""
        def encode(views: Tensor) -> Tensor:
            return self.encode_decode(views).sigmoid()

        if self.test_cfg.mode == 'whole':
            return encode(inputs)
        cfg = self.test_cfg
        return slide_inference(encode, inputs, cfg.crop_size, cfg.stride, size=cfg.size or tuple(inputs.shape[-2:]),
                               global_view=cfg.global_view)

    # ------------------------------------------------------------ mmseg entries
    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Per-class sigmoid BCE (``decode_head.loss_decode``) over the training vocabulary."""
        text = self.text_features(self.train_prompts)
        dense, layers = self.extract_feat(inputs)
        feats = (dense, layers, text[None].expand(inputs.shape[0], -1, -1, -1))
        return add_prefix(self.decode_head.loss(feats, data_samples, self.train_cfg), 'decode')

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        """Segment a batch ``(B, 3, H, W)``; results at each sample's ``ori_shape``."""
        return self.postprocess_result(self.inference(inputs), data_samples)

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        """Probabilities ``(B, C, H, W)`` at the input size."""
        return self.inference(inputs)


def _drop_frozen_text_tower(module: CatSegSegmentor, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    """A frozen text tower comes from its own checkpoint: keep it out of Cat-Seg checkpoints."""
    if not module.text_trainable:
        for key in [k for k in state_dict if k.startswith(prefix + TEXT_PREFIX)]:
            del state_dict[key]


def _after_load(module: CatSegSegmentor, incompatible_keys) -> None:
    """Forgive a frozen text tower's missing keys; new weights invalidate the cached text embeddings."""
    if not module.text_trainable:
        missing = incompatible_keys.missing_keys
        missing[:] = [k for k in missing if not (k.startswith(TEXT_PREFIX) or '.' + TEXT_PREFIX in k)]
    module._clear_text_cache()
