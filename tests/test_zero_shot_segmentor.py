"""ZeroShotSegmentor (whole / slide inference, synonyms, background threshold), its configs and the demo."""
import importlib.util
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS
from PIL import Image

import mmdistill  # noqa: F401
from mmdistill.apis import OVSegInferencer
from mmdistill.clip.text import TEMPLATE_SETS
from mmdistill.datasets.synthetic.vocabulary import STUFF_CLASSES, THING_CLASSES
from mmdistill.seg import parse_vocabulary, vocabulary_palette

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
ARCH = 'mmdistill-tiny-ViT-P8'
TEXT = dict(arch=ARCH, checkpoint=None, templates=['a {}.'])
CONFIGS = osp.join(REPO, 'configs', 'maskclip')


def build_segmentor(classes=('cat;kitty', 'dog', 'car'), **kwargs):
    cfg = ConfigDict(type='ZeroShotSegmentor', tower=dict(type='CLIPTower', arch=ARCH, checkpoint=None),
                     vocabulary=dict(classes=list(classes), text=TEXT), **kwargs)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(cfg).eval()


def hand_probs(model, images: torch.Tensor) -> torch.Tensor:
    """Dense map -> scale * cos with every name -> softmax -> max over each class's names -> bilinear."""
    dense = model.tower(images).dense
    cos = torch.einsum('bdhw,nd->bnhw', dense, model.text_embeddings)
    probs = (model.logit_scale * cos).softmax(dim=1)
    sizes = [len(entry.split(';')) for entry in model.vocabulary]
    per_class = torch.stack([chunk.amax(dim=1) for chunk in probs.split(sizes, dim=1)], dim=1)
    return F.interpolate(per_class, size=images.shape[-2:], mode='bilinear', align_corners=False)


@torch.no_grad()
def test_whole_inference_equals_hand_computation():
    model = build_segmentor(classes=['cat;kitty', 'dog', 'car;automobile;vehicle'])
    images = torch.randn(2, 3, 32, 48)
    samples = model.predict(images)
    expected = hand_probs(model, images)
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
def test_slide_averages_windows_in_one_tower_forward(monkeypatch):
    model = build_segmentor(test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(8, 8)))
    images = torch.randn(2, 3, 40, 48)
    total, count = torch.zeros(2, 3, 40, 48), torch.zeros(40, 48)
    for y in (0, 8):  # rows: [0, 32), [8, 40); columns: [0, 32), [8, 40), [16, 48)
        for x in (0, 8, 16):
            total[..., y:y + 32, x:x + 32] += hand_probs(model, images[..., y:y + 32, x:x + 32])
            count[y:y + 32, x:x + 32] += 1
    calls = []
    forward = model.tower.forward
    monkeypatch.setattr(model.tower, 'forward', lambda x, **kw: calls.append(x.shape) or forward(x, **kw))
    torch.testing.assert_close(model(images, mode='tensor'), total / count)
    assert calls == [(12, 3, 32, 32)]  # 2 images x 6 windows


@torch.no_grad()
def test_slide_with_a_larger_test_vocabulary():
    model = build_segmentor(test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(16, 16)))
    model.set_vocabulary([f'thing {i}' for i in range(40)])
    assert model.num_classes == 40 and model.text_embeddings.shape[0] == 40
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
    separate = model.class_probabilities(dense)
    torch.manual_seed(1)
    model.set_vocabulary([('cat', 'kitty'), 'dog'])
    assert model.vocabulary == ['cat;kitty', 'dog']
    merged = model.class_probabilities(dense)
    torch.testing.assert_close(merged[:, 0], separate[:, :2].amax(dim=1))
    torch.testing.assert_close(merged[:, 1], separate[:, 2])
    assert parse_vocabulary('cat; kitty,dog') == parse_vocabulary([['cat', 'kitty'], 'dog']) == \
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


def test_bad_vocabularies_and_training_are_refused():
    with pytest.raises(ValueError, match='no classes'):
        parse_vocabulary([])
    with pytest.raises(ValueError, match='no class names'):
        parse_vocabulary(' , ')
    with pytest.raises(ValueError, match=r"more than once: \['cat'\]"):
        parse_vocabulary(['cat', 'dog', 'cat'])
    with pytest.raises(ValueError, match=r"more than once: \['dog'\]"):
        parse_vocabulary(['cat;dog', 'dog'])
    with pytest.raises(ValueError, match="class 1 of the vocabulary \\(' ; '\\) has no name"):
        parse_vocabulary(['cat', ' ; '])
    with pytest.raises(ValueError, match='at least two classes'):
        parse_vocabulary(['cat'])
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
    assert 'text_embeddings' not in model.state_dict()


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
    classes = parse_vocabulary(voc.model.vocabulary.classes)
    assert len(classes) == 21 and classes[0] == ('background', )
    assert voc.model.background_threshold == 0.1 and voc.model.vocabulary.text.templates == 'imagenet80'


@pytest.fixture
def tiny_config(tmp_path) -> str:
    """A config of a ZeroShotSegmentor on the tiny random tower, classes a, b, c, slide inference."""
    config = tmp_path / 'tiny_maskclip.py'
    config.write_text(f"""
default_scope = 'mmseg'
custom_imports = dict(imports=['mmdistill'], allow_failed_imports=False)
model = dict(type='ZeroShotSegmentor', tower=dict(type='CLIPTower', arch='{ARCH}', checkpoint=None),
             vocabulary=dict(classes=['a', 'b', 'c'], text={TEXT!r}),
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
