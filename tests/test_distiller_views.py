"""The generalised distiller: build-time key checks, shared towers, native sizes, heads in the EMA, views per
(seed, rank, step) across processes."""
import os
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.structures import BaseDataElement

import mmdistill  # noqa: F401
from mmdistill.distill import Distiller
from mmdistill.distill.views import view_generator
from mmdistill.engine import LossGuardHook, TeacherUpdateHook

VIT = 'mmdistill-tiny-ViT-P8'  # native 32 px
WORLD = 'mmdistill-world-ViT-P12'  # native 96 px


def batch(n=2, size=32):
    samples = [BaseDataElement(metainfo=dict(img_shape=(size, size), caption=f'caption {i}')) for i in range(n)]
    return torch.randn(n, 3, size, size), samples


def build(terms, teachers=None, views=None, **kwargs) -> Distiller:
    torch.manual_seed(0)
    return Distiller(student=dict(type='CLIPTower', arch=VIT),
                     teachers=teachers or dict(frozen=dict(type='FrozenTeacher')),
                     views=views or dict(type='GridPatches', max_split=2, max_cells=3), terms=terms,
                     student_size=48, token_size=2, seed=0, **kwargs)


def clipself(student='student.image.regions', teacher='frozen.crops.cls'):
    return [dict(name='t', type='RegionToCLSLoss', student=student, teacher=teacher)]


@pytest.mark.parametrize('key, message', [
    ('frozen.crops.clss', "'frozen' has no readout 'clss' on view 'crops'; available: \\['cls', 'dense'"),
    ('frozen.crop.cls', "unknown view 'crop'; views of the sampler: \\['image', 'crops', 'stretched'"),
    ('frozzen.crops.cls', "names no student, teacher or view; models: \\['student', 'frozen', 'view'\\]"),
    ('frozen.crops.regions', "no readout 'regions' on view 'crops'"),  # crops have no regions
    ('frozen.crops.head', "no readout 'head'"),  # no heads configured
    ('student.captions.text', "no readout 'text' on view 'captions'"),  # no text tower
])
def test_a_misspelt_signal_key_fails_at_build_time_naming_what_exists(key, message):
    with pytest.raises(KeyError, match=message):
        build(clipself(teacher=key))


def test_a_shared_tower_is_one_object_in_memory_and_in_checkpoints(tmp_path):
    tower = dict(type='CLIPTower', arch=VIT, trainable='none')
    model = build(
        terms=clipself() + [dict(name='scd', type='SpatialCorrelationLoss', student='student.image.region_tokens',
                                 teacher='refined.image.region_tokens')],
        towers=dict(clip=tower),
        teachers=dict(frozen=dict(type='FrozenTeacher', tower='clip'),
                      refined=dict(type='RefinerTeacher', refiner=dict(type='Refiner', tower='clip', depth=1,
                                                                        inter_layers=None, hidden_dim=16))))
    assert model.teachers['frozen'].tower is model.towers['clip'] is model.teachers['refined'].tower
    n_params = sum(p.numel() for p in model.parameters())  # named_parameters counts a shared tensor once
    unshared = build(terms=clipself(), teachers=dict(frozen=dict(type='FrozenTeacher', tower=tower)))
    tower_params = sum(p.numel() for p in model.towers['clip'].parameters())
    refiner_own = sum(p.numel() for n, p in model.teachers['refined'].refiner.named_parameters()
                      if not n.startswith('tower.'))
    assert n_params == sum(p.numel() for p in unshared.parameters()) + refiner_own
    assert tower_params > 0
    torch.save(model.state_dict(), tmp_path / 'a.pth')
    torch.save(unshared.state_dict(), tmp_path / 'b.pth')
    # the shared tower's tensors are stored once although three keys name them
    extra = os.path.getsize(tmp_path / 'a.pth') - os.path.getsize(tmp_path / 'b.pth')
    assert extra < 4 * (refiner_own + tower_params // 2)


def test_two_teachers_of_different_native_sizes_get_crops_of_their_own_sizes():
    model = build(terms=clipself(teacher='small.crops.cls') + [
                  dict(name='b', type='RegionToCLSLoss', student='student.image.regions', teacher='big.crops.cls')],
                  teachers=dict(small=dict(type='FrozenTeacher'),  # the student's copy: native 32 px
                                big=dict(type='FrozenTeacher', tower=dict(type='CLIPTower', arch=WORLD))))  # 96 px
    sizes = {}
    for name in ('small', 'big'):
        model.teachers[name].tower.register_forward_pre_hook(
            lambda m, args, n=name: sizes.setdefault(n, []).append(tuple(args[0].shape[-2:])))
    images, samples = batch()
    ctx, num = model.step_context(images, samples)
    small, big = ctx['small.crops.cls'], ctx['big.crops.cls']
    assert sizes == {'small': [(32, 32)], 'big': [(96, 96)]}  # one forward each, at its own size
    assert small.shape == (num, 32) and big.shape == (num, 128)


def test_native_size_per_model_cuts_each_size_once():
    from mmdistill.distill.views import GridPatches
    images, _ = batch()
    views = GridPatches(max_split=2, max_cells=2).views(images, [(32, 32)] * 2, torch.Generator().manual_seed(0),
                                                        None, 48)
    a, b, c = views['crops'].images((32, 32)), views['crops'].images((16, 16)), views['crops'].images((32, 32))
    assert a.shape[-2:] == (32, 32) and b.shape[-2:] == (16, 16) and a is c
    assert views['image'].images((99, 99)).shape[-2:] == (48, 48)  # a view with its own size keeps it


def test_trainable_by_name_pattern():
    model = build(terms=clipself(), trainable=['student.visual.transformer.resblocks.*.attn.in_proj_weight'])
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(n.endswith('attn.in_proj_weight') and n.startswith('student.') for n in trainable)
    with pytest.raises(KeyError, match='match no parameter'):
        build(terms=clipself(), trainable=['student.nothing.*'])


def test_heads_belong_to_the_student_and_the_ema_teacher_averages_tower_and_head():
    m = 0.25
    model = build(terms=[dict(name='dino', type='DINOLoss', out_dim=16, student='student.crops.head',
                              teacher='ema.image.head', student_source='view.crops.source',
                              teacher_source='view.image.source')],
                  teachers=dict(ema=dict(type='EMATeacher', momentum=m)),
                  heads=dict(head=dict(type='DINOHead', out_dim=16, hidden_dim=8, bottleneck_dim=4)))
    ema = model.teachers['ema']
    pairs = [(model.student.visual.transformer.resblocks[0].mlp.c_fc.weight,
              ema.tower.visual.transformer.resblocks[0].mlp.c_fc.weight),
             (model.heads['head'].prototypes, ema.heads['head'].prototypes),
             (model.heads['head'].mlp[0].weight, ema.heads['head'].mlp[0].weight)]
    optim = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=5.0)
    images, samples = batch()
    before = [t.detach().clone() for _, t in pairs]
    model.train_step(dict(inputs=images, data_samples=samples), OptimWrapper(optim))
    TeacherUpdateHook().after_train_iter(runner_of(model), 0)
    for (s, t), t0 in zip(pairs, before):
        assert not torch.equal(s.detach(), t0)  # the student moved
        torch.testing.assert_close(t, (1 - m) * t0 + m * s.detach())
    assert all(not p.requires_grad and p.grad is None for p in model.teachers.parameters())
    # resumed from a checkpoint, the EMA teacher continues with the same weights and step counter
    resumed = build(terms=[dict(name='dino', type='DINOLoss', out_dim=16, student='student.crops.head',
                                teacher='ema.image.head', student_source='view.crops.source',
                                teacher_source='view.image.source')],
                    teachers=dict(ema=dict(type='EMATeacher', momentum=m)),
                    heads=dict(head=dict(type='DINOHead', out_dim=16, hidden_dim=8, bottleneck_dim=4)))
    resumed.load_state_dict(model.state_dict())
    for k, v in model.teachers.state_dict().items():
        assert torch.equal(resumed.teachers.state_dict()[k], v), k


def _draw(rank: int, world: int, port: int, queue) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        crops = dict(type='RandomCrops', num=3, scale=(0.3, 0.7))
        model = build(terms=clipself(), views=crops)
        images, samples = batch()
        boxes = []
        for step in range(3):
            model.step_context(images, samples)
            views = model.views.views(images, [(32, 32)] * 2, view_generator(0, rank, step), None, 48)
            boxes.append(views['image'].rois)
        state = model.state_dict()
        resumed = build(terms=clipself(), views=crops)
        resumed.load_state_dict(state)  # every rank restores the checkpoint rank 0 saved: the same step counter
        ctx_next = model.step_context(images, samples)[0]
        ctx_resumed = resumed.step_context(images, samples)[0]
        queue.put((rank, [b.tolist() for b in boxes], ctx_next['student.image.regions'].tolist(),
                   ctx_resumed['student.image.regions'].tolist()))
    finally:
        dist.destroy_process_group()


def test_two_processes_draw_different_views_and_keep_them_after_a_resume():
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    port = 29500 + os.getpid() % 1000
    procs = [ctx.Process(target=_draw, args=(r, 2, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    results = {r: (b, nxt, res) for r, b, nxt, res in (queue.get(timeout=300) for _ in procs)}
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    boxes0, next0, resumed0 = results[0]
    boxes1, next1, resumed1 = results[1]
    assert boxes0 != boxes1  # ranks draw different views
    assert next0 == resumed0 and next1 == resumed1  # a resumed rank draws what the uninterrupted one draws
    assert next0 != next1
    # rank 0 draws from the seed itself at step 0 (the views of the first distiller)
    assert view_generator(0, 0, 0).initial_seed() == 0
    seeds = {view_generator(s, r, t).initial_seed() for s in range(3) for r in range(4) for t in range(100)}
    assert len(seeds) == 3 * 4 * 100


def runner_of(model, optim_wrapper=None) -> SimpleNamespace:
    """What the hooks read of a runner, for steps made by hand."""
    return SimpleNamespace(model=model, optim_wrapper=optim_wrapper, iter=0,
                           message_hub=MessageHub.get_instance(f'distiller_views_{id(model)}'))


def test_a_ddp_style_step_updates_the_ema_teacher_through_the_hook():
    """mmengine's DDP wrapper runs forward, backward and the optimiser itself, not ``Distiller.train_step``:
    the teachers follow in ``TeacherUpdateHook``, before the iteration's checkpoint is saved."""
    m = 0.5
    model = build(terms=clipself(teacher='ema.crops.cls'), teachers=dict(ema=dict(type='EMATeacher', momentum=m)))
    student = model.student.visual.transformer.resblocks[0].mlp.c_fc.weight
    teacher = model.teachers['ema'].tower.visual.transformer.resblocks[0].mlp.c_fc.weight
    optim = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=10.0)
    images, samples = batch()
    before = teacher.detach().clone()
    model.loss(images, samples)['loss_t'].backward()
    optim.step()
    assert torch.equal(teacher, before)  # forward, backward and step move no teacher
    TeacherUpdateHook().after_train_iter(runner_of(model), 0)
    torch.testing.assert_close(teacher, (1 - m) * before + m * student.detach())
    state = {k: v.clone() for k, v in model.state_dict().items()}  # the iteration's checkpoint
    resumed = build(terms=clipself(teacher='ema.crops.cls'), teachers=dict(ema=dict(type='EMATeacher', momentum=m)))
    resumed.load_state_dict(state)
    resumed.loss(images, samples)
    torch.testing.assert_close(resumed.teachers['ema'].tower.visual.transformer.resblocks[0].mlp.c_fc.weight,
                               teacher.detach())


def test_a_step_skipped_for_a_non_finite_loss_leaves_the_ema_teacher_where_it_was():
    model = build(terms=clipself(teacher='ema.crops.cls'), teachers=dict(ema=dict(type='EMATeacher', momentum=0.5)))
    optim = OptimWrapper(torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.0))
    teacher = lambda: [t.detach().clone() for t in model.teachers['ema'].parameters()]  # noqa: E731
    images, samples = batch()
    runner = runner_of(model, optim)
    guard, update = LossGuardHook(mode='skip'), TeacherUpdateHook()

    def step(inputs: torch.Tensor) -> None:  # an iteration of the runner, hooks in their priority order
        outputs = model.train_step(dict(inputs=inputs, data_samples=samples), optim)
        guard.after_train_iter(runner, 0, outputs=outputs)
        update.after_train_iter(runner, 0, outputs=outputs)

    guard.before_train(runner)
    try:
        step(images)  # taken: student and teacher now differ
        start = teacher()
        step(images * float('nan'))  # skipped
        assert all(torch.equal(a, b) for a, b in zip(teacher(), start))
        model.loss(images, samples)  # a forward alone moves no teacher either
        assert all(torch.equal(a, b) for a, b in zip(teacher(), start))
        step(images)  # taken: the teacher follows
        assert not all(torch.equal(a, b) for a, b in zip(teacher(), start))
    finally:
        guard.after_train(runner)
    assert 'update_params' not in vars(optim)  # the guard ends with its runner


def test_a_runner_with_the_teacher_update_hook_moves_the_ema_teacher_once_per_taken_step(tmp_path):
    from mmengine.runner import Runner
    m = 0.5
    model = build(terms=clipself(teacher='ema.crops.cls'), teachers=dict(ema=dict(type='EMATeacher', momentum=m)),
                  data_preprocessor=dict(type='ImgDataPreprocessor'))
    student = model.student.visual.transformer.resblocks[0].mlp.c_fc.weight
    teacher = model.teachers['ema'].tower.visual.transformer.resblocks[0].mlp.c_fc.weight
    expected = [teacher.detach().clone()]

    class Record(Hook):
        priority = 'LOWEST'  # after TeacherUpdateHook: the teacher the next step sees

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            expected.append((1 - m) * expected[-1] + m * student.detach())
            torch.testing.assert_close(teacher.detach(), expected[-1])

    images, samples = batch()
    data = [dict(inputs=images[i], data_samples=samples[i]) for i in range(2)] * 4
    runner = Runner(model=model, work_dir=str(tmp_path), experiment_name=f'ema_{tmp_path.name}',
                    train_dataloader=dict(dataset=data, batch_size=2, collate_fn=dict(type='pseudo_collate'),
                                          sampler=dict(type='DefaultSampler', shuffle=False)),
                    train_cfg=dict(by_epoch=False, max_iters=3),
                    optim_wrapper=dict(optimizer=dict(type='SGD', lr=10.0)),
                    custom_hooks=[dict(type='mmdistill.LossGuardHook'), dict(type='mmdistill.TeacherUpdateHook'),
                                  Record()])
    runner.train()
    assert len(expected) == 4 and not torch.equal(expected[-1], expected[0])
