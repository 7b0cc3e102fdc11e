"""Training-free open-vocabulary semantic segmentation (MaskCLIP-style) in mmseg 1.x.

Every pixel is classified by the cosine similarity between the tower's dense CLIP-space map and
the text embeddings of the vocabulary's names::

    p_n(x) = softmax_n(logit_scale * cos(dense(x), t_n))      over all names n of all classes
    P_c(x) = max_{n in names(c)} p_n(x)                        synonyms: max over the class's names

``P`` is computed on the dense grid (stride p), upsampled bilinearly to the input and handed to
mmseg's ``postprocess_result``, so ``pred_sem_seg`` / ``seg_logits`` come out at the original
image size and mmseg's ``IoUMetric`` works unchanged.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, OptSampleList, SampleList
from torch import Tensor

from ..clip.vocabulary import check_class_names, read_class_names, text_embeddings
from ..utils import module_device

ClassEntry = Union[str, Sequence[str]]
TEST_MODES = ('whole', 'slide')


def parse_vocabulary(classes: Union[str, dict, Sequence[ClassEntry]]) -> list[tuple[str, ...]]:
    """The names of every class, in label order.

    Args:
        classes: a list whose entries are a name, a list / tuple of synonyms or a string of
            synonyms separated by ``';'`` (``'dog;puppy'``); or a comma-separated string, a file
            or ``dict(dataset=TYPE)`` (see :func:`~mmdistill.clip.vocabulary.read_class_names`).

    Raises:
        ValueError: fewer than two classes, a class without a name, or a name given twice
            (synonyms included).
    """
    if isinstance(classes, (str, dict)):
        classes = read_class_names(classes)
    entries = []
    for i, entry in enumerate(classes):
        names = entry.split(';') if isinstance(entry, str) else entry
        names = tuple(n for n in (str(n).strip() for n in names) if n)
        if not names:
            raise ValueError(f'class {i} of the vocabulary ({entry!r}) has no name')
        entries.append(names)
    if not entries:
        raise ValueError('the vocabulary has no classes')
    if len(entries) == 1:
        raise ValueError(f'the vocabulary has one class ({entries[0]!r}); picking the best class per pixel '
                         'would give it every pixel: give at least two classes (e.g. add "background")')
    check_class_names([n for names in entries for n in names], 'the vocabulary (synonyms included)')
    return entries


def window_boxes(size: tuple[int, int], crop_size: tuple[int, int],
                 stride: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """``(y1, y2, x1, x2)`` of mmseg's sliding windows over an ``(H, W)`` input.

    Windows start every ``stride``; the last one of a row / column is shifted back to end at the
    border, so all windows have the size ``min(crop_size, size)`` and together cover the input.
    """
    (h, w), (hc, wc), (sh, sw) = size, crop_size, stride
    boxes = []
    for i in range(max(h - hc + sh - 1, 0) // sh + 1):
        for j in range(max(w - wc + sw - 1, 0) // sw + 1):
            y2, x2 = min(i * sh + hc, h), min(j * sw + wc, w)
            boxes.append((max(y2 - hc, 0), y2, max(x2 - wc, 0), x2))
    return boxes


def _check_test_cfg(test_cfg: Optional[dict]) -> ConfigDict:
    test_cfg = ConfigDict(test_cfg or dict(mode='whole'))
    test_cfg.setdefault('mode', 'whole')
    if test_cfg.mode not in TEST_MODES:
        raise ValueError(f'test_cfg.mode must be one of {TEST_MODES}, got {test_cfg.mode!r}')
    if test_cfg.mode == 'slide':
        for key in ('crop_size', 'stride'):
            value = test_cfg.get(key)
            if not isinstance(value, (tuple, list)) or len(value) != 2 or min(value) < 1:
                raise ValueError(f'test_cfg.mode="slide" needs {key}=(h, w) of positive integers, got {value!r}')
            test_cfg[key] = tuple(int(v) for v in value)
    return test_cfg


@MODELS.register_module()
class ZeroShotSegmentor(BaseSegmentor):
    """MaskCLIP-style segmentor: a frozen CLIP tower's dense map against text embeddings, no training.

    Args:
        tower: config of a ``CLIPTower`` (built with ``trainable='none'``); its ``dense_path``
            chooses the readout ('value' = MaskCLIP, 'sclip', 'clearclip', 'naclip', ...).
        vocabulary: ``dict(classes=..., text=dict(arch=..., checkpoint=..., templates=...,
            name_cleaner=...))``. ``classes`` in label order, each a name, a list of synonyms or
            ``'name;synonym'`` (see :func:`parse_vocabulary`); ``text`` goes to
            :func:`~mmdistill.clip.vocabulary.text_embeddings` (cached on disk).
        logit_scale: multiplies the cosine similarities before the softmax.
        background_threshold: if set, pixels whose highest class probability is below it get
            label 0, so class 0 of every vocabulary must then be the background class.
        test_cfg: ``dict(mode='whole')`` or ``dict(mode='slide', crop_size=(h, w), stride=(sh, sw))``.
    """

    def __init__(self, tower: ConfigType, vocabulary: dict, logit_scale: float = 50.0,
                 background_threshold: Optional[float] = None, test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None, init_cfg: OptMultiConfig = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.tower = MODELS.build(dict(tower, trainable='none'))
        self.text_cfg = dict(vocabulary['text'])
        self.logit_scale = logit_scale
        self.background_threshold = background_threshold
        self.test_cfg = _check_test_cfg(test_cfg)
        self.align_corners = False  # read by mmseg's postprocess_result
        self.set_vocabulary(vocabulary['classes'])

    # -------------------------------------------------------------- vocabulary
    @property
    def vocabulary(self) -> list[str]:
        """The classes in label order, synonyms joined by ``';'`` (accepted by :meth:`set_vocabulary`)."""
        return [';'.join(names) for names in self._class_names]

    @property
    def num_classes(self) -> int:
        return len(self._class_names)

    def set_vocabulary(self, classes: Union[str, dict, Sequence[ClassEntry]]) -> None:
        """Segment ``classes`` from now on (see :func:`parse_vocabulary`); the tower is kept."""
        class_names = parse_vocabulary(classes)
        names = [n for entry in class_names for n in entry]
        embeddings = text_embeddings(class_names=names, **self.text_cfg)
        if embeddings.shape[1] != self.tower.embed_dim:
            raise ValueError(f'the text embeddings of {self.text_cfg.get("arch")} have {embeddings.shape[1]} '
                             f'dimensions but the tower {self.tower.arch} gives {self.tower.embed_dim}')
        device = module_device(self.tower)
        name_to_class = torch.tensor([c for c, entry in enumerate(class_names) for _ in entry], device=device)
        self.register_buffer('text_embeddings', embeddings.to(device), persistent=False)  # (N, D)
        self.register_buffer('name_to_class', name_to_class, persistent=False)  # (N,)
        self._class_names = class_names

    # ------------------------------------------------------------------- dense
    def extract_feat(self, inputs: Tensor) -> Tensor:
        """Images ``(B, 3, H, W)`` -> L2-normalised CLIP-space map ``(B, D, H / p, W / p)``."""
        return self.tower(inputs).dense

    def class_probabilities(self, dense: Tensor) -> Tensor:
        """Dense map ``(B, D, h, w)`` -> class probabilities ``(B, C, h, w)``.

        Softmax of ``logit_scale * cos`` over all names, then the max over the names of each class.
        """
        logits = self.logit_scale * torch.einsum('bdhw,nd->bnhw', dense, self.text_embeddings.to(dense.dtype))
        probs = logits.softmax(dim=1)
        index = self.name_to_class.view(1, -1, 1, 1).expand_as(probs)
        out = probs.new_zeros(probs.shape[0], self.num_classes, *probs.shape[2:])
        return out.scatter_reduce(1, index, probs, reduce='amax')

    def encode_decode(self, inputs: Tensor, batch_img_metas: Optional[list[dict]] = None) -> Tensor:
        """Images ``(B, 3, H, W)`` -> class probabilities ``(B, C, H, W)``.

        The images are zero-padded (bottom / right) to whole patches for the tower; the probabilities
        are upsampled bilinearly to the padded size and cropped back.
        """
        h, w = inputs.shape[-2:]
        p = self.tower.stride
        padded = F.pad(inputs, (0, -w % p, 0, -h % p))
        probs = self.class_probabilities(self.extract_feat(padded))
        probs = F.interpolate(probs, size=padded.shape[-2:], mode='bilinear', align_corners=self.align_corners)
        return probs[..., :h, :w]

    def slide_inference(self, inputs: Tensor) -> Tensor:
        """Class probabilities ``(B, C, H, W)`` averaged over sliding windows of the batch ``(B, 3, H, W)``.

        All windows have one size (:func:`window_boxes`), so the windows of all images go through
        the tower in one forward.
        """
        b, _, h, w = inputs.shape
        boxes = window_boxes((h, w), self.test_cfg.crop_size, self.test_cfg.stride)
        crops = torch.stack([inputs[..., y1:y2, x1:x2] for y1, y2, x1, x2 in boxes], dim=1)  # (B, K, 3, hc, wc)
        probs = self.encode_decode(crops.flatten(0, 1)).unflatten(0, (b, len(boxes)))  # (B, K, C, hc, wc)
        total = inputs.new_zeros(b, self.num_classes, h, w)
        count = inputs.new_zeros(1, 1, h, w)
        for k, (y1, y2, x1, x2) in enumerate(boxes):
            total[..., y1:y2, x1:x2] += probs[:, k]
            count[..., y1:y2, x1:x2] += 1
        return total / count

    def inference(self, inputs: Tensor) -> Tensor:
        """Class probabilities ``(B, C, H, W)`` of the batch, by ``test_cfg.mode``."""
        if self.test_cfg.mode == 'slide':
            return self.slide_inference(inputs)
        return self.encode_decode(inputs)

    # ------------------------------------------------------------ mmseg entries
    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        """Segment a batch ``(B, 3, H, W)``; results at each sample's ``ori_shape`` (see ``postprocess_result``)."""
        return self.postprocess_result(self.inference(inputs), data_samples)

    def postprocess_result(self, seg_logits: Tensor, data_samples: OptSampleList = None) -> SampleList:
        """mmseg's unpadding, resizing and argmax; then label 0 where the top probability is below
        ``background_threshold``."""
        data_samples = super().postprocess_result(seg_logits, data_samples)
        if self.background_threshold is not None:
            for sample in data_samples:
                low = sample.seg_logits.data.max(dim=0, keepdim=True).values < self.background_threshold
                sample.pred_sem_seg.data[low] = 0
        return data_samples

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        """Class probabilities ``(B, C, H, W)`` at the input size."""
        return self.inference(inputs)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        raise NotImplementedError(f'{type(self).__name__} is training-free: it has no loss to train on; '
                                  'use it with tools/test.py or OVSegInferencer')
