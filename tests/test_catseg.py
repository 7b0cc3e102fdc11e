"""Cat-Seg: class-order invariance, batch independence, query / value fine-tuning, truncation, checkpoints, the
test protocol, the demo, and training / testing through the tools on a tiny synthetic world."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmdistill  # noqa: F401
from mmdistill.apis.runs import load_run_config
from mmdistill.clip import build_clip_model
from mmdistill.datasets.synthetic import generate_world
from mmdistill.seg.catseg import tune_attention
from mmdistill.seg.catseg.aggregation import linear_attention

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
WORLD_CONFIG = osp.join(REPO, 'configs/catseg/catseg_tinyclip-p12_1xb4-400_synthetic-96.py')
ARCH = 'mmdistill-tiny-ViT-P8'  # 2 blocks, width 48, embed_dim 32, native 32 px
CLASSES = ['cat', 'dog;puppy', 'car', 'tree', 'road', 'sky']
TEXT = dict(arch=ARCH, checkpoint=None, trainable_attention=('q', 'v'))


def catseg_cfg(**overrides) -> ConfigDict:
    cfg = ConfigDict(
        type='CatSegSegmentor',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[120.0, 110.0, 100.0], std=[60.0, 60.0, 60.0],
                               size=(32, 32)),
        tower=dict(type='CLIPTower', arch=ARCH, checkpoint=None),
        guidance_layers=(0, 1),
        vocabulary=dict(classes=CLASSES, unseen_classes=['car', 'road'], templates=['a {}.', 'a photo of a {}.'],
                        text=TEXT),
        decode_head=dict(type='CatSegHead', channels=16, num_layers=2, num_heads=2, window_size=2,
                         appearance_dim=8, text_dim=8, decoder_channels=(8, 4), decoder_guidance_channels=(8, 4),
                         decoder_guidance_proj=(4, 2),
                         loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True, avg_non_ignore=True)),
        test_cfg=dict(mode='whole'))
    cfg.update(overrides)
    return cfg


def with_text(**text) -> dict:
    """The test vocabulary with ``text`` updated."""
    vocabulary = catseg_cfg().vocabulary
    return dict(vocabulary, text=dict(vocabulary.text, **text))


def build(**overrides):
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(catseg_cfg(**overrides))


def samples(labels: torch.Tensor) -> list[SegDataSample]:
    out = []
    for lab in labels:
        s = SegDataSample(gt_sem_seg=PixelData(data=lab[None]))
        s.set_metainfo(dict(img_shape=tuple(lab.shape), ori_shape=tuple(lab.shape), pad_shape=tuple(lab.shape)))
        out.append(s)
    return out


def perturb_head(model) -> None:
    """Non-trivial weights everywhere (zero-initialised parts would hide order or batch effects)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.decode_head.parameters():
            p.add_(0.1 * torch.randn_like(p))


# ----------------------------------------------------------------------------- invariances
def test_linear_attention_permutes_with_its_sequence():
    q, k, v = torch.randn(3, 2, 7, 2, 4).unbind(0)
    perm = torch.randperm(7)
    out = linear_attention(q, k, v)
    assert torch.allclose(linear_attention(q[:, perm], k[:, perm], v[:, perm]), out[:, perm], atol=1e-5)


def test_permuting_the_classes_permutes_the_output():
    model = build()
    perturb_head(model)
    model.eval()
    images = torch.randn(2, 3, 32, 32)
    perm = [4, 0, 5, 2, 1, 3]
    with torch.no_grad():
        out = model(images, mode='tensor')
        model.set_vocabulary([CLASSES[i] for i in perm])
        permuted = model(images, mode='tensor')
    assert out.shape == (2, 6, 32, 32)
    assert torch.allclose(permuted, out[:, perm], atol=1e-5)


@pytest.mark.parametrize('test_cfg', [dict(mode='whole'),
                                      dict(mode='slide', size=(48, 48), crop_size=(32, 32), stride=(16, 16))])
def test_an_images_prediction_does_not_depend_on_its_batch(test_cfg):
    model = build(test_cfg=test_cfg)
    perturb_head(model)
    model.eval()
    images = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        alone = model(images[1:2], mode='tensor')
        batch = model(images, mode='tensor')
        reversed_batch = model(images.flip(0), mode='tensor')
    assert torch.allclose(batch[1:2], alone, atol=1e-5)
    assert torch.allclose(reversed_batch.flip(0), batch, atol=1e-5)


def test_catseg_and_zero_shot_share_one_window_routine(monkeypatch):
    from mmdistill.seg import inference
    calls = []
    average = inference.average_windows
    monkeypatch.setattr(inference, 'average_windows',
                        lambda maps, boxes, size: calls.append(tuple(maps.shape)) or average(maps, boxes, size))
    catseg = build(test_cfg=dict(mode='slide', size=(48, 48), crop_size=(32, 32), stride=(16, 16))).eval()
    with DefaultScope.overwrite_default_scope('mmseg'):
        zero_shot = MODELS.build(dict(
            type='ZeroShotSegmentor', tower=dict(type='CLIPTower', arch=ARCH, checkpoint=None),
            vocabulary=dict(classes=CLASSES, templates=['a {}.'], text=dict(arch=ARCH, checkpoint=None)),
            test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(16, 16)))).eval()
    images = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        assert catseg(images, mode='tensor').shape == (2, 6, 48, 48)
        assert zero_shot(images, mode='tensor').shape == (2, 6, 48, 48)
    # Cat-Seg: 4 windows + the global view, sigmoid maps of 6 classes; zero-shot: 4 windows, cosines of 7 names.
    assert calls == [(2, 5, 6, 32, 32), (2, 4, 7, 32, 32)]


def test_training_loss_of_an_image_does_not_depend_on_its_batch():
    model = build()
    perturb_head(model)
    model.train()
    images, labels = torch.randn(2, 3, 32, 32), torch.randint(0, 4, (2, 32, 32))
    logits = model.decode_head(model.extract_feat(images) + (model.text_features(model.train_text)[None].expand(
        2, -1, -1, -1), ))
    single = model.decode_head(model.extract_feat(images[:1]) + (model.text_features(model.train_text)[None],))
    assert torch.allclose(logits[:1], single, atol=1e-5)
    assert set(model.loss(images, samples(labels))) == {'decode.loss_ce', 'decode.acc_seg'}


# ----------------------------------------------------------------------------- fine-tuning
def in_proj(module) -> list[torch.Tensor]:
    return [m.in_proj_weight.detach().clone() for m in module.modules() if isinstance(m, torch.nn.MultiheadAttention)]


@pytest.mark.parametrize('text_attention', [('q', 'v'), ()], ids=['updated', 'vanilla'])
def test_only_query_and_value_projections_train(text_attention):
    model = build(vocabulary=with_text(trainable_attention=text_attention))
    model.train()
    towers = {n: p.detach().clone() for n, p in model.named_parameters() if not n.startswith('decode_head.')}
    fused = {name: in_proj(getattr(model, name)) for name in ('tower', 'text_tower')}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad and not n.startswith('decode_head.')}
    towers_with_grad = ('tower.', 'text_tower.') if text_attention else ('tower.', )
    assert trainable and all(n.startswith(towers_with_grad) for n in trainable)
    assert all(n.split('parametrizations.')[1] in {
        'in_proj_weight.original0', 'in_proj_weight.original2', 'in_proj_bias.original0', 'in_proj_bias.original2'}
        for n in trainable)
    optim = build_optim_wrapper(model, dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.1,
                                                                                 weight_decay=0.5)))
    images, labels = torch.randn(2, 3, 32, 32), torch.randint(0, 4, (2, 32, 32))
    optim.update_params(model.loss(images, samples(labels))['decode.loss_ce'])
    for name, p in model.named_parameters():
        if name.startswith('decode_head.'):
            continue
        changed = not torch.equal(p.detach(), towers[name])
        assert changed == (name in trainable), name
    for name in ('tower', 'text_tower'):
        for before, after in zip(fused[name], in_proj(getattr(model, name))):
            d = before.shape[1]
            assert torch.equal(before[d:2 * d], after[d:2 * d]), f'{name}: key rows moved'
            trains = name == 'tower' or bool(text_attention)
            assert torch.equal(before[:d], after[:d]) != trains, f'{name}: query rows'


def test_tune_attention_on_separate_projections_and_bad_input():
    eva = build_clip_model('mmdistill-tiny-EVA-P8').visual
    names = tune_attention(eva, ('q', 'v'))
    assert names and all('.q_proj.' in n or '.v_proj.' in n for n in names)
    with pytest.raises(ValueError, match='subset'):
        tune_attention(eva, ('q', 'o'))
    with pytest.raises(ValueError, match='no attention layer'):
        tune_attention(torch.nn.Linear(2, 2), ('q', ))


# ----------------------------------------------------------------------------- vocabularies
def test_synonyms_average_per_template_and_the_test_vocabulary_sizes_the_output():
    model = build()
    model.eval()
    prompts = model.text.prompts
    assert model.vocabulary == CLASSES and model.num_classes == 6
    assert len(prompts) == 7 * 2 and prompts[2] == 'a dog.' and prompts[4] == 'a puppy.'
    text = model.text_features(model.text)
    assert text.shape == (6, 2, 32) and torch.allclose(text.norm(dim=-1), torch.ones(6, 2))
    own = model.text_tower(['a dog.', 'a puppy.'])
    assert torch.allclose(text[1, 0], torch.nn.functional.normalize(own.sum(0), dim=0), atol=1e-5)
    assert model.train_text.vocabulary == ['cat', 'dog;puppy', 'tree', 'sky']
    model.set_vocabulary('bus,lamp,grass')
    with torch.no_grad():
        assert model(torch.randn(1, 3, 40, 56), mode='tensor').shape == (1, 3, 40, 56)


def test_top_k_truncation_and_clear_errors():
    with pytest.raises(ValueError, match='more than max_classes=4.*truncate=True'):
        build(decode_head=dict(catseg_cfg().decode_head, max_classes=4))
    model = build(vocabulary=dict(classes=CLASSES[:4], unseen_classes=None, templates='scene', text=TEXT),
                  decode_head=dict(catseg_cfg().decode_head, max_classes=4))
    with pytest.raises(ValueError, match='more than max_classes=4'):
        model.set_vocabulary(CLASSES)
    with pytest.raises(ValueError, match='no classes'):
        model.set_vocabulary([])
    with pytest.raises(ValueError, match='needs max_classes'):
        build(decode_head=dict(catseg_cfg().decode_head, truncate=True))
    model = build(decode_head=dict(catseg_cfg().decode_head, max_classes=3, truncate=True))
    model.eval()
    with torch.no_grad():
        logits = model.encode_decode(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 6, 32, 32)
    kept = (logits > -99).flatten(2).any(-1)  # (B, C)
    assert kept.sum(1).tolist() == [3, 3]


# ----------------------------------------------------------------------------- checkpoints, demo
def test_checkpoints_hold_a_frozen_text_tower_only_when_it_trains(tmp_path):
    updated = build()
    assert any(k.startswith('text_tower.') for k in updated.state_dict())
    vanilla = build(vocabulary=with_text(trainable_attention=()))
    state = vanilla.state_dict()
    assert not any(k.startswith('text_tower.') for k in state)
    assert any('parametrizations.in_proj_weight.original2' in k for k in state)
    path = str(tmp_path / 'catseg.pth')
    torch.save(dict(state_dict=state), path)
    loaded = build(vocabulary=with_text(trainable_attention=()), checkpoint=path)
    for key, value in state.items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_inferencer_with_a_user_vocabulary(tmp_path):
    from mmdistill.seg import OVSegInferencer
    model = build()
    checkpoint = str(tmp_path / 'catseg.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    cfg = Config(dict(model=catseg_cfg(), default_scope='mmseg', visualizer=dict(type='SegLocalVisualizer'),
                      test_dataloader=dict(dataset=dict(pipeline=[dict(type='LoadImageFromFile'),
                                                                  dict(type='PackSegInputs')]))))
    inferencer = OVSegInferencer(cfg, weights=checkpoint, texts='cat,dog;puppy,bus', device='cpu')
    assert inferencer.model.vocabulary == ['cat', 'dog;puppy', 'bus']
    image = (torch.rand(40, 56, 3) * 255).to(torch.uint8).numpy()
    result = inferencer(image, return_vis=True)
    assert result['predictions'].shape == (40, 56) and int(result['predictions'].max()) < 3


# ----------------------------------------------------------------------------- configs and tools
def test_real_scale_configs_parse():
    names = sorted(p for p in os.listdir(osp.join(REPO, 'configs', 'catseg')) if p.endswith('.py'))
    assert len(names) >= 8
    for name in names:
        model = Config.fromfile(osp.join(REPO, 'configs', 'catseg', name)).model
        assert model.type == 'CatSegSegmentor', name
        assert model.decode_head.loss_decode.use_sigmoid, name


def run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MMDISTILL_OFFLINE='1', OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def test_train_and_test_through_the_tools_on_a_tiny_world(tmp_path):
    world = str(tmp_path / 'world')
    generate_world(world, seed=3, num_train=16, num_val=4, workers=1, progress=False)
    torch.manual_seed(0)
    clip = str(tmp_path / 'tiny_clip.pt')
    torch.save(build_clip_model('mmdistill-world-ViT-P12').state_dict(), clip)
    cfg = load_run_config(WORLD_CONFIG, str(tmp_path / 'work'), world, clip)
    cfg.merge_from_dict({'train_cfg.max_iters': 3, 'train_cfg.val_interval': 3, 'train_dataloader.batch_size': 2,
                         'default_hooks.checkpoint.interval': 3, 'default_hooks.logger.interval': 1,
                         'param_scheduler.0.end': 1, 'param_scheduler.1.begin': 1, 'param_scheduler.1.end': 3})
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].update(num_workers=0, persistent_workers=False)
    config = str(tmp_path / 'catseg_world.py')
    cfg.dump(config)
    run('tools/train.py', config, '--work-dir', str(tmp_path / 'work'))
    checkpoint = tmp_path / 'work' / 'iter_3.pth'
    assert checkpoint.is_file()
    proc = run('tools/test.py', config, str(checkpoint), '--work-dir', str(tmp_path / 'test'))
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith('metrics: ')][-1]
    metrics = json.loads(line[len('metrics: '):])
    for key in ('mIoU', 'sIoU', 'uIoU', 'hIoU'):
        assert any(k.endswith(key) and 0.0 <= v <= 100.0 for k, v in metrics.items()), key
