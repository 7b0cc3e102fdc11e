"""Checkpoints survive interruption: with the ``atomic_local`` backend a config names, writes go through a temporary
file and a rename; mmengine's own ``LocalBackend`` is left as it is."""
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

import mmdistill  # noqa: F401
from mmdistill.utils.atomic import write_atomic

TRAIN_SCRIPT = textwrap.dedent('''
    import sys
    import torch
    from torch import nn
    import mmdistill  # noqa: F401  (registers the atomic_local backend)
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Big(BaseModel):
        """A model whose checkpoint is large enough (about 100 MB) for a save to take a while."""
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(25_000_000))
        def forward(self, inputs, data_samples=None, mode='loss'):
            return dict(loss=(self.w[:10] - inputs.mean()).pow(2).sum())

    data = [dict(inputs=torch.ones(1))] * 10_000
    Runner(model=Big(), work_dir=sys.argv[1],
           train_dataloader=dict(dataset=data, sampler=dict(type='InfiniteSampler'), batch_size=1,
                                 collate_fn=dict(type='default_collate')),
           train_cfg=dict(by_epoch=False, max_iters=10_000),
           optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
           default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False,
                                              max_keep_ckpts=2, backend_args=dict(backend='atomic_local'))),
           resume=len(sys.argv) > 2).train()
''')


def test_write_atomic_keeps_the_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / 'state.bin'
    write_atomic(str(path), b'old')

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, 'replace', interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(str(path), b'new content')
    assert path.read_bytes() == b'old'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['state.bin']  # no temporary file left


def test_the_atomic_local_backend_writes_atomically_and_leaves_mmengines_alone(tmp_path, monkeypatch):
    from mmengine.fileio import LocalBackend, get_file_backend

    from mmdistill.utils import AtomicLocalBackend
    assert LocalBackend.put.__module__ == LocalBackend.put_text.__module__ == LocalBackend.__module__  # mmengine's
    assert type(get_file_backend(str(tmp_path))) is LocalBackend  # what a config that names nothing gets
    backend = get_file_backend(str(tmp_path), backend_args=dict(backend='atomic_local'))
    assert type(backend) is AtomicLocalBackend
    backend.put(b'abc', tmp_path / 'a' / 'x.bin')
    backend.put_text('text', str(tmp_path / 'y.txt'))
    assert (tmp_path / 'a' / 'x.bin').read_bytes() == b'abc' and (tmp_path / 'y.txt').read_text() == 'text'

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, 'replace', interrupted)  # a save interrupted before it completes
    for write in (lambda: backend.put(b'new', tmp_path / 'a' / 'x.bin'),
                  lambda: backend.put_text('new', str(tmp_path / 'y.txt'))):
        with pytest.raises(KeyboardInterrupt):
            write()
    assert (tmp_path / 'a' / 'x.bin').read_bytes() == b'abc' and (tmp_path / 'y.txt').read_text() == 'text'


def _last_saved_iter(work_dir) -> int:
    """The iteration of the checkpoint ``last_checkpoint`` names, 0 while there is none (or it is being written)."""
    path = work_dir / 'last_checkpoint'
    match = re.search(r'iter_(\d+)\.pth$', path.read_text().strip()) if path.exists() else None
    return int(match.group(1)) if match else 0


@pytest.mark.slow
def test_training_killed_during_saves_leaves_a_loadable_checkpoint_and_resumes(tmp_path):
    work_dir = tmp_path / 'run'
    script = tmp_path / 'train.py'
    script.write_text(TRAIN_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS='1')
    reached = []
    for kill_after in (0.0, 0.35, 0.7):  # kill at different moments of a save; later runs resume
        proc = subprocess.Popen([sys.executable, str(script), str(work_dir)] + (['resume'] if reached else []),
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before = len(reached) and reached[-1]
        deadline = time.time() + 240
        # wait until this run has finished a save of its own: ``last_checkpoint`` names a later iteration (a
        # checkpoint file alone is not enough, a previous run killed just after renaming one leaves it behind)
        while time.time() < deadline and _last_saved_iter(work_dir) <= before:
            time.sleep(0.05)
        assert proc.poll() is None, 'the training run ended before it was killed'
        time.sleep(1.0 + kill_after)  # saves follow one another: this lands inside one
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # every checkpoint file is complete (a write in place would leave the one being saved truncated)
        for path in work_dir.glob('iter_*.pth'):
            assert torch.load(path, map_location='cpu', weights_only=False)['state_dict']['w'].numel() == 25_000_000
        last = (work_dir / 'last_checkpoint').read_text().strip()
        reached.append(torch.load(last, map_location='cpu', weights_only=False)['meta']['iter'])
    assert all(a < b for a, b in zip(reached, reached[1:])), reached  # each run saved past the previous one
