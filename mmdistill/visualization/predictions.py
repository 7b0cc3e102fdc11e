"""Pictures of open-vocabulary predictions on a few test images: detections and segments."""
from __future__ import annotations

import os
import os.path as osp
import tempfile
from typing import Optional, Sequence

import mmcv
import numpy as np
from mmengine.config import Config

from ..datasets.label_maps import read_label_map


def upscaled_test_images(cfg: Config, folder_key: str, num_images: int, upscale: int, out_dir: str) -> list[str]:
    """The first ``num_images`` test images of ``cfg``, upscaled ``upscale`` times (so that names drawn on
    them stay readable) and written to ``out_dir``; returns their paths.

    (Inferencers take file paths as BGR on disk; arrays would be drawn with red and blue swapped.)
    """
    dataset = cfg.test_dataloader.dataset
    folder = osp.join(dataset.data_root, dataset.data_prefix[folder_key])
    names = sorted(os.listdir(folder))[:num_images]
    if not names:
        raise FileNotFoundError(f'no test images in {folder}')
    paths = [osp.join(out_dir, n) for n in names]
    for name, path in zip(names, paths):
        mmcv.imwrite(mmcv.imrescale(mmcv.imread(osp.join(folder, name)), upscale), path)
    return paths


def save_picture(pictures: list[np.ndarray], out_file: str, what: str, title: str) -> str:
    """RGB pictures side by side -> ``out_file``."""
    os.makedirs(osp.dirname(out_file) or '.', exist_ok=True)
    mmcv.imwrite(mmcv.rgb2bgr(np.concatenate(pictures, axis=1)), out_file)
    print(f'{what}{" of " + title if title else ""}: {out_file}')
    return out_file


def draw_detections(cfg: Config, checkpoint: str, out_file: str, num_images: int = 4, upscale: int = 4,
                    score_thr: float = 0.3, title: str = '') -> str:
    """Run the detector of ``cfg`` + ``checkpoint`` on the first test images; save named boxes as one PNG."""
    from ..det.inferencer import OVDetInferencer
    inferencer = OVDetInferencer(cfg, checkpoint, show_progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        images = upscaled_test_images(cfg, 'img', num_images, upscale, tmp)
        result = inferencer(images, return_vis=True, pred_score_thr=score_thr, no_save_pred=True)
    return save_picture(result['visualization'], out_file, 'detections', title)


def draw_segmentation(cfg: Config, out_file: str, num_images: int = 1, upscale: int = 4, title: str = '') -> str:
    """Segment the first test images of ``cfg`` (training-free); save the overlays with their legends."""
    from ..seg.inferencer import OVSegInferencer
    inferencer = OVSegInferencer(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        images = upscaled_test_images(cfg, 'img_path', num_images, upscale, tmp)
        pictures = [inferencer(image, return_vis=True)['visualization'] for image in images]
    return save_picture(pictures, out_file, 'segmentation', title)


def colour_labels(image: np.ndarray, labels: np.ndarray, palette: Sequence[Sequence[int]], opacity: float = 0.6,
                  ignore_index: int = 255) -> np.ndarray:
    """RGB ``image (H, W, 3)`` blended with the colour of each pixel's label ``(H, W)``; ignored pixels unchanged."""
    colours = np.asarray(palette, dtype=np.float32)[np.where(labels == ignore_index, 0, labels)]
    out = np.where((labels == ignore_index)[..., None], image, (1 - opacity) * image + opacity * colours)
    return out.astype(np.uint8)


def unseen_rich_images(cfg: Config, num_images: int) -> list[tuple[str, np.ndarray]]:
    """``(image path, label map)`` of the ``num_images`` test images with the most pixels of unseen classes."""
    from ..datasets.zero_shot_splits import resolve_split
    dataset = cfg.test_dataloader.dataset
    classes = list(dataset.metainfo['classes'])
    _, unseen = resolve_split(cfg.test_evaluator.unseen_classes, classes)
    unseen_ids = [classes.index(c) for c in unseen]
    ann_dir = osp.join(dataset.data_root, dataset.data_prefix['seg_map_path'])
    img_dir = osp.join(dataset.data_root, dataset.data_prefix['img_path'])
    suffix, img_suffix = dataset.get('seg_map_suffix', '.png'), dataset.get('img_suffix', '.jpg')
    names = sorted(n for n in os.listdir(ann_dir) if n.endswith(suffix))
    if not names:
        raise FileNotFoundError(f'no label maps ending in {suffix} in {ann_dir}')
    labels = {n: read_label_map(osp.join(ann_dir, n)) for n in names}
    best = sorted(names, key=lambda n: -int(np.isin(labels[n], unseen_ids).sum()))[:num_images]
    return [(osp.join(img_dir, n[:-len(suffix)] + img_suffix), labels[n]) for n in best]


def draw_segmentation_comparison(models: list[tuple[str, Config, Optional[str]]], out_file: str,
                                 num_images: int = 3, upscale: int = 4) -> str:
    """The ground truth and each model's prediction, side by side, on the test images of the first config with
    the most unseen-class pixels; one legend (unseen classes marked ``*``).

    Args:
        models: ``(label, config, checkpoint)`` of segmentors with a vocabulary (the same test classes).
    """
    from ..datasets.zero_shot_splits import resolve_split
    from ..seg.inferencer import OVSegInferencer, add_legend, vocabulary_palette
    cfg = models[0][1]
    classes = list(cfg.test_dataloader.dataset.metainfo['classes'])
    _, unseen = resolve_split(cfg.test_evaluator.unseen_classes, classes)
    palette = vocabulary_palette(len(classes))
    inferencers = [OVSegInferencer(model_cfg, weights=checkpoint) for _, model_cfg, checkpoint in models]
    rows, present = [], set()
    for path, truth in unseen_rich_images(cfg, num_images):
        image = mmcv.imread(path, channel_order='rgb')
        maps = [truth] + [inf(path, return_datasamples=True).pred_sem_seg.data[0].cpu().numpy() for inf in inferencers]
        present.update(int(v) for m in maps for v in np.unique(m) if v != 255)
        tiles = [image] + [colour_labels(image, m, palette) for m in maps]
        rows.append(np.concatenate([mmcv.imrescale(t, upscale, interpolation='nearest') for t in tiles], axis=1))
    grid = np.concatenate(rows, axis=0)
    headers = ['image', 'ground truth'] + [label for label, _, _ in models]
    grid = np.concatenate([column_headers(headers, grid.shape[1], 18), grid], axis=0)
    names = [f'{c} *' if c in unseen else c for c in classes]
    return save_picture([add_legend(grid, sorted(present), names, palette)], out_file, 'unseen-class comparison', '')


def column_headers(texts: Sequence[str], width: int, height: int) -> np.ndarray:
    """A white ``(height, width, 3)`` strip with ``texts`` centred over equal columns."""
    from PIL import Image, ImageDraw, ImageFont
    strip = Image.new('RGB', (width, height), 'white')
    draw, font = ImageDraw.Draw(strip), ImageFont.load_default()
    column = width / len(texts)
    for k, text in enumerate(texts):
        draw.text((k * column + (column - font.getbbox(text)[2]) / 2, 3), text, fill='black', font=font)
    return np.asarray(strip)
