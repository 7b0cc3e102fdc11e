"""ATAS: the mosaic view's geometry and the three terms as a config of the distiller."""
import torch
from mmengine.config import Config
from mmengine.structures import BaseDataElement
from torchvision.ops import roi_align

import mmdistill  # noqa: F401
from mmdistill.apis.config_check import use_random_weights
from mmdistill.distill import Distiller, Mosaic
from mmdistill.distill import views as views_module
from mmdistill.registry import MODELS


def test_each_tile_of_the_mosaic_maps_back_exactly_to_its_source(monkeypatch):
    images = torch.randn(5, 3, 40, 50)
    k, tile = 2, 16

    def integer_squares(sizes, scale, generator):  # tile x tile crops at integer positions: no resampling
        start = torch.randint(0, 24, (len(sizes), 2), generator=generator).float()
        return torch.cat([start, start + tile], 1)

    monkeypatch.setattr(views_module, 'random_squares', integer_squares)
    views = Mosaic(k=k, tile_size=tile).views(images, [(40, 50)] * 5, torch.Generator().manual_seed(0), None, 0)
    mosaic, tiles = views['mosaic'], views['tiles']
    boxes = mosaic.region_source_boxes
    assert torch.equal(tiles.source_boxes, boxes)
    picture = mosaic.images((0, 0))
    assert picture.shape == (5, 3, k * tile, k * tile)
    assert mosaic.rois.shape == (5 * k * k, 5)
    # tiles of mosaic m come from k * k different images
    for m in range(5):
        assert len(set(mosaic.region_source[m * k * k:(m + 1) * k * k].tolist())) == k * k
    for r, (roi, src, box) in enumerate(zip(mosaic.rois, mosaic.region_source, boxes)):
        m, x1, y1, x2, y2 = roi.long().tolist()
        assert (x2 - x1, y2 - y1) == (tile, tile)
        bx1, by1, bx2, by2 = box.long().tolist()
        torch.testing.assert_close(picture[m, :, y1:y2, x1:x2], images[src, :, by1:by2, bx1:bx2], rtol=0, atol=1e-5)
        assert int(tiles.source[r]) == int(src)  # tile r alone shows the same source box
    alone = tiles.images((tile, tile))
    expected = torch.stack([images[s, :, int(b[1]):int(b[3]), int(b[0]):int(b[2])]
                            for s, b in zip(mosaic.region_source, boxes)])
    torch.testing.assert_close(alone, expected, rtol=0, atol=1e-5)
    # at another (native) size the tile is the same box, resampled once
    big = tiles.images((32, 32))
    rois = torch.cat([mosaic.region_source[:, None].float(), boxes], 1)
    torch.testing.assert_close(big, roi_align(images, rois, (32, 32), 1.0, -1, True))


def test_fewer_images_than_tiles_repeat_images_with_different_crops():
    views = Mosaic(k=3, tile_size=8).views(torch.randn(2, 3, 24, 24), [(24, 24)] * 2,
                                          torch.Generator().manual_seed(0), None, 0)
    assert views['mosaic'].images((0, 0)).shape == (2, 3, 24, 24)
    assert sorted(views['mosaic'].region_source[:9].tolist()) == [0] * 5 + [1] * 4
    assert len({tuple(b.tolist()) for b in views['mosaic'].region_source_boxes}) == 18
    assert views['full'].images((12, 12)).shape == (2, 3, 12, 12)


def test_atas_config_reads_the_three_levels():
    cfg = Config.fromfile('configs/atas/atas_synthetic.py')
    assert [t['name'] for t in cfg.model.terms] == ['g2l', 'l2l', 'g2g']
    cfg.model.student.arch = 'mmdistill-tiny-ViT-P8'
    cfg.model.student.checkpoint = None
    cfg.model.views.tile_size = 16
    cfg.model.token_size = 2
    torch.manual_seed(0)
    model: Distiller = MODELS.build(cfg.model)
    images = torch.randn(4, 3, 32, 32)
    samples = [BaseDataElement(metainfo=dict(img_shape=(32, 32))) for _ in range(4)]
    ctx, num_tiles = model.step_context(images, samples)
    assert num_tiles == 16
    assert ctx['student.mosaic.regions'].shape == ctx['frozen.tiles.cls'].shape == (16, 32)
    assert ctx['student.mosaic.region_tokens'].shape == ctx['frozen.tiles.grid_tokens'].shape == (16, 4, 32)
    assert ctx['student.full.cls'].shape == ctx['frozen.full.cls'].shape == (4, 32)
    losses = model.loss(images, samples)
    assert set(losses) == {'loss_g2l', 'loss_l2l', 'loss_g2g', 'num_boxes'}
    # at the start the student is the teacher: its CLS of each image is the teacher's
    assert float(losses['loss_g2g'].detach()) < 1e-5 < float(losses['loss_g2l'].detach())


def test_ablations_drop_one_term_each():
    full = {t['name'] for t in Config.fromfile('configs/atas/atas_synthetic.py').model.terms}
    for term in full:
        cfg = Config.fromfile(f'configs/atas/atas_no_{term}_synthetic.py')
        assert {t['name'] for t in cfg.model.terms} == full - {term}


def test_atas_with_r_scd_shares_one_frozen_tower():
    cfg = Config.fromfile('configs/atas/atas_r_scd_synthetic.py')
    use_random_weights(cfg)
    model = MODELS.build(cfg.model)
    assert model.teachers['frozen'].tower is model.teachers['refined'].tower is model.towers['clip']
    assert set(model.views.view_names) == {'mosaic', 'tiles', 'full', 'image', 'crops', 'stretched'}

