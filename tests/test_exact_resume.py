"""Exact resume: a run interrupted at iteration 2 and resumed with ``--resume`` logs the losses of the
uninterrupted run at every later iteration (deterministic mode, one process).

The uninterrupted run trains 4 iterations and saves ``iter_2.pth`` on the way (the file an interrupted run
leaves); the resumed run starts from it in a fresh work dir. What must travel with the checkpoint: the
distiller's view-step counter, an EMA teacher and the DINO centre (model buffers), the C2S CLS bank, the
optimiser and schedulers, the data order, and torch's generator state (dropout, drop path, mmdet's RoI
samplers), see ``mmdistill.engine.RNGStateHook``.
"""
from pathlib import Path
from types import SimpleNamespace

import pytest
from train_helpers import RECORD, needs_world, recording_config, train

DETERMINISTIC = "randomness = dict(seed=0, deterministic=True)\n"


def assert_exact_resume(config: str, tmp_path: Path, batch: int = 2, body: str = '', procs: int = 1) -> list[dict]:
    config = recording_config(config, tmp_path, DETERMINISTIC + body)
    options = RECORD + [f'train_dataloader.batch_size={batch}', 'train_cfg.max_iters=4',
                        'default_hooks.checkpoint.interval=2', 'default_hooks.checkpoint.max_keep_ckpts=-1']
    whole = train(config, tmp_path / 'whole', procs, options)
    resumed = train(config, tmp_path / 'resumed', procs, options, resume=tmp_path / 'whole' / 'iter_2.pth')
    assert [r['iter'] for r in whole] == [1, 2, 3, 4]
    assert [r['iter'] for r in resumed] == [3, 4]
    for a, b in zip(whole[2:], resumed):
        assert a.keys() == b.keys()
        for key in a:
            assert b[key] == pytest.approx(a[key], rel=1e-6, abs=1e-9), (a['iter'], key, a, b)
    return whole


@pytest.mark.slow
@needs_world
def test_frozen_teacher_distiller_resumes_exactly(tmp_path):
    whole = assert_exact_resume('configs/clipself/clipself_patches_synthetic.py', tmp_path)
    assert whole[2]['loss_clipself'] != whole[3]['loss_clipself']


@pytest.mark.slow
@needs_world
def test_two_process_distiller_resumes_exactly(tmp_path):
    """2 gloo processes: every rank's view-step counter and generator state come back from rank 0's file."""
    assert_exact_resume('configs/clipself/clipself_patches_synthetic.py', tmp_path, procs=2)


@pytest.mark.slow
@needs_world
def test_ema_teacher_distiller_resumes_exactly(tmp_path):
    """SILC: EMA teacher, DINO centre, random multi-crops, flips and caption choices in the data pipeline."""
    assert_exact_resume('configs/silc/silc_finetune_synthetic.py', tmp_path)


@pytest.mark.slow
@needs_world
def test_fvit_resumes_exactly(tmp_path):
    """mmdet's random RoI / anchor samplers and random resize, crop and flip."""
    assert_exact_resume('configs/fvit/fvit_tinyclip-p12_fpn_1xb8-250it_ov-synthetic.py', tmp_path)


@pytest.mark.slow
@needs_world
def test_c2s_resumes_exactly(tmp_path):
    """Drop path and dropout (torch's generator), flips, the CLS bank."""
    assert_exact_resume('configs/c2s/c2s_segformer-mit-b0_1xb16-1k_synthetic-96.py', tmp_path)


def test_rng_state_hook_restores_torch_generator_on_resume_only():
    from types import SimpleNamespace

    import torch

    from mmdistill.engine import RNGStateHook
    hook, checkpoint = RNGStateHook(), {}
    torch.manual_seed(3)
    hook.before_save_checkpoint(None, checkpoint)
    expected = torch.rand(4)  # what the uninterrupted run draws next
    torch.manual_seed(0)  # a resumed run reseeds
    hook.after_load_checkpoint(SimpleNamespace(_resume=False), checkpoint)  # load_from: nothing restored
    hook.before_train_iter(None, 0)
    assert not torch.equal(torch.rand(4), expected)
    hook.after_load_checkpoint(SimpleNamespace(_resume=True), checkpoint)
    hook.before_train_iter(None, 0)
    assert torch.equal(torch.rand(4), expected)
    hook.before_train_iter(None, 1)  # only once
    assert not torch.equal(torch.rand(4), expected)


def _rng_ranks(rank: int, world: int, port: int, queue) -> None:
    """Each rank draws from its own generator; rank 0 saves, both ranks resume and draw again."""
    import os

    import torch
    import torch.distributed as dist
    from mmengine.dist import broadcast_object_list

    from mmdistill.engine import RNGStateHook
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        hook = RNGStateHook()
        torch.manual_seed(10 + rank)
        hook.after_train_iter(None, 0)
        checkpoint = [{}]
        if rank == 0:
            hook.before_save_checkpoint(None, checkpoint[0])  # rank 0 alone saves
        expected = torch.rand(3).tolist()
        broadcast_object_list(checkpoint)
        torch.manual_seed(0)
        resumed = RNGStateHook()
        resumed.after_load_checkpoint(SimpleNamespace(_resume=True), checkpoint[0])
        resumed.before_train_iter(None, 0)
        queue.put((rank, expected, torch.rand(3).tolist()))
    finally:
        dist.destroy_process_group()


def test_rng_state_hook_restores_each_rank_its_own_state():
    import torch.multiprocessing as mp
    from train_helpers import free_port
    ctx = mp.get_context('fork')
    queue, port = ctx.Queue(), free_port()
    procs = [ctx.Process(target=_rng_ranks, args=(r, 2, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    results = {r: (e, d) for r, e, d in (queue.get(timeout=120) for _ in procs)}
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert results[0][0] != results[1][0]  # the ranks' generators differ
    for expected, drawn in results.values():
        assert drawn == expected
