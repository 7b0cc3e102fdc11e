"""F-ViT in mmdet 3.x: backbone, cosine text classifier, masked cross-entropy, the CLIP ensemble, vocabularies."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

import mmdistill  # noqa: F401
from mmdistill.det import FViT, FViTBBoxHead, geometric_ensemble

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
WORLD_CONFIG = osp.join(REPO, 'configs/fvit/fvit_tinyclip-p12_fpn_1xb8-250it_ov-synthetic.py')
ARCH = 'mmdistill-tiny-ViT-P8'  # patch 8, width 48, 2 blocks, 32-d embeddings; random weights
CLASSES = ['red circle', 'blue star', 'green square', 'dotted heart']
BASE = ['red circle', 'green square']


ENSEMBLE = dict(alpha=0.1, beta=0.8, temperature=75.0)


def tiny_model_cfg(classes=CLASSES, base=BASE, ensemble=ENSEMBLE) -> dict:
    """The world config's model on a random 2-block tower (pyramid strides 2 / 4 / 8 / 16)."""
    cfg = copy.deepcopy(Config.fromfile(WORLD_CONFIG).model.to_dict())
    cfg['data_preprocessor']['pad_size_divisor'] = 16
    cfg['backbone'].update(tower=dict(type='CLIPTower', arch=ARCH, checkpoint=None), out_indices=(0, 0, 1, 1))
    cfg['neck']['in_channels'] = [48] * 4
    cfg['rpn_head']['anchor_generator']['strides'] = [2, 4, 8, 16, 32]
    cfg['roi_head']['bbox_roi_extractor']['featmap_strides'] = [2, 4, 8, 16]
    head = cfg['roi_head']['bbox_head']
    head.update(fc_out_channels=32, ensemble=ensemble,
                vocabulary=dict(classes=classes, base_classes=base, templates=['a {}.'],
                                                text=dict(arch=ARCH, checkpoint=None)))
    return cfg


def build(cfg: dict) -> FViT:
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(ConfigDict(cfg))


@pytest.fixture(scope='module')
def model() -> FViT:
    torch.manual_seed(0)
    return build(tiny_model_cfg())


def samples(n: int = 2, size: int = 64) -> list:
    out = []
    for _ in range(n):
        s = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size),
                                        scale_factor=(1.0, 1.0), batch_input_shape=(size, size)))
        s.gt_instances = InstanceData(bboxes=torch.tensor([[4.0, 6.0, 30.0, 40.0], [20.0, 10.0, 60.0, 50.0]]),
                                      labels=torch.tensor([0, 2]))  # base classes only
        out.append(s)
    return out


def test_backbone_is_frozen_without_graph(model):
    backbone = model.backbone
    model.train()
    assert not backbone.tower.training and backbone.adapters.training
    assert not any(p.requires_grad for p in backbone.tower.parameters())
    levels, dense = backbone(torch.randn(2, 3, 64, 64))
    assert [tuple(x.shape[-2:]) for x in levels] == [(32, 32), (16, 16), (8, 8), (4, 4)]
    assert backbone.strides == (2.0, 4.0, 8.0, 16.0)
    assert dense.shape == (2, 32, 8, 8) and dense.grad_fn is None and not dense.requires_grad
    torch.testing.assert_close(dense.norm(dim=1), torch.ones(2, 8, 8))
    # the tower records no graph: the only graph is the adapters' (identity level: none at all)
    assert levels[2].grad_fn is None and levels[0].grad_fn is not None
    # the last level is the value path's last block, as the CLIP dense map is
    out = backbone.tower(torch.randn(1, 3, 64, 64), dense=True, layers=[1])
    assert not torch.allclose(out.dense_tokens, out.layers[1])


def test_cosine_classifier_uses_text_embeddings_and_background(model):
    head = model.roi_head.bbox_head
    assert head.num_classes == len(CLASSES) and head.fc_cls.embeddings.shape == (len(CLASSES) + 1, 32)
    assert head.fc_cls.temperature.item() == 50.0 and head.fc_cls.temperature.requires_grad
    x = torch.randn(5, 32)
    expected = F.normalize(x, dim=-1) @ head.fc_cls.embeddings.T * 50.0
    torch.testing.assert_close(head.fc_cls(x), expected)
    assert head.is_base.tolist() == [True, False, True, False, True]  # background counts as base


def test_masked_cross_entropy_equals_hand_computation_and_novel_get_no_gradient(model):
    head = model.roi_head.bbox_head
    torch.manual_seed(1)
    logits = torch.randn(6, 5, requires_grad=True)
    labels = torch.tensor([0, 2, 4, 4, 0, 4])  # 4 = background
    n = len(labels)
    losses = head.loss(logits, None, None, labels, torch.ones(n), torch.zeros(n, 4), torch.zeros(n, 4))
    masked = logits.detach().clone()
    masked[:, [1, 3]] = float('-inf')
    weight = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.6])
    expected = (-masked.log_softmax(-1)[torch.arange(n), labels] * weight[labels]).sum() / n
    torch.testing.assert_close(losses['loss_cls'], expected)
    losses['loss_cls'].backward()
    assert torch.all(logits.grad[:, [1, 3]] == 0) and torch.all(logits.grad[:, [0, 2, 4]].abs().sum(0) > 0)


def test_geometric_ensemble_equals_hand_computation(model):
    head = model.roi_head.bbox_head
    torch.manual_seed(2)
    roi_feats = torch.randn(3, head.in_channels, 7, 7)
    clip = F.normalize(torch.randn(3, 32), dim=-1)
    head.eval()
    logits, _ = head(roi_feats)
    ens, _ = head(roi_feats, clip)
    p_det = logits.softmax(-1)
    p_clip = (75.0 * clip @ head.fc_cls.embeddings.T).softmax(-1)
    a = torch.tensor([0.1, 0.8, 0.1, 0.8, 0.1])  # base classes and background: alpha; novel: beta
    expected = p_det ** (1 - a) * p_clip ** a
    torch.testing.assert_close(geometric_ensemble(logits, 75.0 * clip @ head.fc_cls.embeddings.T, a), expected)
    torch.testing.assert_close(ens, expected)
    # the scores reach mmdet's NMS as they are (no softmax): the kept boxes carry ensemble scores
    rois = torch.tensor([[0, 4.0, 4.0, 30.0, 30.0], [0, 10.0, 8.0, 40.0, 44.0], [0, 2.0, 20.0, 20.0, 50.0]])
    cfg = ConfigDict(score_thr=0.0, nms=dict(type='nms', iou_threshold=0.99), max_per_img=100)
    result = head.predict_by_feat((rois,), (ens,), (torch.zeros(3, 4),), [dict(img_shape=(64, 64))], cfg)[0]
    kept = expected[:, :-1].flatten().sort(descending=True).values
    torch.testing.assert_close(result.scores.sort(descending=True).values, kept[:len(result.scores)])
    head.train()


def test_losses_and_predictions_through_mmdet(model):
    torch.manual_seed(3)
    model.train()
    data = model.data_preprocessor(dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)] * 2,
                                        data_samples=samples()), training=True)
    losses = model(**data, mode='loss')
    for key in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'):
        value = losses[key] if isinstance(losses[key], torch.Tensor) else sum(losses[key])
        assert torch.isfinite(value), key
    total = sum(v.sum() if isinstance(v, torch.Tensor) else sum(v) for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert all(p.grad is None for p in model.backbone.tower.parameters())
    assert model.roi_head.bbox_head.fc_cls.temperature.grad is not None
    model.eval()
    with torch.no_grad():
        preds = model(**model.data_preprocessor(dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)],
                                                     data_samples=samples(1)), training=False), mode='predict')
    labels = preds[0].pred_instances.labels
    assert len(labels) > 0 and int(labels.max()) < len(CLASSES)
    assert torch.all(preds[0].pred_instances.scores <= 1.0)


def test_a_new_vocabulary_changes_the_predicted_classes():
    torch.manual_seed(4)
    model = build(tiny_model_cfg()).eval()
    inputs = dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)], data_samples=samples(1))
    with torch.no_grad():
        before = model(**model.data_preprocessor(copy.deepcopy(inputs)), mode='predict')[0].pred_instances
        model.set_vocabulary(['yellow cross', 'orange triangle'])
        after = model(**model.data_preprocessor(copy.deepcopy(inputs)), mode='predict')[0].pred_instances
    assert model.vocabulary == ['yellow cross', 'orange triangle'] and model.dataset_meta['classes'][1] == \
        'orange triangle'
    assert int(before.labels.max()) >= 2 and set(after.labels.tolist()) <= {0, 1} and len(after.labels) > 0
    # unseen names count as novel (beta), as classes absent from training do
    assert model.roi_head.bbox_head.is_base.tolist() == [False, False, True]


def test_bad_vocabularies_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r"not in the vocabulary: \['purple moon'\]"):
        build(tiny_model_cfg(base=['red circle', 'purple moon']))
    split = tmp_path / 'split.json'
    split.write_text('{"base": ["red circle", "ghost"], "novel": ["blue star"]}')
    with pytest.raises(ValueError, match=r"split.json names classes that are not in the vocabulary: \['ghost'\]"):
        build(tiny_model_cfg(base=str(split)))
    with pytest.raises(ValueError, match=r"more than once: \['blue star'\]"):
        build(tiny_model_cfg(classes=CLASSES + ['blue star']))
    cfg = tiny_model_cfg()
    cfg['roi_head']['bbox_head']['fc_out_channels'] = 24
    with pytest.raises(ValueError, match='fc_out_channels is 24 but the text embeddings'):
        build(cfg)


def test_missing_tower_checkpoint_names_the_file(tmp_path):
    cfg = tiny_model_cfg()
    cfg['backbone']['tower']['checkpoint'] = str(tmp_path / 'no_such_tower.pt')
    with pytest.raises(FileNotFoundError, match='no_such_tower.pt'):
        build(cfg)


def test_vocabulary_check_hook_names_missing_classes(model):
    from types import SimpleNamespace

    from mmdistill.det import VocabularyCheckHook
    dataset = SimpleNamespace(metainfo=dict(classes=('red circle', 'blue star', 'purple moon')))
    runner = SimpleNamespace(model=model, test_dataloader=SimpleNamespace(dataset=dataset))
    with pytest.raises(ValueError, match=r"missing from the vocabulary \['purple moon'\]"):
        VocabularyCheckHook().before_test(runner)
    dataset.metainfo = dict(classes=tuple(model.vocabulary))
    VocabularyCheckHook().before_test(runner)  # equal: no error
    assert isinstance(model.roi_head.bbox_head, FViTBBoxHead)


def test_norm_rpn_head_of_ov_lvis_equals_conv_norm_relu_by_hand():
    """OV-LVIS's RPN head (official F-ViT: CustomRPNHead, 2 convs with SyncBN) as the config builds it, BN for
    SyncBN in one process: objectness and deltas equal (conv -> norm -> ReLU) x 2 -> 1x1 convs by hand."""
    from mmdistill.det import NormRPNHead
    cfg = Config.fromfile(osp.join(REPO, 'configs/fvit/fvit_eva02-b16_fpn_8xb8-48e_ov-lvis-1024.py')).model.rpn_head
    cfg = dict(cfg.to_dict(), in_channels=8, feat_channels=8, norm_cfg=dict(type='BN', requires_grad=True))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet'):
        head = MODELS.build(cfg).eval()
        with pytest.raises(ValueError, match='num_convs >= 2'):
            MODELS.build(dict(cfg, num_convs=1))
    assert type(head) is NormRPNHead and len(head.rpn_conv) == 2
    for block in head.rpn_conv:
        assert isinstance(block.norm, torch.nn.BatchNorm2d) and block.conv.bias is None
        block.norm.running_mean.normal_()
        block.norm.running_var.uniform_(0.5, 2.0)
        block.norm.weight.data.normal_()
        block.norm.bias.data.normal_()
    x = torch.randn(2, 8, 12, 10)
    with torch.no_grad():
        scores, deltas = head.forward_single(x)
        ref = x
        for block in head.rpn_conv:
            bn = block.norm
            ref = F.relu(F.batch_norm(F.conv2d(ref, block.conv.weight, padding=1), bn.running_mean, bn.running_var,
                                      bn.weight, bn.bias, False, 0.0, bn.eps))
        torch.testing.assert_close(scores, F.conv2d(ref, head.rpn_cls.weight, head.rpn_cls.bias))
        torch.testing.assert_close(deltas, F.conv2d(ref, head.rpn_reg.weight, head.rpn_reg.bias))
    assert scores.shape == (2, 3, 12, 10) and deltas.shape == (2, 12, 12, 10)
