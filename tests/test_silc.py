"""SILC: multi-crop geometry, the DINO head and loss with centring, both image-text losses, the config."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.structures import BaseDataElement
from torchvision.ops import roi_align

import mmdistill  # noqa: F401
from mmdistill.distill import DINOHead, Distiller, MultiCrop
from mmdistill.distill.terms import DINOLoss, ImageTextContrastiveLoss
from mmdistill.registry import MODELS


def test_multi_crop_boxes_match_the_crops():
    images = torch.randn(3, 3, 60, 80)
    sampler = MultiCrop(num_global=2, num_local=8, global_size=32, local_size=16, flip=0.0)
    views = sampler.views(images, [(60, 80)] * 3, torch.Generator().manual_seed(0), None, 0)
    for name, n, (lo, hi), size in (('global', 2, (0.4, 1.0), 32), ('local', 8, (0.05, 0.4), 16)):
        view = views[name]
        assert view.source.tolist() == [0, 1, 2] * n  # crop-major rows
        boxes = view.source_boxes
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) / (60 * 80)
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 80 + 1e-4).all() and (boxes[:, 3] <= 60 + 1e-4).all()
        assert (area <= hi + 1e-4).all() and (area >= lo * 0.75 - 1e-4).all()  # clipped sides may lose area
        crops = view.images((99, 99))
        assert crops.shape == (3 * n, 3, size, size)
        rois = torch.cat([view.source[:, None].float(), boxes], 1)
        torch.testing.assert_close(crops, roi_align(images, rois, (size, size), 1.0, -1, True))
    # the student of a crop of one image sees that image: a constant image per source
    flat = torch.arange(3.0)[:, None, None, None].expand(3, 3, 60, 80).contiguous()
    local = sampler.views(flat, [(60, 80)] * 3, torch.Generator().manual_seed(1), None, 0)['local']
    torch.testing.assert_close(local.images(None).mean((1, 2, 3)), local.source.float())


def test_flipped_crops_are_mirrored():
    images = torch.randn(2, 3, 20, 20)
    plain = MultiCrop(num_local=0, global_size=8, flip=0.0).views(images, [(20, 20)] * 2,
                                                                   torch.Generator().manual_seed(0), None, 0)
    flipped = MultiCrop(num_local=0, global_size=8, flip=1.0).views(images, [(20, 20)] * 2,
                                                                     torch.Generator().manual_seed(0), None, 0)
    torch.testing.assert_close(flipped['global'].images(None), plain['global'].images(None).flip(-1))


def dino_reference(s, t, src_s, src_t, center, tau_s, tau_t, same_views=False):
    total, count = 0.0, 0
    for i in range(len(s)):
        for j in range(len(t)):
            if src_s[i] == src_t[j] and not (same_views and i == j):
                p = torch.softmax((t[j] - center[0]) / tau_t, -1)
                total += float(-(p * torch.log_softmax(s[i] / tau_s, -1)).sum())
                count += 1
    return total / count


def test_dino_loss_and_centre_update_against_a_hand_written_reference():
    torch.manual_seed(0)
    loss = DINOLoss(out_dim=6, tau_s=0.1, tau_t=0.04, center_momentum=0.9)
    loss.center.copy_(torch.randn(1, 6))
    s, t = torch.randn(8, 6, requires_grad=True), torch.randn(4, 6)
    src_s, src_t = torch.tensor([0, 1] * 4), torch.tensor([0, 1, 0, 1])
    center = loss.center.clone()
    value = loss(s, t, src_s, src_t)
    expected = dino_reference(s.detach(), t, src_s, src_t, center, 0.1, 0.04)
    assert math.isclose(float(value.detach()), expected, rel_tol=1e-5)
    torch.testing.assert_close(loss.center, 0.9 * center + 0.1 * t.mean(0, keepdim=True))
    value.backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    loss.eval()  # no centre update outside training
    before = loss.center.clone()
    loss(s, t, src_s, src_t)
    assert torch.equal(loss.center, before)
    # one set of views read twice (DINO's global crops): a view is not its own target
    same = DINOLoss(out_dim=6, same_views=True)
    x, src = torch.randn(4, 6), torch.tensor([0, 1, 0, 1])
    ref = dino_reference(x, x, src, src, torch.zeros(1, 6), 0.1, 0.04, same_views=True)
    assert math.isclose(float(same(x, x, src, src)), ref, rel_tol=1e-5)
    assert not math.isclose(ref, dino_reference(x, x, src, src, torch.zeros(1, 6), 0.1, 0.04), rel_tol=1e-3)


def test_dino_head_shape_and_unit_prototypes():
    head = DINOHead(in_dim=8, out_dim=10, hidden_dim=16, bottleneck_dim=4)
    out = head(torch.randn(5, 8))
    assert out.shape == (5, 10) and out.abs().max() <= 1 + 1e-5
    x = torch.randn(2, 8)
    before = head(x)
    head.prototypes.data.mul_(7)  # the prototypes' norm does not matter (weight norm fixed to 1)
    torch.testing.assert_close(head(x), before)


def clip_reference(img, txt, scale):
    logits = scale * img @ txt.t()
    labels = torch.arange(len(img))
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


def siglip_reference(img, txt, scale, bias):
    logits = scale * img @ txt.t() + bias
    z = 2 * torch.eye(len(img)) - 1
    return -F.logsigmoid(z * logits).sum() / len(img)


@pytest.mark.parametrize('kind', ['softmax', 'sigmoid'])
def test_image_text_losses_against_hand_written_references(kind):
    torch.manual_seed(0)
    img = F.normalize(torch.randn(2 * 5, 16), dim=-1)  # 2 views of 5 images, crop-major
    txt = F.normalize(torch.randn(5, 16), dim=-1)
    if kind == 'softmax':
        term = ImageTextContrastiveLoss(kind=kind, logit_scale=20.0)
        ref = [clip_reference(img[v * 5:(v + 1) * 5], txt, 20.0) for v in range(2)]
    else:
        term = ImageTextContrastiveLoss(kind=kind, logit_scale=10.0, logit_bias=-10.0)
        ref = [siglip_reference(img[v * 5:(v + 1) * 5], txt, 10.0, -10.0) for v in range(2)]
    torch.testing.assert_close(term(img, txt), (ref[0] + ref[1]) / 2)
    assert {n for n, p in term.named_parameters()} == ({'log_scale'} if kind == 'softmax' else {'log_scale', 'bias'})
    term(img, txt).backward()
    assert term.log_scale.grad is not None
    # the pretrainer's call: the model's own scale
    torch.testing.assert_close(ImageTextContrastiveLoss(kind)(img[:5], txt, torch.tensor(5.0)),
                               clip_reference(img[:5], txt, 5.0) if kind == 'softmax'
                               else siglip_reference(img[:5], txt, 5.0, 0.0))


@pytest.mark.parametrize('kind', ['softmax', 'sigmoid'])
def test_image_text_losses_normalise_the_embeddings(kind):
    """CLIP's loss is on unit vectors: embeddings of any length give the loss of their directions."""
    torch.manual_seed(0)
    img, txt = torch.randn(2 * 5, 16), torch.randn(5, 16)
    term = ImageTextContrastiveLoss(kind=kind, logit_scale=10.0, logit_bias=-10.0 if kind == 'sigmoid' else None)
    torch.testing.assert_close(term(17.0 * img, 0.3 * txt), term(F.normalize(img, dim=-1), F.normalize(txt, dim=-1)))
    assert term(17.0 * img, txt) < 10 * math.log(5) + 20  # not the logits of 17x longer vectors


def test_silc_image_text_loss_is_clips_loss_of_the_towers_embeddings():
    """On the whole image (one global view at scale 1), SILC's image-text term is the CLIP loss of the student
    tower's normalised image embeddings against the text tower's, at the term's scale (the tiny CLIP's)."""
    model = tiny_silc(text_trainable=False, views=dict(num_global=1, global_scale=(1.0, 1.0), ratio=(1.0, 1.0),
                                                       flip=0.0))
    images = torch.randn(4, 3, 32, 32)
    captions = [f'a photo of thing {i}' for i in range(4)]
    samples = [BaseDataElement(metainfo=dict(img_shape=(32, 32), caption=c)) for c in captions]
    with torch.no_grad():
        loss = model.loss(images, samples)['loss_image_text']
        image = F.normalize(model.student.encode_image(images), dim=-1)
        text = model.text_tower(captions)
    torch.testing.assert_close(loss, clip_reference(image, text, 18.56), rtol=1e-4, atol=1e-5)


def tiny_silc(text_trainable: bool, views: dict = None) -> Distiller:
    cfg = Config.fromfile('configs/silc/silc_finetune_synthetic.py')
    cfg.model.views.update(views or {})
    for part in (cfg.model.student, cfg.model.text_tower):
        part.arch, part.checkpoint = 'mmdistill-tiny-ViT-P8', None
    cfg.model.text_tower.trainable = text_trainable
    cfg.model.views.local_size = 16
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def test_silc_config_pairs_local_student_crops_with_global_teacher_crops():
    model = tiny_silc(text_trainable=False)
    images = torch.randn(3, 3, 32, 32)
    samples = [BaseDataElement(metainfo=dict(img_shape=(32, 32), caption=f'a photo of thing {i}')) for i in range(3)]
    ctx, _ = model.step_context(images, samples)
    assert ctx['student.local.head'].shape == (24, 1024) and ctx['ema.global.head'].shape == (6, 1024)
    assert ctx['student.global.cls'].shape == (6, 32) and ctx['student.captions.text'].shape == (3, 32)
    losses = model.loss(images, samples)
    assert set(losses) == {'loss_dino', 'loss_image_text', 'num_boxes'}
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    assert all(p.grad is None for p in model.text_tower.parameters())  # frozen text tower
    assert model.heads['head'].prototypes.grad is not None
    assert all(p.grad is None for p in model.teachers.parameters())
    trainable = tiny_silc(text_trainable=True)
    assert any(p.requires_grad for p in trainable.text_tower.parameters())
    assert not trainable.text_tower.clip.logit_scale.requires_grad  # the term owns the scale



def test_export_takes_the_image_tower_and_the_trained_text_tower(tmp_path):
    from mmdistill.clip.builder import build_clip_model
    from mmdistill.clip.export import export_open_clip
    model = tiny_silc(text_trainable=True)
    with torch.no_grad():
        model.text_tower.clip.token_embedding.weight.add_(1.0)  # as if trained
        model.student.visual.conv1.weight.add_(2.0)
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'iter_1.pth')
    out = export_open_clip(str(tmp_path / 'iter_1.pth'), 'mmdistill-tiny-ViT-P8', str(tmp_path / 'clip.pt'),
                           text_prefix='text_tower.clip.')
    clip = build_clip_model('mmdistill-tiny-ViT-P8', out)
    assert torch.equal(clip.token_embedding.weight, model.text_tower.clip.token_embedding.weight)
    assert torch.equal(clip.visual.conv1.weight, model.student.visual.conv1.weight)
