"""Distributed training on CPUs: ``tools/dist_train.sh`` with 2 gloo processes against 1 process with the
same global batch, and the pieces that keep them equal (CPU SyncBN, the DINO centre).

What is compared. Each run logs, per iteration, the loss terms averaged over the processes and the norm
of the gradient the optimiser applies (after DDP's averaging); the weights are compared at the end.
They agree when every sample's loss does not depend on which process draws it:

* the distiller draws its views from ``(seed, rank, step)``, so ranks draw different views on purpose;
  parity is checked with a view sampler that draws nothing at random (one whole-image box per image);
* F-ViT's RoI and anchor samplers draw from torch's global generator, which differs between a rank and
  the 1-process run; parity is checked with the first ``num`` candidates in place of a random choice, the
  same count per image (mmdet normalises by it), a fixed resize (no random augmentation, no padding that
  depends on the batch), and BN turned into SyncBN (``sync_bn='torch'``);
* C2S: no flips, no dropout / drop path, SyncBN; its CLS bank gathers all processes' tokens. The local
  distillation term averages over the (image, class) pairs of each process's batch (as mmseg averages
  per GPU), so its value depends on how the batch is split; parity is checked without it.

Both runs start from the same weights only if nothing before the model's initialisation draws from
torch's generator in one run and not in the other: the text tower built on a text-embedding cache miss
(the first run of a clean clone) initialises from a forked generator (mmdistill/clip/text.py).
"""
import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from train_helpers import RECORD, free_port, needs_world, recording_config, train

# plain SGD without warm-up: weight updates proportional to the gradients (Adam's first steps are
# +-lr whatever the gradient's size, which hides or inflates float noise)
# (the updates are up to lr = 0.05 in size: a weight tolerance of 1e-5 is a 1/5000 check of them, above the
# float noise of summing the gradients of 2 processes in another order)
SGD = """
optim_wrapper = dict(optimizer=dict(_delete_=True, type='SGD', lr=0.05, weight_decay=0.0),
                     clip_grad=dict(max_norm=1.0))
param_scheduler = []
"""


def final_weights(work_dir: Path, iters: int) -> dict:
    return torch.load(work_dir / f'iter_{iters}.pth', map_location='cpu', weights_only=False)['state_dict']


def assert_parity(config: str, tmp_path: Path, batch: int, iters: int, options: list[str] = (),
                  body: str = '') -> list[dict]:
    """1 process with ``batch`` images against 2 processes with ``batch // 2`` each: losses, gradient
    norms and final weights."""
    config = recording_config(config, tmp_path, SGD + body)
    common = RECORD + [f'train_cfg.max_iters={iters}', f'default_hooks.checkpoint.interval={iters}'] + list(options)
    one = train(config, tmp_path / 'one', 1, common + [f'train_dataloader.batch_size={batch}'])
    two = train(config, tmp_path / 'two', 2, common + [f'train_dataloader.batch_size={batch // 2}'])
    assert [r['iter'] for r in one] == [r['iter'] for r in two] == list(range(1, iters + 1))
    for a, b in zip(one, two):
        assert a.keys() == b.keys()
        for key in a:
            assert b[key] == pytest.approx(a[key], rel=2e-4, abs=1e-6), (a['iter'], key, a, b)
    w1, w2 = final_weights(tmp_path / 'one', iters), final_weights(tmp_path / 'two', iters)
    assert w1.keys() == w2.keys()
    for key, value in w1.items():
        if not value.is_floating_point():
            continue
        if key.endswith('bank.bank'):  # the same tokens, in the order the processes were gathered
            value, w2[key] = (v[v.sum(1).argsort()] for v in (value, w2[key]))
        torch.testing.assert_close(w2[key], value, rtol=1e-4, atol=1e-5, msg=key)
    return one


# ------------------------------------------------------------------ in process: SyncBN and the DINO centre
def _half_batch_step(rank: int, world: int, port: int, queue) -> None:
    """On each rank: its half of a fixed batch through SyncBN (turned into CPU SyncBN by the wrapper) and a
    DINO loss; gradients averaged by DDP."""
    from mmengine.model import convert_sync_batchnorm

    from mmdistill.distill.terms.dino import DINOLoss
    from mmdistill.engine import CPUDistributedDataParallel, CPUSyncBatchNorm
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        x, heads, model = _bn_problem()
        model = CPUDistributedDataParallel(convert_sync_batchnorm(model, 'torch'))
        assert isinstance(model.module[1], CPUSyncBatchNorm)
        half = slice(rank * 4, (rank + 1) * 4)
        loss = model(x[half]).square().mean()
        loss.backward()
        dino = DINOLoss(out_dim=8)
        dino.train()
        dino.update_center(heads[half])
        bn = model.module[1]
        queue.put((rank, [p.grad.tolist() for p in model.parameters()], bn.running_mean.tolist(),
                   bn.running_var.tolist(), dino.center.tolist()))
    finally:
        dist.destroy_process_group()


def _bn_problem():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 5, 5) * 3 + 1
    heads = torch.randn(8, 8)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Conv2d(4, 2, 1))
    with torch.no_grad():
        model[1].weight.uniform_(0.5, 1.5)
        model[1].bias.uniform_(-1, 1)
    return x, heads, model


def test_sync_bn_and_the_dino_centre_of_two_processes_equal_one_process_of_the_whole_batch():
    from mmdistill.distill.terms.dino import DINOLoss
    ctx = mp.get_context('spawn')  # fork after autograd has run in this process fails
    queue = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_half_batch_step, args=(r, 2, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    results = dict((r[0], r[1:]) for r in (queue.get(timeout=300) for _ in procs))
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    x, heads, model = _bn_problem()
    model(x).square().mean().backward()  # plain BN over the 8 samples
    dino = DINOLoss(out_dim=8)
    dino.update_center(heads)
    for rank in (0, 1):
        grads, running_mean, running_var, center = results[rank]
        for grad, p in zip(grads, model.parameters()):
            torch.testing.assert_close(torch.tensor(grad), p.grad, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(torch.tensor(running_mean), model[1].running_mean)
        torch.testing.assert_close(torch.tensor(running_var), model[1].running_var)
        torch.testing.assert_close(torch.tensor(center), dino.center)
    # the halves alone differ from the whole batch: the comparison can fail
    _, _, alone = _bn_problem()
    alone(x[:4]).square().mean().backward()
    assert not torch.allclose(alone[0].weight.grad, model[0].weight.grad, rtol=1e-3)


# ------------------------------------------------------------------ in process: leaving the process group
def _native_threads() -> list[str]:
    return sorted(Path(t, 'comm').read_text().strip() for t in Path('/proc/self/task').iterdir())


def _step_and_close(rank: int, world: int, port: int, queue) -> None:
    """On each rank: one DDP step, then the gloo threads alive with the wrapper and after ``close_distributed``."""
    from mmdistill.engine import CPUDistributedDataParallel, close_distributed
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    _, _, model = _bn_problem()
    model = CPUDistributedDataParallel(model)
    model(torch.randn(2, 3, 5, 5)).sum().backward()
    held = [t for t in _native_threads() if 'gloo' in t]
    del model  # as tools/train.py releases its runner
    close_distributed()
    queue.put((rank, held, [t for t in _native_threads() if 'gloo' in t], dist.is_initialized()))


@pytest.mark.skipif(not Path('/proc/self/task').is_dir(), reason='native threads are listed from /proc (Linux)')
def test_close_distributed_joins_the_gloo_threads_before_the_process_exits():
    """A process group left to interpreter exit can end a finished run in std::terminate (tools/train.py)."""
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_step_and_close, args=(r, 2, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for rank, held, after, initialized in results:
        assert 'pt_gloo_runloop' in held, (rank, held)  # the check can fail: the group's threads were there
        assert after == [] and not initialized, (rank, after)


def test_c2s_latent_embeddings_of_an_image_do_not_depend_on_the_rest_of_its_batch():
    """The latent queries of an image attend to each other, not to the padding up to the batch's largest
    count: a batch split over processes pads differently."""
    from mmdistill.seg.c2s.latent_embedding import LatentEmbeddingGenerator
    torch.manual_seed(0)
    gen = LatentEmbeddingGenerator(dim=8, num_heads=2).eval()
    protos, cls, local = torch.randn(1, 2, 8), torch.randn(1, 8), torch.randn(1, 5, 8)
    local_valid = torch.tensor([[True, True, False, True, True]])
    alone = gen(protos, None, cls, local, local_valid, torch.tensor([[True, True]]))
    padded_protos = torch.cat([protos, torch.zeros(1, 3, 8)], 1)  # a batch whose largest count is 5
    padded = gen(padded_protos, None, cls, local, local_valid, torch.tensor([[True, True, False, False, False]]))
    torch.testing.assert_close(padded[:, :2], alone)
    unmasked = gen(padded_protos, None, cls, local, local_valid)
    assert not torch.allclose(unmasked[:, :2], alone, atol=1e-4)


# ------------------------------------------------------------------ end to end (tools/dist_train.sh)
@pytest.mark.slow
@needs_world
def test_distiller_two_processes_equal_one_with_the_same_global_batch(tmp_path):
    records = assert_parity(
        'configs/clipself/clipself_patches_synthetic.py', tmp_path, batch=4, iters=2,
        options=['model.views.max_split=1', 'model.views.max_cells=1'])
    assert records[0]['loss_clipself'] > 0


FVIT_FIXED = """
sampler = dict(type='FirstCandidatesSampler')
model = dict(train_cfg=dict(rpn=dict(sampler=sampler), rcnn=dict(sampler=sampler)))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(192, 192), keep_ratio=False),
    dict(type='PackDetInputs'),
]))
sync_bn = 'torch'
"""


@pytest.mark.slow
@needs_world
def test_fvit_two_processes_equal_one_with_the_same_global_batch(tmp_path):
    records = assert_parity('configs/fvit/fvit_tinyclip-p12_fpn_1xb8-250it_ov-synthetic.py', tmp_path, batch=4,
                            iters=2, body=FVIT_FIXED)
    assert {'loss_rpn_cls', 'loss_cls', 'loss_bbox'} <= records[0].keys()


C2S_FIXED = """
model = dict(backbone=dict(drop_path_rate=0.0), decode_head=dict(dropout_ratio=0.0), local_distill=None)
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='mmdistill.LoadImageFromFileCached'),
    dict(type='LoadAnnotations'),
    dict(type='SeenClassLabels', classes={{_base_.classes}}, unseen_classes={{_base_.split_file}}),
    dict(type='PackSegInputs'),
]))
sync_bn = 'torch'
"""


@pytest.mark.slow
@needs_world
def test_c2s_two_processes_equal_one_with_the_same_global_batch(tmp_path):
    records = assert_parity('configs/c2s/c2s_segformer-mit-b0_1xb16-1k_synthetic-96.py', tmp_path, batch=4,
                            iters=3, body=C2S_FIXED)
    assert records[-1]['loss_global'] > 0  # the CLS bank holds both processes' tokens
