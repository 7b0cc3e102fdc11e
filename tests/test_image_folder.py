"""ImageFolderDataset: every image of a folder, unlabelled, through the distiller's data pipeline."""
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

import mmdistill  # noqa: F401
from mmdistill.registry import DATASETS, MODELS

CONFIG = 'configs/atas/atas_vitb16_openai_image-folder.py'


def make_folder(root: str) -> list[str]:
    rng = np.random.default_rng(0)
    names = ['b.png', 'a.JPG', osp.join('sub', 'c.jpeg'), osp.join('sub', 'deeper', 'd.bmp')]
    for i, name in enumerate(names):
        mmcv.imwrite(rng.integers(0, 256, (40 + 8 * i, 56, 3), dtype=np.uint8), osp.join(root, name))
    with open(osp.join(root, 'notes.txt'), 'w') as f:
        f.write('not an image')
    return sorted(names)


def folder_dataset(root: str, **options):
    cfg = Config.fromfile(CONFIG).train_dataloader.dataset
    cfg.data_root = root
    cfg.update(options)
    return DATASETS.build(cfg)


def test_every_image_of_the_folder_through_the_pipeline(tmp_path):
    names = make_folder(str(tmp_path))
    dataset = folder_dataset(str(tmp_path))
    assert len(dataset) == 4
    assert [dataset.get_data_info(i)['img_path'] for i in range(4)] == [osp.join(str(tmp_path), n) for n in names]
    item = dataset[0]  # a.JPG: 48 x 56
    assert item['inputs'].shape == (3, 48, 56) and item['data_samples'].img_id == 0
    assert len(folder_dataset(str(tmp_path), recursive=False)) == 2
    # one ATAS step (the world's model on a tiny tower) on the folder's images
    model_cfg = Config.fromfile('configs/atas/atas_synthetic.py').model
    model_cfg.student.arch, model_cfg.student.checkpoint = 'mmdistill-tiny-ViT-P8', None
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    data = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(4)]), True)
    losses = model.loss(**data)
    assert {'loss_g2l', 'loss_l2l', 'loss_g2g'} <= set(losses) and all(torch.isfinite(v) for v in losses.values())


def test_missing_or_empty_folder_is_an_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'nowhere'}.*not found"):
        folder_dataset(str(tmp_path / 'nowhere'))
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'empty' / 'readme.txt').write_text('no images here')
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'empty'}.*holds no images"):
        folder_dataset(str(tmp_path / 'empty'))
