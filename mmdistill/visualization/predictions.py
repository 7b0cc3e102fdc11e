"""Pictures of open-vocabulary predictions on a few test images: detections and segments."""
from __future__ import annotations

import os
import os.path as osp
import tempfile

import mmcv
import numpy as np
from mmengine.config import Config


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
