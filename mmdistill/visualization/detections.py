"""A picture of open-vocabulary detections: a few val images with named boxes, side by side."""
from __future__ import annotations

import os
import os.path as osp

import mmcv
import numpy as np
from mmengine.config import Config


def draw_detections(cfg: Config, checkpoint: str, out_file: str, num_images: int = 4, upscale: int = 4,
                    score_thr: float = 0.3, title: str = '') -> str:
    """Run the detector of ``cfg`` + ``checkpoint`` on the first images of its test set; save one PNG.

    Images are upscaled ``upscale`` times before drawing so that the class names stay readable.
    """
    from ..det.inferencer import OVDetInferencer
    dataset = cfg.test_dataloader.dataset
    folder = osp.join(dataset.data_root, dataset.data_prefix.img)
    names = sorted(os.listdir(folder))[:num_images]
    if not names:
        raise FileNotFoundError(f'no test images in {folder}')
    images = [mmcv.imrescale(mmcv.imread(osp.join(folder, n)), upscale) for n in names]
    inferencer = OVDetInferencer(cfg, checkpoint, show_progress=False)
    result = inferencer(images, return_vis=True, pred_score_thr=score_thr, no_save_pred=True)
    picture = np.concatenate(result['visualization'], axis=1)  # RGB
    os.makedirs(osp.dirname(out_file) or '.', exist_ok=True)
    mmcv.imwrite(mmcv.rgb2bgr(picture), out_file)
    print(f'detections{" of " + title if title else ""}: {out_file}')
    return out_file
