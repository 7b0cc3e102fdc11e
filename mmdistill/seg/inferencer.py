"""Segmentation with a user vocabulary: mmseg's ``MMSegInferencer`` for open-vocabulary segmentors."""
from __future__ import annotations

import colorsys
import os.path as osp
from typing import Optional, Sequence, Union

import mmcv
import numpy as np
from mmengine.config import Config
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from mmseg.apis import MMSegInferencer
from PIL import Image, ImageDraw, ImageFont
from torch import nn

GOLDEN_RATIO = 0.618033988749895


def vocabulary_palette(num_classes: int) -> list[list[int]]:
    """``num_classes`` distinct RGB colours: hues a golden-ratio step apart, two brightness levels."""
    return [[round(255 * c) for c in colorsys.hsv_to_rgb(i * GOLDEN_RATIO % 1.0, 0.75, 0.95 - 0.25 * (i % 2))]
            for i in range(num_classes)]


def add_legend(overlay: np.ndarray, labels: Sequence[int], classes: Sequence[str],
               palette: Sequence[Sequence[int]]) -> np.ndarray:
    """The RGB ``overlay (H, W, 3)`` with a white legend strip on its right: a colour swatch and the
    name of every class in ``labels``.

    The overlay keeps its size and position (top-left); the picture is ``(max(H, h_legend), W + w_legend, 3)``.
    """
    font = ImageFont.load_default()
    texts = [classes[i] for i in labels]
    row = max(font.getbbox(t)[3] for t in texts) + 6
    margin, swatch = 4, row - 4
    width = margin * 3 + swatch + max(font.getbbox(t)[2] for t in texts)
    height, w = overlay.shape[:2]
    picture = Image.new('RGB', (w + width, max(height, 2 * margin + row * len(texts))), 'white')
    picture.paste(Image.fromarray(overlay), (0, 0))
    draw = ImageDraw.Draw(picture)
    for k, (label, text) in enumerate(zip(labels, texts)):
        x, y = w + margin, margin + k * row
        draw.rectangle((x, y, x + swatch - 1, y + swatch - 1), fill=tuple(palette[label]), outline='black')
        draw.text((x + swatch + margin, y), text, fill='black', font=font)
    return np.asarray(picture)


class OVSegInferencer(MMSegInferencer):
    """``MMSegInferencer`` whose class names come from the user (no retraining), pictures with a legend.

    Example:
        >>> inferencer = OVSegInferencer('configs/maskclip/maskclip_tinyclip-p12_synthetic-192.py',
        ...                              texts='grass,sky,red circle;red disc')
        >>> inferencer('demo.png', out_dir='outputs')  # outputs/vis/demo.png, outputs/pred/00000000_pred.png

    Args:
        model: config (file) of an open-vocabulary segmentor such as ``ZeroShotSegmentor``.
        weights: a checkpoint, or ``None`` for training-free models (their weights come from the config).
        texts: class names in any form of :func:`~mmdistill.datasets.class_names.parse_classes` (a list, a
            comma-separated string, a file; synonyms joined by ``';'``); ``None`` keeps the config's vocabulary.
        device: e.g. ``'cuda:0'`` or ``'cpu'`` (default: CUDA if available).
    """

    def __init__(self, model: Union[str, dict, Config], weights: Optional[str] = None,
                 texts: Union[None, str, Sequence[str]] = None, device: Optional[str] = None) -> None:
        super().__init__(model=model, weights=weights, device=device, scope='mmseg')
        if not hasattr(self.model, 'set_vocabulary'):
            raise TypeError(f'{type(self.model).__name__} has no vocabulary to set; OVSegInferencer needs an '
                            'open-vocabulary segmentor such as ZeroShotSegmentor')
        if texts is not None:
            self.model.set_vocabulary(texts)
        self._update_meta()

    def _load_weights_to_model(self, model: nn.Module, checkpoint: Optional[dict], cfg: Optional[Config]) -> None:
        """Load ``checkpoint`` if given; the class names come from the vocabulary, not the checkpoint."""
        if checkpoint is not None:
            _load_checkpoint_to_model(model, checkpoint)

    def set_vocabulary(self, texts: Union[str, Sequence[str]]) -> list[str]:
        """Segment the classes ``texts`` names from now on; returns them (synonyms joined by ``';'``)."""
        self.model.set_vocabulary(texts)
        return self._update_meta()

    def _update_meta(self) -> list[str]:
        """The model's ``dataset_meta`` (read by the visualizer) from its vocabulary, with a palette of its size."""
        classes = self.model.vocabulary
        self.model.dataset_meta = dict(classes=classes, palette=vocabulary_palette(len(classes)))
        return classes

    def visualize(self, inputs: list, preds: list, return_vis: bool = False, show: bool = False,
                  wait_time: int = 0, img_out_dir: str = '', opacity: float = 0.8,
                  with_labels: Optional[bool] = False) -> Optional[list[np.ndarray]]:
        """mmseg's overlay (the image's size) with a legend of the classes present on its right
        (:func:`add_legend`); written to ``img_out_dir`` under the input's file name."""
        if not show and img_out_dir == '' and not return_vis:
            return None
        first = self.num_visualized_imgs
        overlays = super().visualize(inputs, preds, return_vis=True, opacity=opacity, with_labels=with_labels)
        meta = self.model.dataset_meta
        pictures = []
        for k, (single_input, overlay, pred) in enumerate(zip(inputs, overlays, preds)):
            labels = np.unique(pred.pred_sem_seg.data.cpu().numpy()).tolist()
            picture = add_legend(overlay, labels, meta['classes'], meta['palette'])
            name = osp.basename(single_input) if isinstance(single_input, str) else f'{first + k:08d}_vis.jpg'
            if show:
                self.visualizer.show(picture, win_name=name, wait_time=wait_time)
            if img_out_dir:
                mmcv.imwrite(picture[..., ::-1], osp.join(img_out_dir, name))
            pictures.append(picture)
        return pictures if return_vis else None
