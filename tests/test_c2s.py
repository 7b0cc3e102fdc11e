"""C2S (paper 003): losses against hand-written references, the CLS bank (also across 2 processes), latent class
mining, the segmentor's training / test paths and the export to a stock mmseg model."""
import math
import os.path as osp

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmdistill  # noqa: F401
from mmdistill.models.contrastive import info_nce
from mmdistill.seg.c2s import (
    CLSTokenBank,
    LatentClassMiner,
    LatentEmbeddingGenerator,
    NELLoss,
    PixelCrossEntropyLoss,
    PrototypeCosineLoss,
    PrototypeInfoNCELoss,
    PrototypeL2Loss,
    ResidualProjector,
    class_prototypes,
    connected_components,
    export_student,
    global_prototypes,
    nel_loss,
)
from mmdistill.seg.c2s.export import student_config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
ARCH = 'mmdistill-tiny-ViT-P8'  # embed_dim 32, native 32 px
CLASSES = ['cat', 'dog', 'car', 'tree', 'road', 'sky']
UNSEEN = ['car', 'road']


def c2s_cfg(**overrides) -> ConfigDict:
    cfg = ConfigDict(
        type='C2SSegmentor',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[120.0, 110.0, 100.0], std=[60.0, 60.0, 60.0],
                               size=(32, 32)),
        backbone=dict(type='MixVisionTransformer', in_channels=3, embed_dims=8, num_stages=4, num_layers=[1, 1, 1, 1],
                      num_heads=[1, 1, 1, 1], patch_sizes=[7, 3, 3, 3], sr_ratios=[8, 4, 2, 1],
                      out_indices=(0, 1, 2, 3)),
        decode_head=dict(type='SegformerHead', in_channels=[8, 8, 8, 8], in_index=[0, 1, 2, 3], channels=16,
                         num_classes=32, dropout_ratio=0.0, align_corners=False),
        vocabulary=dict(classes=CLASSES, unseen_classes=UNSEEN, templates=['a {}.'],
                        text=dict(arch=ARCH, checkpoint=None)),
        teacher=dict(type='CLIPTower', arch=ARCH, checkpoint=None),
        global_distill=dict(bank_size=8),
        local_distill=dict(),
        latent_mining=dict(window_sizes=(1, 2), merge_threshold=0.9),
        latent_embedding=dict(num_heads=2),
        test_cfg=dict(mode='whole'))
    cfg.update(overrides)
    return cfg


def build(**overrides):
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(c2s_cfg(**overrides))


def samples_with_labels(labels: torch.Tensor) -> list[SegDataSample]:
    out = []
    for lab in labels:
        s = SegDataSample(gt_sem_seg=PixelData(data=lab[None]))
        s.set_metainfo(dict(img_shape=tuple(lab.shape), ori_shape=tuple(lab.shape)))
        out.append(s)
    return out


def seen_labels(batch: int = 2, size: int = 32) -> torch.Tensor:
    """Seen ids 0..3 in quadrants, an ignored (unseen) band in the middle rows."""
    labels = torch.zeros(batch, size, size, dtype=torch.long)
    labels[:, :, size // 2:] = 1
    labels[:, size // 2:, :] += 2
    labels[:, 12:20] = 255
    return labels


# ----------------------------------------------------------------------------- losses
def test_info_nce_equals_hand_computation():
    torch.manual_seed(0)
    q, k = torch.randn(3, 5), torch.randn(4, 5)
    pos = torch.tensor([2, 0, 3])
    qn, kn = F.normalize(q, dim=1), F.normalize(k, dim=1)
    expected = -sum(math.log(math.exp(float(qn[i] @ kn[pos[i]]) / 0.1)
                             / sum(math.exp(float(qn[i] @ kn[j]) / 0.1) for j in range(4))) for i in range(3)) / 3
    assert float(info_nce(q, k, pos, tau=0.1)) == pytest.approx(expected, rel=1e-5)
    empty = torch.zeros(0, 5, requires_grad=True)
    assert float(info_nce(empty, k, torch.zeros(0, dtype=torch.long), 0.1)) == 0.0


def test_global_prototype_equals_hand_computation():
    torch.manual_seed(0)
    feats, cls = torch.randn(2, 6, 3, 4), torch.randn(2, 6)
    out = global_prototypes(feats, cls)
    for b in range(2):
        flat = feats[b].reshape(6, -1)  # (D, L)
        w = torch.softmax(cls[b] @ flat / math.sqrt(6), dim=0)  # (L,)
        torch.testing.assert_close(out[b], (w[None] * flat).sum(1))


def test_class_prototypes_equal_masked_means():
    torch.manual_seed(0)
    feats = torch.randn(2, 4, 5, 5)
    labels = torch.randint(0, 3, (2, 5, 5))
    labels[0, 0] = 255
    labels[1][labels[1] == 2] = 0  # class 2 absent from image 1
    protos, present = class_prototypes(feats, labels, 4)
    for b in range(2):
        for c in range(4):
            mask = labels[b] == c
            assert bool(present[b, c]) == bool(mask.any())
            expected = feats[b][:, mask].mean(1) if mask.any() else torch.zeros(4)
            torch.testing.assert_close(protos[b, c], expected)


def nel_inputs(ignored: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits (2, 3, 4, 4), labels with (or without) ignored pixels, class 2 not valid for image 1."""
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 4)
    labels = torch.randint(0, 3, (2, 4, 4))
    labels[1][labels[1] == 2] = 0
    if ignored:
        labels[0, 0, :2] = 255
        labels[1, 3] = 255
    valid = torch.tensor([[True, True, True], [True, True, False]])
    return logits, labels, valid


def focal_dice_reference(logits, labels, valid, every_pixel: bool) -> float:
    """NEL one (image, class) map at a time in plain scalars: ZegCLIP's SegLossPlus (``every_pixel``: one-hot
    targets with ignored pixels all-zero, focal mean over the whole map, dice over the whole map of each present
    class, both sums over the number of present pairs) or the labelled pixels alone."""
    focal_sum, dice_sum, pairs = 0.0, 0.0, 0
    for b in range(labels.shape[0]):
        keep = torch.ones_like(labels[b], dtype=torch.bool) if every_pixel else labels[b] != 255
        for c in range(logits.shape[1]):
            if not valid[b, c]:
                continue
            xs, ts = logits[b, c][keep].tolist(), (labels[b][keep] == c).float().tolist()
            terms, inter, prob_sum = [], 0.0, 0.0
            for x, t in zip(xs, ts):
                p = 1 / (1 + math.exp(-x))
                pt = p if t else 1 - p
                terms.append(-(0.25 if t else 0.75) * (1 - pt) ** 2 * math.log(pt))
                inter, prob_sum = inter + p * t, prob_sum + p
            focal_sum += sum(terms) / len(terms)
            if sum(ts) > 0:
                pairs += 1
                dice_sum += 1 - (2 * inter + 1) / (prob_sum + sum(ts) + 1)
    return (100 * focal_sum + dice_sum) / pairs


def test_nel_loss_zegclip_form_equals_step_by_step_reference():
    logits, labels, valid = nel_inputs()
    expected = focal_dice_reference(logits, labels, valid, every_pixel=True)
    assert float(nel_loss(logits, labels, valid)) == pytest.approx(expected, rel=1e-5)  # the default form
    assert float(NELLoss()(logits, labels, valid)) == pytest.approx(expected, rel=1e-5)


def test_nel_loss_excluded_form_equals_hand_computation():
    logits, labels, valid = nel_inputs()
    expected = focal_dice_reference(logits, labels, valid, every_pixel=False)
    got = nel_loss(logits, labels, valid, ignored_pixels='excluded')
    assert float(got) == pytest.approx(expected, rel=1e-5)
    assert float(NELLoss(ignored_pixels='excluded')(logits, labels, valid)) == pytest.approx(expected, rel=1e-5)


def test_nel_forms_differ_with_ignored_pixels_and_agree_without():
    logits, labels, valid = nel_inputs(ignored=True)
    negative, excluded = nel_loss(logits, labels, valid), nel_loss(logits, labels, valid, ignored_pixels='excluded')
    assert abs(float(negative) - float(excluded)) > 1e-2
    logits, labels, valid = nel_inputs(ignored=False)
    torch.testing.assert_close(nel_loss(logits, labels, valid), nel_loss(logits, labels, valid,
                                                                         ignored_pixels='excluded'))
    with pytest.raises(ValueError, match='ignored_pixels must be one of'):
        NELLoss(ignored_pixels='dropped')


def test_pixel_cross_entropy_over_valid_classes_and_labelled_pixels():
    logits, labels, valid = nel_inputs()
    total, count = 0.0, 0
    for b in range(2):
        classes = [c for c in range(3) if valid[b, c]]
        for i in range(4):
            for j in range(4):
                if labels[b, i, j] != 255:
                    scores = [float(logits[b, c, i, j]) for c in classes]
                    log_sum = math.log(sum(math.exp(x) for x in scores))
                    total += log_sum - float(logits[b, labels[b, i, j], i, j])
                    count += 1
    assert float(PixelCrossEntropyLoss()(logits, labels, valid)) == pytest.approx(total / count, rel=1e-5)


def test_eq2_dot_product_and_cosine_forms_equal_their_references():
    """Paper 003 Eq. 2 / 4: InfoNCE on ``f^T c / tau`` (``normalize=False``, the default) or on cosines."""
    torch.manual_seed(0)
    protos, pos = 3 * torch.randn(3, 5), torch.tensor([2, 0, 3])
    tokens = F.normalize(torch.randn(4, 5), dim=1)

    def reference(q: torch.Tensor) -> float:
        return -sum(math.log(math.exp(float(q[i] @ tokens[pos[i]]) / 0.07)
                             / sum(math.exp(float(q[i] @ tokens[j]) / 0.07) for j in range(4)))
                    for i in range(3)) / 3

    dot, cosine = PrototypeInfoNCELoss(tau=0.07), PrototypeInfoNCELoss(tau=0.07, normalize=True)
    assert float(dot(protos, tokens, pos)) == pytest.approx(reference(protos), rel=1e-5)
    assert float(cosine(protos, tokens, pos)) == pytest.approx(reference(F.normalize(protos, dim=1)), rel=1e-5)
    assert abs(float(dot(protos, tokens, pos)) - float(cosine(protos, tokens, pos))) > 1e-2
    # the option reaches the segmentor's loss: same weights, same batch, different loss_global
    inputs, samples = torch.randn(2, 3, 32, 32), samples_with_labels(seen_labels())
    got = {}
    for normalize in (False, True):
        model = build(global_distill=dict(loss=dict(type='PrototypeInfoNCELoss', tau=0.07, normalize=normalize),
                                          bank_size=8)).train()
        assert model.distill_terms['global'].normalize is normalize
        torch.manual_seed(1)
        got[normalize] = float(model.loss(inputs, samples)['loss_global'])
    assert abs(got[False] - got[True]) > 1e-3


# ------------------------------------------------------------------------------- bank
def test_bank_keeps_its_size_and_replaces_the_oldest_first():
    bank = CLSTokenBank(size=5, dim=2)
    first = torch.arange(6.).view(3, 2)
    assert bank.push(first).tolist() == [0, 1, 2]
    assert torch.equal(bank.tokens, first)
    second = 10 + torch.arange(6.).view(3, 2)
    assert bank.push(second).tolist() == [3, 4, 0]  # slot 0 held the oldest token
    assert bank.tokens.shape == (5, 2)
    assert torch.equal(bank.tokens[0], second[2]) and torch.equal(bank.tokens[1], first[1])
    with pytest.raises(ValueError, match='holds 5 tokens but a step brings 6'):
        bank.push(torch.zeros(6, 2))
    restored = CLSTokenBank(size=5, dim=2)
    restored.load_state_dict(bank.state_dict())
    assert restored.push(torch.ones(1, 2)).tolist() == [1]


def _gather_worker(rank: int, init_file: str, results) -> None:
    torch.distributed.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=2)
    bank = CLSTokenBank(size=6, dim=2)
    slots = bank.push(torch.full((2, 2), float(rank + 1)))
    results[rank] = (slots.tolist(), bank.tokens.clone())
    torch.distributed.destroy_process_group()


def test_bank_gathers_across_two_processes(tmp_path):
    results = mp.Manager().dict()
    mp.start_processes(_gather_worker, args=(str(tmp_path / 'init'), results), nprocs=2, join=True,
                       start_method='fork')  # spawn would re-import the whole package in each process
    assert results[0][0] == [0, 1] and results[1][0] == [2, 3]
    expected = torch.tensor([[1., 1.], [1., 1.], [2., 2.], [2., 2.]])
    assert torch.equal(results[0][1], expected) and torch.equal(results[1][1], expected)


# ---------------------------------------------------------------------- latent mining
def test_connected_components_by_min_label():
    adj = torch.zeros(1, 5, 5, dtype=torch.bool)
    for i, j in ((0, 3), (3, 4), (1, 2)):
        adj[0, i, j] = adj[0, j, i] = True
    assert connected_components(adj).tolist() == [[0, 1, 1, 0, 0]]


def test_mining_recovers_planted_clusters_and_never_labels_seen_tokens():
    torch.manual_seed(0)
    d, h, w = 16, 8, 8
    directions = F.normalize(torch.randn(4, d), dim=1)
    region = torch.zeros(h, w, dtype=torch.long)  # 0: seen; 1, 2, 3: planted unlabelled clusters
    region[:, 4:6], region[:, 6:], region[6:, :4] = 1, 2, 3
    tokens = directions[region].permute(2, 0, 1) + 0.05 * torch.randn(d, h, w)
    tokens = torch.stack([tokens, tokens.flip(-1)])  # two images, the second mirrored
    unlabelled = torch.stack([region > 0, (region > 0).flip(-1)])
    latent, count = LatentClassMiner(window_sizes=(2, 4), merge_threshold=0.8)(tokens, unlabelled)
    assert count.tolist() == [3, 3]
    for b, reg in enumerate((region, region.flip(-1))):
        assert bool((latent[b][reg == 0] == -1).all())  # seen tokens are never latent
        ids = [latent[b][reg == k].unique().tolist() for k in (1, 2, 3)]
        assert all(len(i) == 1 for i in ids) and len({i[0] for i in ids}) == 3


def test_unlabelled_tokens_follow_the_majority_of_their_pixels():
    labels = torch.zeros(1, 4, 4, dtype=torch.long)
    labels[0, :2, :2] = 255  # cell (0, 0) fully ignored
    labels[0, 2, 2] = 255  # cell (1, 1) a quarter ignored
    free = LatentClassMiner().unlabelled_tokens(labels, (2, 2), 255)
    assert free.tolist() == [[[True, False], [False, False]]]


def test_latent_generator_variants():
    b, u, o, d = 2, 3, 4, 8
    args = (torch.randn(b, u, d), torch.randn(b, u, d), torch.randn(b, d), torch.randn(b, o, d),
            torch.tensor([[True, True, False, False], [False] * 4]))
    for kwargs in (dict(), dict(keys=('local',)), dict(calibrator='mlp'), dict(query='cls', calibrator='mlp')):
        assert LatentEmbeddingGenerator(d, num_heads=2, **kwargs)(*args).shape == (b, u, d)
    assert torch.equal(LatentEmbeddingGenerator(d, calibrator='none')(*args), args[0])
    assert torch.equal(LatentEmbeddingGenerator(d, query='cls', calibrator='none')(*args), args[1])
    with pytest.raises(ValueError, match='calibrator must be one of'):
        LatentEmbeddingGenerator(d, calibrator='lstm')


# ------------------------------------------------------------------------- segmentor
def test_training_step_losses_and_gradients():
    model = build().train()
    labels = seen_labels()
    losses = model.loss(torch.randn(2, 3, 32, 32), samples_with_labels(labels))
    assert set(losses) == {'loss_global', 'loss_local', 'loss_nel', 'loss_ce'}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert model.decode_head.conv_seg.weight.grad.abs().sum() > 0
    assert any(p.grad is not None for p in model.latent_generator.parameters())
    assert int(model.bank.filled) == 2


def test_a_float64_model_computes_its_losses_in_float64():
    """Losses are computed in at least float32 (half-precision outputs upcast), never below the model's
    precision (before, a float64 model met float32 losses and failed)."""
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        model = build().train()
        losses = model.loss(torch.randn(2, 3, 32, 32), samples_with_labels(seen_labels()))
    finally:
        torch.set_default_dtype(default)
    assert set(losses) == {'loss_global', 'loss_local', 'loss_nel', 'loss_ce'}
    assert all(v.dtype == torch.float64 and torch.isfinite(v) for v in losses.values())


def test_seen_only_student_needs_no_teacher_and_ignores_all_ignored_images():
    model = build(teacher=None, global_distill=None, local_distill=None, latent_mining=None,
                  latent_embedding=None).train()
    assert model.teacher is None
    labels = seen_labels()
    labels[1] = 255  # an image with only ignored pixels (NEL's negatives, nothing to the CE) is not a NaN
    losses = model.loss(torch.randn(2, 3, 32, 32), samples_with_labels(labels))
    assert set(losses) == {'loss_nel', 'loss_ce'} and all(torch.isfinite(v) for v in losses.values())
    only_first = model.loss(torch.randn(2, 3, 32, 32)[:1], samples_with_labels(labels[:1]))
    assert torch.isfinite(only_first['loss_ce'])


def test_bad_configs_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match='need a CLIP teacher'):
        build(teacher=None)
    with pytest.raises(ValueError, match='latent_embedding needs latent classes'):
        build(latent_mining=None)
    with pytest.raises(ValueError, match='not in the dataset classes'):
        build(vocabulary=dict(classes=CLASSES, unseen_classes=['car', 'boat'], text=dict(arch=ARCH, checkpoint=None)))
    with pytest.raises(ValueError, match='more than once'):
        build(vocabulary=dict(classes=CLASSES + ['cat'], unseen_classes=UNSEEN, text=dict(arch=ARCH, checkpoint=None)))
    overlapping = tmp_path / 'split.json'
    overlapping.write_text('{"seen": ["cat", "dog", "tree", "sky", "car"], "unseen": ["car", "road"]}')
    with pytest.raises(ValueError, match='car'):
        build(vocabulary=dict(classes=CLASSES, unseen_classes=str(overlapping), text=dict(arch=ARCH, checkpoint=None)))
    with pytest.raises(ValueError, match='teacher embedding dimension'):
        build(decode_head=dict(c2s_cfg().decode_head, num_classes=16))
    model = build(global_distill=dict(bank_size=1)).train()
    with pytest.raises(ValueError, match='bank size of at least 2'):
        model.loss(torch.randn(2, 3, 32, 32), samples_with_labels(seen_labels()))


@torch.no_grad()
def test_test_vocabulary_sizes_whole_and_slide_inference():
    model = build().eval()
    images = torch.randn(1, 3, 32, 32)
    assert model(images, mode='tensor').shape[1] == len(CLASSES)
    model.set_vocabulary(CLASSES + ['boat', 'bus', 'person'])  # larger than any training vocabulary
    metas = [dict(img_shape=(32, 32), ori_shape=(32, 32))]
    whole = model.inference(images, metas)
    model.test_cfg = ConfigDict(mode='slide', crop_size=(32, 32), stride=(16, 16))
    slide = model.inference(images, metas)
    assert whole.shape == slide.shape == (1, 9, 32, 32)
    torch.testing.assert_close(whole, slide)


def test_checkpoints_hold_no_teacher(tmp_path):
    model = build()
    state = model.state_dict()
    assert not [k for k in state if k.startswith('teacher.')]
    assert 'bank.bank' in state
    result = build().load_state_dict(state, strict=True)
    assert not result.missing_keys


@torch.no_grad()
def test_exported_student_is_the_stock_model_and_predicts_the_same():
    model = build().eval()
    torch.nn.init.normal_(model.decode_head.conv_seg.bias)
    state, classes = export_student(model)
    assert classes == CLASSES and not [k for k in state if k.startswith(('teacher', 'bank', 'latent'))]
    cfg = Config(dict(model=c2s_cfg(), test_dataloader=dict(dataset=dict(type='BaseSegDataset'))))
    stock_cfg = student_config(cfg, classes)
    assert stock_cfg.model.type == 'EncoderDecoder' and 'custom_imports' not in stock_cfg
    with DefaultScope.overwrite_default_scope('mmseg'):
        stock = MODELS.build(stock_cfg.model).eval()
    stock.load_state_dict(state, strict=True)
    assert not any('CLIP' in type(m).__name__ for m in stock.modules())
    with DefaultScope.overwrite_default_scope('mmseg'):
        reference = MODELS.build(dict(stock_cfg.model))  # the stock model, freshly built: same parameter count
    assert sum(p.numel() for p in stock.parameters()) == sum(p.numel() for p in reference.parameters())
    images = torch.randn(2, 3, 32, 32)
    metas = [dict(img_shape=(32, 32), ori_shape=(32, 32))] * 2
    torch.testing.assert_close(stock.inference(images, metas), model.inference(images, metas), atol=1e-4, rtol=1e-4)
    model.seen_score_offset = 0.1
    with pytest.raises(ValueError, match='seen_score_offset'):
        export_student(model)


def test_world_configs_build():
    for name in ('c2s_segformer-mit-b0_1xb16-1k_synthetic-96.py',
                 'seen-only_segformer-mit-b0_1xb16-1k_synthetic-96.py'):
        cfg = Config.fromfile(osp.join(REPO, 'configs', 'c2s', name))
        assert cfg.model.type == 'C2SSegmentor' and cfg.default_scope == 'mmseg'
        assert cfg.model.decode_head.num_classes == 128  # the world CLIP's embedding dimension


def test_table4_distillation_losses():
    torch.manual_seed(0)
    protos, tokens, pos = torch.randn(3, 4), torch.randn(5, 4), torch.tensor([4, 0, 2])
    cos = F.cosine_similarity(protos, tokens[pos], dim=-1).mean()
    assert float(PrototypeCosineLoss()(protos, tokens, pos)) == pytest.approx(1 - float(cos), rel=1e-6)
    l2 = sum(float(((protos[i] - tokens[pos[i]]) ** 2).sum()) for i in range(3)) / 3
    assert float(PrototypeL2Loss()(protos, tokens, pos)) == pytest.approx(l2, rel=1e-6)
    empty = torch.zeros(0, 4, requires_grad=True)
    for loss in (PrototypeInfoNCELoss(), PrototypeCosineLoss(), PrototypeL2Loss()):
        assert float(loss(empty, tokens, pos[:0])) == 0.0
    with pytest.raises(ValueError, match="global_distill.loss must be a loss config dict"):
        build(global_distill=dict(loss='infonce'))
    with pytest.raises(ValueError, match="global_distill has unknown keys \\['tau'\\]"):
        build(global_distill=dict(tau=0.07))  # the string-picked settings of before: a clear error


def test_c2s_losses_are_built_from_the_registry():
    for name in ('NELLoss', 'PixelCrossEntropyLoss', 'PrototypeInfoNCELoss', 'PrototypeCosineLoss',
                 'PrototypeL2Loss'):
        assert MODELS.get(name) is not None, name
    world = Config.fromfile(osp.join(REPO, 'configs/c2s/c2s_segformer-mit-b0_1xb16-1k_synthetic-96.py')).model
    model = build(global_distill=dict(world.global_distill, bank_size=8), local_distill=world.local_distill,
                  pixel_losses=world.pixel_losses)
    assert isinstance(model.distill_terms['global'], PrototypeInfoNCELoss)
    # the world keeps the forms it was measured with; the paper configs use Eq. 2's dot product and ZegCLIP's NEL
    assert model.distill_terms['local'].normalize
    assert isinstance(model.pixel_terms['nel'], NELLoss) and model.pixel_terms['nel'].ignored_pixels == 'excluded'
    paper = Config.fromfile(osp.join(REPO, 'configs/c2s/c2s_segformer-mit-b4_8xb2-20k_voc15-5-512x512.py')).model
    assert not paper.global_distill.loss.normalize and not paper.local_distill.loss.normalize
    assert paper.pixel_losses.nel.ignored_pixels == 'negative'
    assert isinstance(model.pixel_terms['ce'], PixelCrossEntropyLoss)
    # a loss registered by a user is named like any other: its value and weight reach the segmentor's losses

    @MODELS.register_module(name='_ConstantPixelLoss', force=True)
    class ConstantPixelLoss(torch.nn.Module):
        def __init__(self, value: float, loss_weight: float = 1.0) -> None:
            super().__init__()
            self.value, self.loss_weight = value, loss_weight

        def forward(self, logits, labels, valid_classes, ignore_index=255):
            return logits.sum() * 0 + self.value

    try:
        model = build(pixel_losses=dict(ce=None, const=dict(type='_ConstantPixelLoss', value=3.0, loss_weight=2.0)))
        losses = model.train().loss(torch.randn(2, 3, 32, 32), samples_with_labels(seen_labels()))
        assert set(losses) == {'loss_global', 'loss_local', 'loss_nel', 'loss_const'}
        assert float(losses['loss_const']) == 6.0
    finally:
        MODELS._module_dict.pop('_ConstantPixelLoss')
    with pytest.raises(KeyError, match='NoSuchLoss'):
        build(pixel_losses=dict(nel=dict(type='NoSuchLoss')))


def test_froster_residual_distillation_equals_hand_computation():
    torch.manual_seed(0)
    protos, pos = torch.randn(3, 4), torch.tensor([4, 0, 2])
    tokens = F.normalize(torch.randn(5, 4), dim=-1)
    proj = ResidualProjector(4, alpha=0.5, hidden_dim=3)
    assert torch.equal(proj(protos), protos)  # the zero last layer: the identity at the start
    with torch.no_grad():
        for param in proj.parameters():
            param.normal_()
    (w1, b1), (w2, b2) = [(m.weight.detach(), m.bias.detach()) for m in (proj.mlp[0], proj.mlp[2])]
    expected = 0.0
    for i in range(3):
        hidden = [sum(float(w1[h, d]) * float(protos[i, d]) for d in range(4)) + float(b1[h]) for h in range(3)]
        hidden = [x * 0.5 * (1 + math.erf(x / math.sqrt(2))) for x in hidden]  # exact GELU
        out = [float(protos[i, d]) + 0.5 * (sum(float(w2[d, h]) * hidden[h] for h in range(3)) + float(b2[d]))
               for d in range(4)]
        norm = math.sqrt(sum(x * x for x in out))
        expected += sum((out[d] / norm - float(tokens[pos[i], d])) ** 2 for d in range(4)) / 3
    got = PrototypeL2Loss(normalize=True)(proj(protos), tokens, pos)
    assert float(got) == pytest.approx(expected, rel=1e-5)
    # Table 4's Froster config: both distillations through their own projector, trained, never exported
    froster = Config.fromfile(osp.join(
        REPO, 'configs/c2s/ablations/c2s-froster-distill_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py'))
    model = build(global_distill=dict(froster.model.global_distill, bank_size=8),
                  local_distill=froster.model.local_distill).train()
    assert isinstance(model.global_projector, ResidualProjector) and model.local_projector.alpha == 0.1
    losses = model.loss(torch.randn(2, 3, 32, 32), samples_with_labels(seen_labels()))
    sum(losses.values()).backward()
    assert model.global_projector.mlp[2].weight.grad.abs().sum() > 0
    assert model.local_projector.mlp[2].weight.grad.abs().sum() > 0
    assert not [k for k in export_student(model.eval())[0] if 'projector' in k]
    assert isinstance(build().global_projector, torch.nn.Identity)  # the paper's InfoNCE: no extra parameter
    with pytest.raises(ValueError, match="local_distill has unknown keys \\['residul'\\]"):
        build(local_distill=dict(residul=dict(alpha=0.1)))


def test_setr_student_trains_with_its_auxiliary_heads_and_exports():
    cfg = Config.fromfile(osp.join(REPO, 'configs/c2s/c2s_setr-vit-b-mla_8xb2-20k_voc15-5-512x512.py')).model
    assert (cfg.backbone.type, cfg.neck.type, cfg.decode_head.type) == ('VisionTransformer', 'MLANeck', 'SETRMLAHead')
    assert cfg.decode_head.num_classes == 512 and {h.num_classes for h in cfg.auxiliary_head} == {512}
    bn = dict(type='BN', requires_grad=True)  # SyncBN needs a process group
    tiny = dict(
        backbone=dict(cfg.backbone, img_size=(32, 32), patch_size=4, embed_dims=16, num_layers=4, num_heads=2,
                      out_indices=(0, 1, 2, 3), init_cfg=None),
        neck=dict(cfg.neck, in_channels=[16] * 4, out_channels=8, norm_cfg=bn),
        decode_head=dict(cfg.decode_head, in_channels=(8,) * 4, mla_channels=4, channels=16, num_classes=32,
                         norm_cfg=bn),
        auxiliary_head=[dict(h, in_channels=8, channels=8, num_classes=32) for h in cfg.auxiliary_head])

    def build_setr(**parts):  # replaces the SegFormer parts of c2s_cfg() instead of merging into them
        model_cfg = c2s_cfg()
        for key, value in parts.items():
            model_cfg[key] = value
        torch.manual_seed(0)
        with DefaultScope.overwrite_default_scope('mmseg'):
            return MODELS.build(model_cfg)

    model = build_setr(**tiny).train()
    losses = model.loss(torch.randn(2, 3, 32, 32), samples_with_labels(seen_labels()))
    assert {f'aux_{i}.loss_ce' for i in range(4)} < set(losses) and all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert all(h.conv_seg.weight.grad.abs().sum() > 0 for h in model.auxiliary_head)
    assert model.backbone.layers[0].attn.attn.in_proj_weight.grad.abs().sum() > 0
    with torch.no_grad():
        logits = model.eval().inference(torch.randn(1, 3, 32, 32), [dict(img_shape=(32, 32), ori_shape=(32, 32))])
    assert logits.shape == (1, len(CLASSES), 32, 32)
    state, _ = export_student(model)
    assert not [k for k in state if k.startswith('auxiliary_head')] and 'neck.norm.0.weight' in state
    with pytest.raises(ValueError, match='auxiliary_head num_classes must be D = 32'):
        build_setr(**dict(tiny, auxiliary_head=dict(tiny['auxiliary_head'][0], num_classes=6)))


def test_real_scale_configs_parse_and_one_builds():
    names = sorted(osp.relpath(p, REPO) for p in __import__('glob').glob(osp.join(REPO, 'configs', 'c2s', '**', '*.py'),
                                                                           recursive=True))
    assert len(names) >= 24
    for name in names:
        model = Config.fromfile(osp.join(REPO, name)).model
        assert model.type == 'C2SSegmentor', name
        assert model.vocabulary.unseen_classes, name
    cfg = Config.fromfile(osp.join(REPO, 'configs/c2s/c2s_segnext-mscan-b_8xb2-20k_voc15-5-512x512.py'))
    cfg.model.backbone.init_cfg = None
    cfg.model.teacher.checkpoint = None
    cfg.model.vocabulary.update(templates=['a {}.'])
    cfg.model.vocabulary.text.checkpoint = None
    cfg.model.decode_head.norm_cfg = dict(type='GN', num_groups=32, requires_grad=True)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
    assert model.seen_classes == [c for c in cfg.classes if c not in cfg.unseen_classes]
    assert model.text.embeddings.shape == (20, 512) and model.teacher_size == (224, 224)


def test_inferencer_with_a_user_vocabulary(tmp_path):
    from mmdistill.seg import OVSegInferencer
    model = build()
    checkpoint = str(tmp_path / 'c2s.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    cfg = Config(dict(model=c2s_cfg(), default_scope='mmseg', visualizer=dict(type='SegLocalVisualizer'),
                      test_dataloader=dict(dataset=dict(pipeline=[dict(type='LoadImageFromFile'),
                                                                  dict(type='PackSegInputs')]))))
    inferencer = OVSegInferencer(cfg, weights=checkpoint, texts='cat,dog,bus', device='cpu')
    image = (torch.rand(40, 56, 3) * 255).to(torch.uint8).numpy()
    result = inferencer(image, return_vis=True)
    assert result['predictions'].shape == (40, 56) and int(result['predictions'].max()) < 3
    assert result['visualization'].shape[0] >= 40 and result['visualization'].shape[1] > 56  # overlay + legend


@pytest.fixture(scope='module')
def small_world(tmp_path_factory):
    from mmdistill.datasets.synthetic import generate_world
    root = str(tmp_path_factory.mktemp('world'))
    generate_world(root, seed=5, num_train=32, num_val=6, workers=1, progress=False)
    return root


def world_run_config(name: str, world: str, work_dir: str) -> Config:
    """A world C2S config on ``world`` with random CLIP weights, a few steps, no worker processes."""
    from mmdistill.apis.runs import load_run_config
    cfg = load_run_config(osp.join(REPO, 'configs', 'c2s', name), work_dir, world)
    if cfg.model.get('teacher'):
        cfg.model.teacher.checkpoint = None
    cfg.model.vocabulary.update(templates=['a {}.'])
    cfg.model.vocabulary.text.checkpoint = None
    cfg.merge_from_dict({'train_cfg.max_iters': 3, 'train_cfg.val_interval': 3, 'train_dataloader.batch_size': 4,
                         'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
                         'val_dataloader.num_workers': 0, 'val_dataloader.persistent_workers': False,
                         'test_dataloader.num_workers': 0, 'test_dataloader.persistent_workers': False,
                         'default_hooks.checkpoint.interval': 3, 'param_scheduler': []})
    return cfg


def test_world_configs_train_test_and_draw_the_comparison(small_world, tmp_path):
    from mmengine.runner import Runner

    from mmdistill.visualization.predictions import draw_segmentation_comparison
    models = []
    for name, label in (('seen-only_segformer-mit-b0_1xb16-1k_synthetic-96.py', 'seen only'),
                        ('c2s_segformer-mit-b0_1xb16-1k_synthetic-96.py', 'C2S')):
        cfg = world_run_config(name, small_world, str(tmp_path / label))
        runner = Runner.from_cfg(cfg)
        runner.train()
        metrics = runner.val_loop.run()
        assert {'mIoU', 'sIoU', 'uIoU', 'hIoU'} <= set(metrics)
        models.append((label, cfg, str(tmp_path / label / 'iter_3.pth')))
    out = draw_segmentation_comparison(models, str(tmp_path / 'comparison.png'), num_images=2, upscale=2)
    import mmcv
    picture = mmcv.imread(out)
    assert picture.shape[0] >= 2 * 96 * 2 and picture.shape[1] > 4 * 96 * 2  # 2 rows; image, truth, 2 models, legend
