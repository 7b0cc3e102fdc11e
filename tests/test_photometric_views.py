"""Per-view photometric draws (PhotometricViews) for multi-crop training: own draws, exact geometry."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import BaseDataElement

import mmdistill  # noqa: F401
from mmdistill.datasets.transforms import PackImageText, PhotometricViews
from mmdistill.distill import MultiCrop
from mmdistill.models import MultiViewDataPreprocessor
from mmdistill.registry import MODELS

MEAN, STD = [122.8, 116.7, 104.1], [68.5, 66.6, 70.3]


def image(h: int = 40, w: int = 56) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_each_view_gets_its_own_draw_and_keeps_the_pixel_grid():
    np.random.seed(0)
    torch.manual_seed(0)
    img = image()
    out = PhotometricViews(num_views=4, jitter=1.0, grayscale=0.0, blur=0.0)(dict(img=img.copy()))['img']
    assert out.shape == (4, *img.shape) and out.dtype == np.uint8
    assert not np.array_equal(out[0], out[1])  # two views of one image: different draws
    # without any draw every view is the image itself, pixel for pixel
    plain = PhotometricViews(num_views=3, jitter=0.0, grayscale=0.0, blur=0.0)(dict(img=img.copy()))['img']
    assert all(np.array_equal(view, img) for view in plain)
    # per-view probabilities (DINO's asymmetric views): grayscale only in view 1, solarised only in view 2
    draws = PhotometricViews(num_views=3, jitter=0.0, grayscale=[0.0, 1.0, 0.0], blur=0.0,
                             solarize=[0.0, 0.0, 1.0])(dict(img=img.copy()))['img']
    assert np.array_equal(draws[0], img)
    assert (draws[1] == draws[1][..., :1]).all() and not (img == img[..., :1]).all()
    np.testing.assert_array_equal(draws[2], np.where(img >= 128, 255 - img, img))
    with pytest.raises(ValueError, match='one per view'):
        PhotometricViews(num_views=3, blur=[0.5, 0.5])


def test_packed_draws_are_normalised_per_draw():
    np.random.seed(1)
    results = PhotometricViews(num_views=3)(dict(img=image(), img_shape=(40, 56), caption='c'))
    packed = PackImageText()(results)
    assert packed['inputs'].shape == (3, 3, 40, 56)
    pre = MultiViewDataPreprocessor(mean=MEAN, std=STD, bgr_to_rgb=True)
    out = pre(dict(inputs=[packed['inputs'], packed['inputs'].flip(0)],
                   data_samples=[packed['data_samples']] * 2))['inputs']
    assert out.shape == (2, 3, 3, 40, 56)
    plain = pre(dict(inputs=[packed['inputs'][1]], data_samples=[packed['data_samples']]))['inputs']
    torch.testing.assert_close(out[0, 1], plain[0])  # the same normalisation as a single image
    torch.testing.assert_close(out[1, 2], out[0, 0])


@pytest.mark.parametrize('flip', [0.0, 0.5])
def test_crops_of_draws_have_the_geometry_of_the_plain_image(flip):
    """Draw ``c`` of each image is the image plus ``c``: crop ``c`` must be the plain crop plus ``c``,
    with the same boxes, sources and flips, i.e. cut from draw ``c`` at exactly the same place."""
    base = torch.randn(3, 3, 40, 56)
    sampler = MultiCrop(num_global=2, num_local=3, global_size=24, local_size=12, flip=flip)
    draws = base[:, None] + torch.arange(5.0)[None, :, None, None, None]  # (B, V, 3, H, W)
    sizes = [(40, 56)] * 3
    plain = sampler.views(base, sizes, torch.Generator().manual_seed(0), None, 0)
    drawn = sampler.views(draws, sizes, torch.Generator().manual_seed(0), None, 0)
    for name, first, num in (('global', 0, 2), ('local', 2, 3)):
        assert torch.equal(drawn[name].source, plain[name].source)
        assert torch.equal(drawn[name].source_boxes, plain[name].source_boxes)
        offset = (first + torch.arange(num).repeat_interleave(3)).float()[:, None, None, None]
        torch.testing.assert_close(drawn[name].images(None), plain[name].images(None) + offset)
    with pytest.raises(ValueError, match='num_views=5'):
        sampler.views(draws[:, :4], sizes, torch.Generator().manual_seed(0), None, 0)


def test_silc_trains_on_draws_and_other_samplers_refuse_them():
    cfg = Config.fromfile('configs/silc/silc_finetune_photometric_synthetic.py')
    assert cfg.model.data_preprocessor.type == 'MultiViewDataPreprocessor'
    views = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'PhotometricViews']
    assert len(views) == 1 and views[0].num_views == cfg.model.views.num_global + cfg.model.views.num_local
    for part in (cfg.model.student, cfg.model.text_tower):
        part.arch, part.checkpoint = 'mmdistill-tiny-ViT-P8', None
    cfg.model.views.local_size = 16
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    samples = [BaseDataElement(metainfo=dict(img_shape=(32, 32), caption=f'a photo of thing {i}')) for i in range(2)]
    losses = model.loss(torch.randn(2, 10, 3, 32, 32), samples)
    assert set(losses) == {'loss_dino', 'loss_image_text', 'num_boxes'}
    atas = Config.fromfile('configs/atas/atas_synthetic.py').model
    atas.student.arch, atas.student.checkpoint = 'mmdistill-tiny-ViT-P8', None
    with pytest.raises(ValueError, match='Mosaic takes'):
        MODELS.build(atas).step_context(torch.randn(4, 2, 3, 32, 32), samples * 2)


@pytest.mark.parametrize('config, changed', [('silc_finetune_photometric_synthetic.py', True),
                                             ('silc_finetune_photometric-colour-kept_synthetic.py', False)])
def test_only_the_colour_kept_draws_keep_a_red_thing_red(config, changed):
    """The world names things by colour: hue jitter, grayscale and solarisation contradict "red circle"."""
    from mmdistill.registry import TRANSFORMS
    pipeline = Config.fromfile(f'configs/silc/{config}').train_dataloader.dataset.pipeline
    views = TRANSFORMS.build([t for t in pipeline if t.type == 'PhotometricViews'][0])
    np.random.seed(0)
    torch.manual_seed(0)
    red = np.zeros((8, 8, 3), np.uint8)
    red[...] = (35, 30, 220)  # BGR of the world's red
    out = np.concatenate([views(dict(img=red.copy()))['img'] for _ in range(10)]).astype(int)  # (100, 8, 8, 3)
    still_red = (out[..., 2] > out[..., 1] + 20) & (out[..., 2] > out[..., 0] + 20)
    assert out.shape == (100, 8, 8, 3)
    assert (not still_red.all()) == changed, still_red.all(axis=(1, 2)).sum()
