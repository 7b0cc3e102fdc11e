"""ZeroShotSegmentor (the peers' inference order, whole / slide, synonyms, background threshold, PAMR), its configs
and the demo."""
import importlib.util
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from PIL import Image

import mmdistill  # noqa: F401
from mmdistill.apis import OVSegInferencer
from mmdistill.clip.text import TEMPLATE_SETS
from mmdistill.datasets.class_names import parse_classes
from mmdistill.datasets.synthetic.vocabulary import STUFF_CLASSES, THING_CLASSES
from mmdistill.seg import PAMR, vocabulary_palette

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
ARCH = 'mmdistill-tiny-ViT-P8'
TEXT = dict(arch=ARCH, checkpoint=None)
CONFIGS = osp.join(REPO, 'configs', 'maskclip')


def build_segmentor(classes=('cat;kitty', 'dog', 'car'), **kwargs):
    cfg = ConfigDict(type='ZeroShotSegmentor', tower=dict(type='CLIPTower', arch=ARCH, checkpoint=None),
                     vocabulary=dict(classes=list(classes), templates=['a {}.'], text=TEXT), **kwargs)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(cfg).eval()


def per_class(model, probs: torch.Tensor) -> torch.Tensor:
    """``(B, N, H, W)`` name probabilities -> ``(B, C, H, W)``: the max over each class's names."""
    sizes = [len(entry.split(';')) for entry in model.vocabulary]
    return torch.stack([chunk.amax(dim=1) for chunk in probs.split(sizes, dim=1)], dim=1)


def hand_logits(model, images: torch.Tensor) -> torch.Tensor:
    """Dense map -> cos with every name on the patch grid -> bilinear to the input size."""
    cos = torch.einsum('bdhw,nd->bnhw', model.tower(images).dense, model.text.name_embeddings)
    return F.interpolate(cos, size=images.shape[-2:], mode='bilinear', align_corners=False)


def hand_probs(model, logits: torch.Tensor) -> torch.Tensor:
    """Cosines -> scale -> one softmax over all names -> max over each class's names."""
    return per_class(model, (model.logit_scale * logits).softmax(dim=1))


def hand_grid_probs(model, images: torch.Tensor) -> torch.Tensor:
    """The probability-first order: softmax on the patch grid, max over names, then bilinear."""
    cos = torch.einsum('bdhw,nd->bnhw', model.tower(images).dense, model.text.name_embeddings)
    probs = per_class(model, (model.logit_scale * cos).softmax(dim=1))
    return F.interpolate(probs, size=images.shape[-2:], mode='bilinear', align_corners=False)


def hand_windows(images: torch.Tensor, encode, crop: int = 32, step: int = 8) -> torch.Tensor:
    """``encode`` of each window of a 40 x 48 input, averaged per pixel over the windows covering it."""
    total, count = 0, torch.zeros(40, 48)
    for y in (0, step):  # rows: [0, 32), [8, 40); columns: [0, 32), [8, 40), [16, 48)
        for x in (0, step, 2 * step):
            out = encode(images[..., y:y + crop, x:x + crop])
            total = total + F.pad(out, (x, 48 - x - crop, y, 40 - y - crop))
            count[y:y + crop, x:x + crop] += 1
    return total / count


@torch.no_grad()
def test_whole_inference_equals_hand_computation():
    model = build_segmentor(classes=['cat;kitty', 'dog', 'car;automobile;vehicle'])
    images = torch.randn(2, 3, 32, 48)
    samples = model.predict(images)
    expected = hand_probs(model, hand_logits(model, images))
    for sample, probs in zip(samples, expected):
        torch.testing.assert_close(sample.seg_logits.data, probs)
        assert torch.equal(sample.pred_sem_seg.data[0], probs.argmax(dim=0))
    torch.testing.assert_close(model(images, mode='tensor'), expected)
    # Inputs that are not whole patches: padded for the tower, probabilities at the input size.
    assert model(torch.randn(1, 3, 37, 50), mode='tensor').shape == (1, 3, 37, 50)


@torch.no_grad()
def test_slide_equals_whole_in_one_window():
    images = torch.randn(1, 3, 32, 48)
    whole = build_segmentor()(images, mode='tensor')
    for crop in ((32, 48), (64, 64)):
        slide = build_segmentor(test_cfg=dict(mode='slide', crop_size=crop, stride=(16, 16)))
        torch.testing.assert_close(slide(images, mode='tensor'), whole)


@torch.no_grad()
def test_slide_averages_logits_then_one_softmax_in_one_tower_forward(monkeypatch):
    """The peers' order: cosines upsampled to each window, averaged over windows, then scale and softmax."""
    model = build_segmentor(test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(8, 8)))
    images = torch.randn(2, 3, 40, 48)
    expected = hand_probs(model, hand_windows(images, lambda crop: hand_logits(model, crop)))
    calls = []
    forward = model.tower.forward
    monkeypatch.setattr(model.tower, 'forward', lambda x, **kw: calls.append(x.shape) or forward(x, **kw))
    torch.testing.assert_close(model(images, mode='tensor'), expected)
    assert calls == [(12, 3, 32, 32)]  # 2 images x 6 windows
    sample = model.predict(images[:1])[0]
    torch.testing.assert_close(sample.seg_logits.data, expected[0])


@torch.no_grad()
def test_the_probability_first_order_gives_another_result():
    """Softmax on each window's patch grid, probabilities upsampled and averaged: not what the segmentor does."""
    model = build_segmentor(test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(8, 8)))
    images = torch.randn(2, 3, 40, 48)
    old = hand_windows(images, lambda crop: hand_grid_probs(model, crop))
    new = model(images, mode='tensor')
    assert (old - new).abs().max() > 1e-2
    assert (old.argmax(dim=1) != new.argmax(dim=1)).any()


@torch.no_grad()
def test_predictions_at_the_original_size_resize_logits_before_the_softmax():
    model = build_segmentor(classes=['background', 'cat', 'dog'])
    images = torch.randn(1, 3, 32, 48)
    logits = F.interpolate(hand_logits(model, images), size=(45, 70), mode='bilinear', align_corners=False)
    probs = hand_probs(model, logits)[0]
    top, label = probs.max(dim=0)
    model.background_threshold = top.median().item()
    sample = SegDataSample(metainfo=dict(ori_shape=(45, 70), img_shape=(32, 48), pad_shape=(32, 48)))
    out, = model.predict(images, [sample])
    torch.testing.assert_close(out.seg_logits.data, probs)
    low = top < model.background_threshold
    assert low.any() and (label[~low] != 0).any()
    assert torch.equal(out.pred_sem_seg.data[0], torch.where(low, 0, label))


@torch.no_grad()
def test_pamr_post_processor_refines_the_logits_with_the_image():
    model = build_segmentor(post_processor=dict(type='PAMR', num_iter=3, dilations=(1, 2)))
    images = torch.randn(1, 3, 32, 48)
    sample = SegDataSample(metainfo=dict(ori_shape=(40, 60), img_shape=(32, 48), pad_shape=(32, 48)))
    out, = model.predict(images, [sample])
    up = dict(size=(40, 60), mode='bilinear', align_corners=False)
    pamr = PAMR(num_iter=3, dilations=(1, 2))
    refined = pamr(F.interpolate(images, **up), F.interpolate(hand_logits(model, images), **up))
    torch.testing.assert_close(out.seg_logits.data, hand_probs(model, refined)[0])
    plain = build_segmentor().predict(images, [SegDataSample(metainfo=sample.metainfo)])[0]
    assert not torch.allclose(plain.seg_logits.data, out.seg_logits.data, atol=1e-3)
    expected = hand_probs(model, pamr(images, hand_logits(model, images)))  # mode='tensor': at the input size
    torch.testing.assert_close(model(images, mode='tensor'), expected)


@torch.no_grad()
def test_slide_with_a_larger_test_vocabulary():
    model = build_segmentor(test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(16, 16)))
    model.set_vocabulary([f'thing {i}' for i in range(40)])
    assert model.num_classes == 40 and model.text.name_embeddings.shape[0] == 40
    sample, = model.predict(torch.randn(1, 3, 40, 56))
    assert sample.seg_logits.data.shape == (40, 40, 56)
    torch.testing.assert_close(sample.seg_logits.data.sum(dim=0), torch.ones(40, 56))
    assert sample.pred_sem_seg.data.max() < 40


@torch.no_grad()
def test_synonyms_take_the_max_over_their_names():
    model = build_segmentor()
    dense = model.tower(torch.randn(2, 3, 32, 32)).dense
    torch.manual_seed(1)  # the random text tower: the same weights for both vocabularies
    model.set_vocabulary(['cat', 'kitty', 'dog'])
    separate = model.class_probabilities(model.name_logits(dense))
    torch.manual_seed(1)
    model.set_vocabulary([('cat', 'kitty'), 'dog'])
    assert model.vocabulary == ['cat;kitty', 'dog']
    merged = model.class_probabilities(model.name_logits(dense))
    torch.testing.assert_close(merged[:, 0], separate[:, :2].amax(dim=1))
    torch.testing.assert_close(merged[:, 1], separate[:, 2])
    assert parse_classes('cat; kitty,dog') == parse_classes([['cat', 'kitty'], 'dog']) == \
        [('cat', 'kitty'), ('dog', )]


@torch.no_grad()
def test_background_threshold_sets_low_confidence_pixels_to_zero():
    model = build_segmentor(classes=['background', 'cat', 'dog', 'car'])
    images = torch.randn(1, 3, 32, 48)
    probs = model(images, mode='tensor')[0]
    top, label = probs.max(dim=0)
    threshold = top.median().item()
    model.background_threshold = threshold
    sample, = model.predict(images)
    low = top < threshold
    assert low.any() and (label[~low] != 0).any()
    assert torch.equal(sample.pred_sem_seg.data[0], torch.where(low, 0, label))
    torch.testing.assert_close(sample.seg_logits.data, probs)


def test_area_threshold_drops_small_classes_as_sclip():
    """SCLIP's area_thd: one-hot argmax areas of the non-background classes, classes at or below the threshold
    times their total get probability 0, then argmax and background threshold."""
    from mmdistill.seg.zero_shot import suppress_small_classes
    torch.manual_seed(0)
    probs = torch.rand(4, 6, 5)
    probs[2] = 0.0
    probs[2, 0, :2] = 5.0  # class 2 wins 2 of the 30 pixels
    one_hot = F.one_hot(probs.argmax(dim=0), 4).float()  # (H, W, C)
    area = one_hot[..., 1:].sum(dim=(0, 1))
    keep = (area > 0.1 * area.sum()).float()
    expected = probs.clone()
    expected[1:] *= keep.view(-1, 1, 1)
    assert keep[1] == 0 and keep.sum() >= 1  # the reference drops class 2 and keeps another
    torch.testing.assert_close(suppress_small_classes(probs, 0.1), expected)
    # through predict: the labels and stored probabilities follow the suppressed map
    model = build_segmentor(classes=['background', 'cat', 'dog', 'car'])
    images = torch.randn(1, 3, 32, 48)
    full = model(images, mode='tensor')[0]
    model.area_threshold = 0.4
    sample, = model.predict(images)
    suppressed = suppress_small_classes(full, 0.4)
    assert not torch.equal(suppressed, full)
    torch.testing.assert_close(sample.seg_logits.data, suppressed)
    assert torch.equal(sample.pred_sem_seg.data[0], suppressed.argmax(dim=0))


def test_bad_vocabularies_and_training_are_refused():
    with pytest.raises(ValueError, match='the vocabulary has no classes'):
        parse_classes([])
    with pytest.raises(ValueError, match="the class names ' , ' has no classes"):
        parse_classes(' , ')
    with pytest.raises(ValueError, match=r"more than once: \['cat'\]"):
        parse_classes(['cat', 'dog', 'cat'])
    with pytest.raises(ValueError, match=r"more than once: \['dog'\]"):
        parse_classes(['cat;dog', 'dog'])
    with pytest.raises(ValueError, match="class 1 of the vocabulary \\(' ; '\\) has no name"):
        parse_classes(['cat', ' ; '])
    with pytest.raises(ValueError, match='at least 2 are needed'):
        build_segmentor(classes=['cat'])
    with pytest.raises(ValueError, match='more than once'):
        build_segmentor(classes=['cat', 'cat'])
    with pytest.raises(ValueError, match='crop_size'):
        build_segmentor(test_cfg=dict(mode='slide', stride=(16, 16)))
    model = build_segmentor()
    with pytest.raises(ValueError, match='no classes'):
        model.set_vocabulary([])
    assert model.vocabulary == ['cat;kitty', 'dog', 'car']  # unchanged
    with pytest.raises(NotImplementedError, match='training-free'):
        model(torch.randn(1, 3, 32, 32), [], mode='loss')
    assert not any(p.requires_grad for p in model.parameters())
    assert not any(k.startswith('text.') for k in model.state_dict())


def test_imagenet_templates():
    templates = TEMPLATE_SETS['imagenet80']
    assert len(templates) == len(set(templates)) == 80
    assert templates[0] == 'a bad photo of a {}.' and templates[-1] == 'a tattoo of the {}.'


def test_maskclip_configs():
    cfg = Config.fromfile(osp.join(CONFIGS, 'maskclip_tinyclip-p12_synthetic-192.py'))
    cfg.model.tower.checkpoint = cfg.model.vocabulary.text.checkpoint = None
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    assert model.vocabulary == list(THING_CLASSES + STUFF_CLASSES)
    assert list(cfg.test_dataloader.dataset.metainfo.classes) == model.vocabulary
    voc = Config.fromfile(osp.join(CONFIGS, 'maskclip_vit-b16-openai_voc21-336.py'))
    classes = parse_classes(voc.model.vocabulary.classes)
    assert len(classes) == 21 and classes[0] == ('background', )
    assert voc.model.background_threshold == 0.1 and voc.model.vocabulary.templates == 'imagenet80'


def test_benchmark_configs_resize_positions_as_the_peers_and_the_naclip_config_uses_pamr():
    zero_shot = osp.join(REPO, 'configs', 'zero_shot_seg')
    voc = Config.fromfile(osp.join(zero_shot, 'zeroshot_vit-b16-openai_voc21-336.py'))
    assert voc.model.tower.pos_embed_resize == 'bicubic_offset' and voc.model.get('post_processor') is None
    naclip = Config.fromfile(osp.join(zero_shot, 'zeroshot_naclip-pamr_vit-b16-openai_voc21-336.py'))
    model = naclip.model
    assert (model.tower.dense_path, model.tower.naclip_sigma, model.tower.pos_embed_resize) == \
        ('naclip', 5.0, 'bicubic_offset')
    assert (model.logit_scale, model.background_threshold) == (40.0, 0.1)
    assert model.post_processor == dict(type='PAMR', num_iter=10, dilations=(8, 16))
    assert model.test_cfg == dict(mode='whole')  # NACLIP's cfg_voc21.py: slide_crop=0
    assert model.vocabulary.classes == voc.model.vocabulary.classes
    with DefaultScope.overwrite_default_scope('mmseg'):
        pamr = MODELS.build(model.post_processor)
    assert isinstance(pamr, PAMR) and (pamr.num_iter, pamr.dilations) == (10, (8, 16))


@pytest.fixture
def tiny_config(tmp_path) -> str:
    """A config of a ZeroShotSegmentor on the tiny random tower, classes a, b, c, slide inference."""
    config = tmp_path / 'tiny_maskclip.py'
    config.write_text(f"""
default_scope = 'mmseg'
custom_imports = dict(imports=['mmdistill'], allow_failed_imports=False)
model = dict(type='ZeroShotSegmentor', tower=dict(type='CLIPTower', arch='{ARCH}', checkpoint=None),
             vocabulary=dict(classes=['a', 'b', 'c'], templates=['a {{}}.'], text={TEXT!r}),
             test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(16, 16)),
             data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.0] * 3, std=[58.0] * 3, bgr_to_rgb=True))
test_dataloader = dict(dataset=dict(pipeline=[dict(type='LoadImageFromFile'), dict(type='PackSegInputs')]))
visualizer = dict(type='SegLocalVisualizer', name='visualizer')
""")
    return str(config)


def test_demo_writes_a_picture_with_a_legend_and_a_prediction(tmp_path, tiny_config, capsys):
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / 'scene.png')
    spec = importlib.util.spec_from_file_location('ov_seg_demo', osp.join(REPO, 'tools', 'demo', 'ov_seg_demo.py'))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    texts = ['sky', 'grass;lawn', 'road', 'car', 'person']
    out = tmp_path / 'out'
    demo.main([str(tmp_path / 'scene.png'), tiny_config, '--texts', ','.join(texts), '--out-dir', str(out),
               '--device', 'cpu', '--opacity', '0.6'])
    assert f'vocabulary: {", ".join(texts)}' in capsys.readouterr().out
    pred = np.asarray(Image.open(out / 'pred' / '00000000_pred.png'))
    assert pred.shape == (48, 64) and pred.max() < len(texts)
    picture = np.asarray(Image.open(out / 'vis' / 'scene.png').convert('RGB'))
    assert picture.shape[0] >= 48 and picture.shape[1] > 64
    # The overlay part is the image at its own size, blended with the class colours.
    overlay = (image * 0.4 + np.asarray(vocabulary_palette(len(texts)), dtype=np.uint8)[pred] * 0.6).astype(np.uint8)
    np.testing.assert_allclose(picture[:48, :64], overlay, atol=1)
    assert (picture[48:, :64] == 255).all()  # below the overlay: the legend's white background


def test_inferencer_keeps_or_changes_the_vocabulary(tiny_config):
    inferencer = OVSegInferencer(tiny_config, device='cpu')
    assert inferencer.model.vocabulary == ['a', 'b', 'c']
    assert inferencer.set_vocabulary('x;y,z') == ['x;y', 'z']
    assert inferencer.model.dataset_meta == dict(classes=['x;y', 'z'], palette=vocabulary_palette(2))
    image = np.zeros((40, 24, 3), dtype=np.uint8)
    result = inferencer(image, return_vis=True)
    assert result['predictions'].shape == (40, 24) and result['predictions'].max() < 2
    assert result['visualization'].shape[0] >= 40 and result['visualization'].shape[1] > 24
