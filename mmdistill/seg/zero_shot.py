"""Training-free open-vocabulary semantic segmentation (MaskCLIP / SCLIP / ClearCLIP / NACLIP) in mmseg 1.x.

Every pixel is classified by the cosine similarity between the tower's dense CLIP-space map and the text
embeddings of the vocabulary's names, in the order of the peers' benchmark protocol (SCLIP / ClearCLIP / NACLIP)::

    l_n^w = up_w(cos(dense(w), t_n))                  per window w: cosines on the patch grid, bilinear to w
    l_n(x) = 1 / |W(x)| * sum_{w in W(x)} l_n^w(x)    averaged over the windows covering x (whole: one window)
    l_n <- R(l_n)                                     resized to the original image; optional post-processing
                                                      (PAMR, with the image)
    p_n(x) = softmax_n(logit_scale * l_n(x))          one softmax over all names n of all classes
    P_c(x) = max_{n in names(c)} p_n(x)               synonyms: max over the class's names
    P_c <- 0 for c >= 1 if |{x: argmax P(x) = c}| <= area_threshold * |{x: argmax P(x) >= 1}|   (optional, SCLIP)
    y(x) = argmax_c P_c(x), or 0 (background) where max_c P_c(x) < background_threshold

``pred_sem_seg`` / ``seg_logits`` (the class probabilities) come out at the original image size, so mmseg's
``IoUMetric`` works unchanged. (An earlier order of this project took the softmax on each window's patch grid
and averaged upsampled probabilities; it gives other numbers on the same input and was dropped for the peers'.)
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, OptSampleList, SampleList
from torch import Tensor

from ..clip.vocabulary import build_text_classifier_module
from ..datasets.class_names import ClassesType
from ..utils import module_device
from .inference import check_test_cfg, slide_inference


def suppress_small_classes(probs: Tensor, threshold: float) -> Tensor:
    """SCLIP's area threshold on one image's class probabilities ``(C, H, W)``, class 0 = background.

    A class ``c >= 1`` keeps its probabilities only if more than ``threshold`` of the pixels whose argmax is not
    background have argmax ``c``; the others are zeroed (their pixels go to the next most probable class).
    """
    area = torch.bincount(probs.argmax(dim=0).flatten(), minlength=probs.shape[0])[1:]  # (C - 1,)
    keep = (area > threshold * area.sum()).to(probs.dtype)
    return torch.cat([probs[:1], probs[1:] * keep.view(-1, 1, 1)])


@MODELS.register_module()
class ZeroShotSegmentor(BaseSegmentor):
    """Training-free segmentor: a frozen CLIP tower's dense map against text embeddings (see the module's equations).

    Args:
        tower: config of a ``CLIPTower`` (built with ``trainable='none'``); its ``dense_path``
            chooses the readout ('value' = MaskCLIP, 'sclip', 'clearclip', 'naclip', ...).
        vocabulary: the vocabulary schema (:mod:`mmdistill.clip.vocabulary`, docs/vocabulary.md):
            ``dict(classes=..., text=dict(arch=..., checkpoint=...), templates=..., name_cleaner=...)``;
            ``classes`` in label order (at least two), each a name or synonyms ``'name;synonym'``, built into
            the :class:`~mmdistill.clip.vocabulary.TextClassifier` ``text`` (each name apart).
        logit_scale: multiplies the cosine similarities before the softmax.
        background_threshold: if set, pixels whose highest class probability is below it get
            label 0, so class 0 of every vocabulary must then be the background class.
        area_threshold: if set (SCLIP's ``area_thd``; class 0 = background), per image, the probabilities of a
            class other than 0 are zeroed when its argmax area is at most this fraction of the pixels whose
            argmax is not background (:func:`suppress_small_classes`), before the argmax and the background
            threshold.
        post_processor: a registered refinement ``(images (B, 3, H, W), cosines (B, N, H, W)) -> (B, N, H, W)``
            applied at the original image size before the softmax (e.g. ``dict(type='PAMR')``).
        test_cfg: ``dict(mode='whole')`` or ``dict(mode='slide', crop_size=(h, w), stride=(sh, sw))``
            (:func:`~mmdistill.seg.inference.check_test_cfg`).
    """

    def __init__(self, tower: ConfigType, vocabulary: dict, logit_scale: float = 50.0,
                 background_threshold: Optional[float] = None, post_processor: OptConfigType = None,
                 test_cfg: OptConfigType = None, area_threshold: Optional[float] = None,
                 data_preprocessor: OptConfigType = None, init_cfg: OptMultiConfig = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.tower = MODELS.build(dict(tower, trainable='none'))
        self.text = build_text_classifier_module(vocabulary, type(self).__name__, min_classes=2)
        self._check_dim()
        self.logit_scale = logit_scale
        self.background_threshold = background_threshold
        self.area_threshold = area_threshold
        self.post_processor = MODELS.build(post_processor) if post_processor else None
        self.test_cfg = check_test_cfg(test_cfg)
        self.align_corners = False  # read by mmseg's postprocess_result

    # -------------------------------------------------------------- vocabulary
    @property
    def vocabulary(self) -> list[str]:
        """The classes in label order, synonyms joined by ``';'`` (accepted by :meth:`set_vocabulary`)."""
        return self.text.vocabulary

    @property
    def num_classes(self) -> int:
        return self.text.num_classes

    def set_vocabulary(self, classes: ClassesType) -> None:
        """Segment ``classes`` from now on (any form of ``parse_classes``, two at least); the tower is kept."""
        self.text.set_vocabulary(classes)
        self._check_dim()

    def _check_dim(self) -> None:
        if self.text.embed_dim != self.tower.embed_dim:
            raise ValueError(f'the text embeddings of {self.text.text_cfg["arch"]} have {self.text.embed_dim} '
                             f'dimensions but the tower {self.tower.arch} gives {self.tower.embed_dim}')
        self.text.to(module_device(self.tower))

    # ------------------------------------------------------------------- dense
    def extract_feat(self, inputs: Tensor) -> Tensor:
        """Images ``(B, 3, H, W)`` -> L2-normalised CLIP-space map ``(B, D, H / p, W / p)``."""
        return self.tower(inputs).dense

    def name_logits(self, dense: Tensor) -> Tensor:
        """Dense map ``(B, D, h, w)`` -> cosine similarity with every name ``(B, N, h, w)``."""
        return self.text(dense, dim=1, per_name=True)

    def class_probabilities(self, logits: Tensor) -> Tensor:
        """Cosines ``(B, N, ...)`` -> class probabilities ``(B, C, ...)``.

        Softmax of ``logit_scale * cos`` over all names, then the max over the names of each class.
        """
        probs = (self.logit_scale * logits).softmax(dim=1)
        index = self.text.name_to_class.view(1, -1, *[1] * (probs.dim() - 2)).expand_as(probs)
        out = probs.new_zeros(probs.shape[0], self.num_classes, *probs.shape[2:])
        return out.scatter_reduce(1, index, probs, reduce='amax')

    def encode_decode(self, inputs: Tensor, batch_img_metas: Optional[list[dict]] = None) -> Tensor:
        """Images ``(B, 3, H, W)`` -> cosines with every name ``(B, N, H, W)`` at the input size.

        The images are zero-padded (bottom / right) to whole patches for the tower; the patch-grid map is
        upsampled bilinearly to the padded size and cropped back.
        """
        h, w = inputs.shape[-2:]
        p = self.tower.stride
        padded = F.pad(inputs, (0, -w % p, 0, -h % p))
        logits = F.interpolate(self.name_logits(self.extract_feat(padded)), size=padded.shape[-2:], mode='bilinear',
                               align_corners=self.align_corners)
        return logits[..., :h, :w]

    def inference(self, inputs: Tensor) -> Tensor:
        """Cosines ``(B, N, H, W)`` of the batch ``(B, 3, H, W)``, averaged over windows by ``test_cfg.mode``.

        All windows have one size, so the windows of all images go through the tower in one forward.
        """
        if self.test_cfg.mode == 'whole':
            return self.encode_decode(inputs)
        cfg = self.test_cfg
        return slide_inference(self.encode_decode, inputs, cfg.crop_size, cfg.stride, size=cfg.size,
                               global_view=cfg.global_view)

    def probabilities(self, logits: Tensor, images: Tensor) -> Tensor:
        """Averaged cosines ``(B, N, H, W)`` (see :meth:`inference`) and the images ``(B, 3, H, W)`` at their
        size -> class probabilities ``(B, C, H, W)``: post-processing, then the softmax and the synonyms' max."""
        if self.post_processor is not None:
            logits = self.post_processor(images, logits)
        return self.class_probabilities(logits)

    # ------------------------------------------------------------ mmseg entries
    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        """Segment a batch ``(B, 3, H, W)``; results at each sample's ``ori_shape``.

        mmseg's ``postprocess_result`` unpads and resizes the averaged cosines (and, for the post-processor, the
        images); then the class probabilities, their argmax and the background threshold.
        """
        samples = super().postprocess_result(self.inference(inputs), data_samples)
        images = [None] * len(samples)
        if self.post_processor is not None:
            metas = None if data_samples is None else [SegDataSample(metainfo=s.metainfo) for s in samples]
            images = [s.seg_logits.data[None] for s in super().postprocess_result(inputs, metas)]
        for sample, image in zip(samples, images):
            probs = self.probabilities(sample.seg_logits.data[None], image)[0]
            if self.area_threshold is not None:
                probs = suppress_small_classes(probs, self.area_threshold)
            top, label = probs.max(dim=0, keepdim=True)
            if self.background_threshold is not None:
                label[top < self.background_threshold] = 0
            sample.set_data(dict(seg_logits=PixelData(data=probs), pred_sem_seg=PixelData(data=label)))
        return samples

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        """Class probabilities ``(B, C, H, W)`` at the input size."""
        return self.probabilities(self.inference(inputs), inputs)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        raise NotImplementedError(f'{type(self).__name__} is training-free: it has no loss to train on; '
                                  'use it with tools/test.py or OVSegInferencer')
