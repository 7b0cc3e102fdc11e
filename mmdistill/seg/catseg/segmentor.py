"""Cat-Seg (Cho et al., CVPR 2024) in mmseg 1.x, fed by any CLIP tower.

A CLIP image tower gives the dense CLIP-space map and intermediate token maps, the CLIP text tower one
embedding per (class, template); :class:`~mmdistill.seg.catseg.head.CatSegHead` aggregates their cosine cost
volume into per-class logits, trained with a per-class sigmoid binary cross-entropy. In both towers only the
attention query and value projections train ("updated" Cat-Seg; ``text_tower.trainable_attention=()`` keeps
the text tower frozen: the "vanilla" variant of paper 001).
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from mmengine.runner.checkpoint import load_checkpoint
from mmseg.models.segmentors import BaseSegmentor
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, OptSampleList, SampleList, add_prefix
from torch import Tensor

from ...clip.text_tower import CLIPTextTower
from ...clip.vocabulary import LIVE_TEXT_KEYS, TextClassifier, build_text_classifier_module, check_vocabulary
from ...datasets.class_names import ClassesType, class_names
from ...datasets.zero_shot_splits import resolve_split
from ..inference import check_test_cfg, slide_inference
from .finetune import tune_attention

TEXT_PREFIX = 'text_tower.'


@MODELS.register_module()
class CatSegSegmentor(BaseSegmentor):
    """Cat-Seg: open-vocabulary segmentation by cost aggregation over a CLIP image and text tower.

    Args:
        tower: ``CLIPTower`` config (its ``checkpoint`` chooses the tower: base or distilled); its dense path gives
            the cost volume's image side.
        decode_head: ``CatSegHead`` config; its CLIP sizes, template count and class count are filled in.
        vocabulary: the vocabulary schema (:mod:`mmdistill.clip.vocabulary`, docs/vocabulary.md):
            ``dict(classes=..., unseen_classes=None, templates='scene', name_cleaner='default',
            text=dict(arch=..., checkpoint=..., trainable_attention=('q', 'v'), grad_checkpointing=False))``:
            the dataset's classes in label order (synonyms ``'tv;television'``); with ``unseen_classes`` (names
            or a split file) training uses the seen classes only (labels renumbered as ``SeenClassLabels``
            does). ``text`` builds the live text tower ``text_tower`` (``CLIPTextTower``) and its trainable
            projections (``()``: frozen, kept out of checkpoints); two text classifiers read it: ``train_text``
            (the training classes) and ``text`` (the test vocabulary, :meth:`set_vocabulary`).
        guidance_layers: tower blocks (0-indexed) whose tokens guide the decoder stages, shallow first.
        trainable_attention: image tower projections that train.
        checkpoint: a trained Cat-Seg checkpoint loaded at construction (evaluation configs).
        test_cfg: ``dict(mode='whole')`` or ``dict(mode='slide', size=(H, W), crop_size=(h, w), stride=(sh, sw))``:
            resize to ``size``, windows plus the whole image resized to one window (``global_view=False``
            drops it), their sigmoid probabilities averaged (windows with each other, then with the global
            view; :func:`~mmdistill.seg.inference.slide_inference`).
    """

    def __init__(self, tower: ConfigType, decode_head: ConfigType, vocabulary: dict,
                 guidance_layers: Sequence[int] = (3, 7), trainable_attention: Sequence[str] = ('q', 'v'),
                 checkpoint: Optional[str] = None, train_cfg: OptConfigType = None, test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None, init_cfg: OptMultiConfig = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.tower = MODELS.build(dict(tower, trainable='none'))
        tune_attention(self.tower.visual, trainable_attention)
        vocabulary = check_vocabulary(dict(vocabulary, templates=vocabulary.get('templates', 'scene')),
                                      type(self).__name__, ('unseen_classes', ), LIVE_TEXT_KEYS)
        text_cfg = dict(vocabulary['text'])
        text_attention = tuple(text_cfg.pop('trainable_attention', ('q', 'v')))
        self.text_tower = CLIPTextTower(**text_cfg, trainable=False)
        tune_attention(self.text_tower.clip, text_attention)
        self.text_trainable = bool(text_attention)
        bad = [i for i in guidance_layers if not -self.tower.num_blocks <= i < self.tower.num_blocks]
        if bad:
            raise ValueError(f'guidance_layers {bad} out of range for {self.tower.arch} '
                             f'({self.tower.num_blocks} blocks)')
        self.guidance_layers = tuple(guidance_layers)
        classes = class_names(vocabulary['classes'])
        unseen = vocabulary.get('unseen_classes')
        train_classes = resolve_split(unseen, classes)[0] if unseen else classes

        def text_classifier(names: list[str]) -> TextClassifier:
            return build_text_classifier_module(vocabulary, type(self).__name__, ('unseen_classes', ), names,
                                                text_keys=LIVE_TEXT_KEYS, encoder=self.text_tower.forward,
                                                this_is_prefix=False)

        self.train_text = text_classifier(train_classes)
        self.text = text_classifier(classes)
        self.decode_head = MODELS.build(dict(
            decode_head, in_channels=self.tower.embed_dim, guidance_channels=self.tower.width,
            num_templates=self.text.num_templates, num_classes=len(train_classes)))
        self.decode_head.check_num_classes(self.train_text.num_classes)
        self.decode_head.check_num_classes(self.text.num_classes)
        self.align_corners = self.decode_head.align_corners  # read by postprocess_result
        self.train_cfg, self.test_cfg = train_cfg, check_test_cfg(test_cfg, global_view=True)
        self._register_state_dict_hook(_drop_frozen_text_tower)
        self.register_load_state_dict_post_hook(_after_load)
        if checkpoint is not None:
            load_checkpoint(self, checkpoint, map_location='cpu', strict=True)

    # -------------------------------------------------------------- vocabulary
    def set_vocabulary(self, classes: ClassesType) -> None:
        """Segment ``classes`` (any form of ``parse_classes``) from now on."""
        self.decode_head.check_num_classes(len(class_names(classes)))
        self.text.set_vocabulary(classes)

    @property
    def vocabulary(self) -> list[str]:
        """The test classes in label order, synonyms joined by ``';'``."""
        return self.text.vocabulary

    @property
    def num_classes(self) -> int:
        return self.text.num_classes

    def text_features(self, text: TextClassifier) -> Tensor:
        """``(C, T, D)`` unit embeddings of ``text``'s classes: per template, the mean over a class's names
        (Cat-Seg's synonyms). Cached while the text tower cannot change (frozen, or not training)."""
        trains = self.training and self.text_trainable
        with torch.set_grad_enabled(trains and torch.is_grad_enabled()):
            return text.template_embeddings(cache=not trains)

    def _clear_text_cache(self) -> None:
        for text in (self.train_text, self.text):
            text.clear_cache()

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

    def logits(self, inputs: Tensor, text: TextClassifier) -> Tensor:
        """Images ``(B, 3, H, W)`` -> per-class logits ``(B, C, h', w')`` of ``text``'s classes (the decoder's
        resolution)."""
        text = self.text_features(text)
        dense, layers = self.extract_feat(inputs)
        return self.decode_head((dense, layers, text[None].expand(inputs.shape[0], -1, -1, -1)))

    def encode_decode(self, inputs: Tensor, batch_img_metas: Optional[list[dict]] = None) -> Tensor:
        """Images ``(B, 3, H, W)`` -> logits ``(B, C, H, W)`` over the test vocabulary."""
        return resize(self.logits(inputs, self.text), size=inputs.shape[-2:], mode='bilinear',
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
        text = self.text_features(self.train_text)
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
