"""With ``LossGuardHook`` in a config, a non-finite loss term stops training before the step, naming the term and
the iteration (or skips the step); runners without the hook are mmengine's own."""
import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

import mmdistill  # noqa: F401  (registers the hook)
from mmdistill.engine import check_finite_terms


class Toy(BaseModel):
    """Its ``loss_bad`` term turns NaN at iteration ``bad_at``."""

    def __init__(self, bad_at: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))
        self.bad_at, self.calls = bad_at, 0

    def forward(self, inputs, data_samples=None, mode='loss'):
        self.calls += 1
        bad = torch.tensor(float('nan')) if self.calls > self.bad_at else torch.tensor(0.0)
        return dict(loss_good=(self.w - inputs.mean()).pow(2).sum(), loss_bad=self.w.sum() * 0 + bad)


def test_check_finite_terms_names_the_term():
    check_finite_terms({'loss': torch.tensor(1.0), 'loss_a': torch.tensor(0.5), 'acc': torch.tensor(90.0)})
    with pytest.raises(FloatingPointError, match=r'loss_b = inf'):
        check_finite_terms({'loss': torch.tensor(1.0), 'loss_a': torch.tensor(0.5),
                            'loss_b': torch.tensor(float('inf'))})


def test_training_stops_at_the_nan_step_with_the_weights_of_the_step_before(tmp_path):
    model = Toy(bad_at=3)
    runner = Runner(model=model, work_dir=str(tmp_path),
                    train_dataloader=dict(dataset=[dict(inputs=torch.zeros(1))] * 20, batch_size=1,
                                          sampler=dict(type='DefaultSampler', shuffle=False),
                                          collate_fn=dict(type='default_collate')),
                    train_cfg=dict(by_epoch=False, max_iters=10),
                    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                    default_hooks=dict(logger=dict(type='LoggerHook', interval=1)),
                    custom_hooks=[dict(type='mmdistill.LossGuardHook')])  # mode='raise', the default
    with pytest.raises(FloatingPointError, match=r'iteration 3: loss_bad = nan'):
        runner.train()
    assert torch.isfinite(model.w).all()
    expected = torch.ones(3) * 0.8 ** 3  # three SGD steps on (w - 0)^2 with lr 0.1, none with the NaN
    torch.testing.assert_close(model.w.detach(), expected)


class ToyNaNAt(Toy):
    """``loss_bad`` is NaN at the calls (iterations, from 1) in ``bad``, 0 otherwise."""

    def __init__(self, bad: set) -> None:
        super().__init__(bad_at=0)
        self.bad = bad

    def forward(self, inputs, data_samples=None, mode='loss'):
        self.calls += 1
        bad = torch.tensor(float('nan') if self.calls in self.bad else 0.0)
        return dict(loss_good=(self.w - inputs.mean()).pow(2).sum(), loss_bad=self.w.sum() * 0 + bad)


def _runner(model, tmp_path, iters: int, **guard) -> Runner:
    return Runner(model=model, work_dir=str(tmp_path), experiment_name=f'guard_{tmp_path.name}_{id(model)}',
                  train_dataloader=dict(dataset=[dict(inputs=torch.zeros(1))] * 20, batch_size=1,
                                        sampler=dict(type='DefaultSampler', shuffle=False),
                                        collate_fn=dict(type='default_collate')),
                  train_cfg=dict(by_epoch=False, max_iters=iters),
                  optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
                  default_hooks=dict(logger=dict(type='LoggerHook', interval=1)),
                  custom_hooks=[dict(type='mmdistill.LossGuardHook', mode='skip', **guard)])


def test_skip_mode_skips_the_step_and_counts_it_in_the_log(tmp_path):
    model = ToyNaNAt(bad={3, 5})
    runner = _runner(model, tmp_path, iters=6)
    runner.train()
    reference = ToyNaNAt(bad=set())
    ref_runner = _runner(reference, tmp_path / 'ref', iters=4)  # the 4 steps that were taken
    ref_runner.train()
    torch.testing.assert_close(model.w.detach(), reference.w.detach())  # momentum untouched by skipped steps
    assert runner.message_hub.get_scalar('train/skipped_steps').current() == 2
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert 'non-finite loss at iteration 2: loss_bad = nan; the step is skipped' in log
    assert 'skipped_steps: 2' in log and 'nan' not in log.split('skipped_steps: 2')[1].split('\n')[0]


def test_skip_mode_stops_after_max_skips(tmp_path):
    runner = _runner(ToyNaNAt(bad={2, 3}), tmp_path, iters=6, max_skips=1)
    with pytest.raises(FloatingPointError, match='2 steps with a non-finite loss skipped, more than max_skips=1'):
        runner.train()


def test_skip_mode_ends_with_its_runner(tmp_path):
    runner = _runner(ToyNaNAt(bad={2}), tmp_path, iters=2)
    runner.train()
    assert runner.message_hub.get_scalar('train/skipped_steps').current() == 1
    assert 'update_params' not in vars(runner.optim_wrapper)  # the class's method again
    model = ToyNaNAt(bad={2})
    Runner(model=model, work_dir=str(tmp_path / 'next'), experiment_name=f'next_{tmp_path.name}',
           train_dataloader=dict(dataset=[dict(inputs=torch.zeros(1))] * 4, batch_size=1,
                                 sampler=dict(type='DefaultSampler', shuffle=False),
                                 collate_fn=dict(type='default_collate')),
           train_cfg=dict(by_epoch=False, max_iters=2),
           optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1))).train()
    # without the hook, mmengine's own step: the NaN step is taken (its NaN term has no gradient), no error
    torch.testing.assert_close(model.w.detach(), torch.ones(3) * 0.8 ** 2)
