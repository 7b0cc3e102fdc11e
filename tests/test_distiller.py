"""The distiller: signals computed once, frozen parts frozen, views' geometry, EMA teacher, signal keys."""
import math
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.structures import BaseDataElement

import mmdistill  # noqa: F401
from mmdistill.clip.pooling import crop_and_resize
from mmdistill.distill import Distiller, GridPatches, ProposalBoxes, RandomCrops
from mmdistill.distill.views import resize_longest_side
from mmdistill.engine import TeacherUpdateHook
from mmdistill.registry import MODELS

VIT = 'mmdistill-tiny-ViT-P8'


def tiny_distiller(terms=None, teachers=None, views=None, **kwargs) -> Distiller:
    torch.manual_seed(0)
    return Distiller(
        student=dict(type='CLIPTower', arch=VIT, trainable='blocks'),
        teachers=teachers or dict(frozen=dict(type='FrozenTeacher')),
        views=views or dict(type='GridPatches', max_split=3, max_cells=5),
        terms=terms or [dict(name='clipself', type='RegionToCLSLoss', student='student.image.regions',
                             teacher='frozen.crops.cls')],
        student_size=48, token_size=2, **kwargs)


def batch(n=2, size=32, proposals=None):
    samples = []
    for i in range(n):
        meta = dict(img_shape=(size, size))
        if proposals is not None:
            meta['proposals'] = proposals[i]
        samples.append(BaseDataElement(metainfo=meta))
    return torch.randn(n, 3, size, size), samples


def test_teacher_forward_runs_once_for_all_terms():
    model = tiny_distiller(terms=[
        dict(name='a', type='RegionToCLSLoss', student='student.image.regions', teacher='frozen.crops.cls'),
        dict(name='b', type='RegionToCLSLoss', loss_weight=0.5, student='student.image.regions',
             teacher='frozen.crops.cls'),
        dict(name='scd', type='SpatialCorrelationLoss', student='student.image.region_tokens',
             teacher='frozen.image.region_tokens'),
    ])
    calls = {'teacher': 0, 'student': 0}
    model.teachers['frozen'].tower.register_forward_hook(lambda *a: calls.__setitem__('teacher', calls['teacher'] + 1))
    model.student.register_forward_hook(lambda *a: calls.__setitem__('student', calls['student'] + 1))
    images, samples = batch()
    losses = model.loss(images, samples)
    # one teacher forward on the crops, one on the student image; one student forward
    assert calls == {'teacher': 2, 'student': 1}
    assert set(losses) == {'loss_a', 'loss_b', 'loss_scd', 'num_boxes'}
    torch.testing.assert_close(losses['loss_b'], 0.5 * losses['loss_a'])
    assert 0 < float(losses['loss_a'].detach()) < 2


def test_a_train_step_moves_blocks_only():
    model = tiny_distiller()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optim = OptimWrapper(torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.0))
    images, samples = batch()
    model.train_step(dict(inputs=images, data_samples=samples), optim)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])} - {'view_step'}
    assert changed and all(k.startswith('student.visual.transformer.') for k in changed)
    assert not any(k.startswith('teachers.') for k in changed)
    assert all(not p.requires_grad for p in model.teachers.parameters())


def test_ema_teacher_follows_the_student():
    model = tiny_distiller(teachers=dict(ema=dict(type='EMATeacher', momentum=0.5)),
                           terms=[dict(name='g2g', type='RegionToCLSLoss', student='student.image.regions',
                                       teacher='ema.crops.cls')])
    student_w = model.student.visual.transformer.resblocks[0].mlp.c_fc.weight
    ema_w = model.teachers['ema'].tower.visual.transformer.resblocks[0].mlp.c_fc.weight
    optim = OptimWrapper(torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=10.0))
    images, samples = batch()
    start = ema_w.detach().clone()
    torch.testing.assert_close(start, student_w.detach())  # the average starts as the student
    hook, runner = TeacherUpdateHook(), SimpleNamespace(model=model, message_hub=MessageHub.get_instance('ema'))
    for _ in range(2):  # every update averages, the first one too
        teacher_before = ema_w.detach().clone()
        model.train_step(dict(inputs=images, data_samples=samples), optim)
        assert torch.equal(ema_w, teacher_before)  # the model alone moves no teacher: the hook does
        hook.after_train_iter(runner, 0)
        assert not torch.equal(student_w.detach(), teacher_before)
        torch.testing.assert_close(ema_w, 0.5 * teacher_before + 0.5 * student_w.detach())


def test_unknown_signal_fails_at_build_time():
    with pytest.raises(KeyError, match="names no student, teacher or view"):
        tiny_distiller(terms=[dict(name='x', type='RegionToCLSLoss', student='student.image.regions',
                                   teacher='refined.crops.cls')])
    with pytest.raises(KeyError, match="needs signal keys for \\['teacher'\\]"):
        tiny_distiller(terms=[dict(name='x', type='RegionToCLSLoss', student='student.image.regions')])


def test_grid_patches_geometry():
    gen = torch.Generator().manual_seed(0)
    sampler = GridPatches(max_split=6, max_cells=20)
    for _ in range(50):
        boxes = sampler.sample_image(60, 90, gen)
        assert 1 <= len(boxes) <= 20
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= 90 + 1e-4).all() and (boxes[:, 3] <= 60 + 1e-4).all()
        widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        m, n = round(60 / float(heights[0])), round(90 / float(widths[0]))
        assert 1 <= m <= 6 and math.ceil(m / 2) <= n <= min(2 * m, 6)
        assert torch.allclose(widths, widths[0]) and torch.allclose(heights, heights[0])


def test_proposals_filtered_limited_expanded_and_empty():
    gen = torch.Generator().manual_seed(0)
    props = torch.tensor([[0, 0, 2, 2, .9], [10, 10, 30, 20, .8], [0, 0, 100, 100, .7]] + [[5, 5, 15, 15, .5]] * 10)
    views = ProposalBoxes(max_num=20, min_area=16, max_area=40 * 40, crop_expand=1.5)(
        [(40, 40), (40, 40)], gen, [props, torch.zeros(0, 5)])
    assert len(views.boxes[0]) == 12 and len(views.boxes[1]) == 0
    assert len(ProposalBoxes(max_num=5, min_area=16)([(40, 40)], gen, [props]).boxes[0]) == 5
    areas = (views.boxes[0][:, 2] - views.boxes[0][:, 0]) * (views.boxes[0][:, 3] - views.boxes[0][:, 1])
    assert (areas >= 16).all() and (areas <= 1600).all()  # the 2x2 box is gone; the 100px box clipped to 40x40
    crop = views.crop_boxes[0][(views.boxes[0] == torch.tensor([10., 10., 30., 20.])).all(1)][0]
    torch.testing.assert_close(crop, torch.tensor([5., 7.5, 35., 22.5]))
    # a batch whose images have no proposal at all still gives a finite loss
    model = tiny_distiller(views=dict(type='ProposalBoxes'))
    images, samples = batch(proposals=[torch.zeros(0, 5), torch.zeros(0, 5)])
    losses = model.loss(images, samples)
    assert torch.isfinite(losses['loss_clipself']) and float(losses['num_boxes']) == 0


def test_random_crops_scale_range():
    views = RandomCrops(num=4, scale=(0.3, 0.7))([(50, 80)], torch.Generator().manual_seed(1))
    sides = (views.boxes[0][:, 2:] - views.boxes[0][:, :2]) / torch.tensor([80., 50.])
    assert len(views.boxes[0]) == 4 and (sides >= 0.3 - 1e-6).all() and (sides <= 0.7 + 1e-6).all()
    assert (views.boxes[0][:, :2] >= 0).all() and (views.boxes[0][:, 2] <= 80).all()


def test_teacher_crop_shows_the_students_region():
    # A smooth image so that resampling twice (student resize, then crop) matches cropping once.
    y, x = torch.meshgrid(torch.linspace(0, 1, 40), torch.linspace(0, 1, 60), indexing='ij')
    image = torch.stack([x, y, x * y])[None]
    student, scales = resize_longest_side(image, [(40, 60)], 120)
    assert student.shape == (1, 3, 120, 120) and float(scales[0]) == 2.0
    box = torch.tensor([[12., 8., 36., 32.]])
    from_original = crop_and_resize(image, [box], (16, 16))
    from_student = crop_and_resize(student, [box * scales[0]], (16, 16))
    torch.testing.assert_close(from_student, from_original, atol=0.02, rtol=0)


def test_registered_views_and_terms_build():
    assert isinstance(MODELS.build(dict(type='GridPatches')), GridPatches)
    assert MODELS.get('RegionToCLSLoss').inputs == ('student', 'teacher')


def test_refiner_stage_learns_and_keeps_the_tower_frozen():
    tower = dict(type='CLIPTower', arch=VIT, trainable='none')
    torch.manual_seed(0)
    model = Distiller(
        student=dict(type='Refiner', tower=tower, depth=1, inter_layers=None, hidden_dim=32),
        teachers=dict(frozen=dict(type='FrozenTeacher', tower=tower)),
        views=dict(type='RandomCrops', num=4, scale=(0.3, 0.7)),
        terms=[dict(name='refine', type='TokenContrastiveLoss', normalize=True, tau=0.1,
                    pred='student.image.region_tokens', target='frozen.stretched.grid_tokens')],
        student_size=64, token_size=4)
    tower_before = {k: v.clone() for k, v in model.student.tower.state_dict().items()}
    params = [p for p in model.parameters() if p.requires_grad]
    assert params and all(not p.requires_grad for p in model.student.tower.parameters())
    optim = OptimWrapper(torch.optim.Adam(params, lr=2e-3))
    images, samples = batch(n=2)
    losses = []
    for _ in range(30):
        model.view_step.zero_()  # the same crops each step: a fixed problem to fit
        losses.append(float(model.train_step(dict(inputs=images, data_samples=samples), optim)['loss_refine'].detach()))
    assert losses[-1] < losses[0] - 0.3, losses
    for k, v in model.student.tower.state_dict().items():
        assert torch.equal(v, tower_before[k]), k


def test_r_sc_v_on_a_dinov2_tower():
    tower = dict(type='CLIPTower', arch='timm:mmdistill_dinov2_tiny_p8', dense_path='plain')
    model = Distiller(
        student=dict(tower, trainable='blocks'),
        teachers=dict(refined=dict(type='RefinerTeacher', refiner=dict(
            type='Refiner', tower=dict(tower, trainable='none'), depth=1, inter_layers=None, hidden_dim=32))),
        views=dict(type='GridPatches', max_split=3, max_cells=5),
        terms=[dict(name='scd', type='SpatialCorrelationLoss', student='student.image.region_tokens',
                    teacher='refined.image.region_tokens')],
        student_size=48, token_size=3)
    images, samples = batch()
    losses = model.loss(images, samples)
    losses['loss_scd'].backward()
    grads = [p.grad for p in model.student.parameters() if p.requires_grad]
    assert torch.isfinite(losses['loss_scd']) and any(g is not None and g.abs().sum() > 0 for g in grads)
    assert all(p.grad is None for p in model.teachers.parameters())


def test_view_sampler_state_survives_a_checkpoint():
    model = tiny_distiller()
    images, samples = batch()
    model.loss(images, samples)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    expected = model.step_context(images, samples)[0]['student.image.regions']  # what the run draws next
    resumed = tiny_distiller()
    resumed.load_state_dict(state)
    torch.testing.assert_close(resumed.step_context(images, samples)[0]['student.image.regions'], expected)
    fresh = tiny_distiller()
    assert fresh.step_context(images, samples)[0]['view.image.source'].tolist() == [0, 1]
    assert int(fresh.view_step) == 1 and int(resumed.view_step) == 2


def test_a_two_part_signal_key_is_a_build_time_error_naming_the_key_and_the_form():
    for key in ('frozen.crop_tokens', 'frozen.region_tokens'):
        with pytest.raises(KeyError, match=rf"teacher='{key}' is not a signal key model\.view\.readout \(e\.g\. "
                                           r"'student\.image\.regions'"):
            tiny_distiller(terms=[dict(name='scd', type='SpatialCorrelationLoss', student='student.image.region_tokens',
                                       teacher=key)])
    model = tiny_distiller(terms=[dict(name='scd', type='SpatialCorrelationLoss',
                                       student='student.image.region_tokens', teacher='frozen.stretched.grid_tokens')])
    assert model.bindings == {'scd': {'student': 'student.image.region_tokens',
                                      'teacher': 'frozen.stretched.grid_tokens'}}
