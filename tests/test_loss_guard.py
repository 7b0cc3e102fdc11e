"""A non-finite loss term stops training before the step, naming the term and the iteration."""
import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

import mmdistill  # noqa: F401  (installs the guard)
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
                    default_hooks=dict(logger=dict(type='LoggerHook', interval=1)))
    with pytest.raises(FloatingPointError, match=r'iteration 3: loss_bad = nan'):
        runner.train()
    assert torch.isfinite(model.w).all()
    expected = torch.ones(3) * 0.8 ** 3  # three SGD steps on (w - 0)^2 with lr 0.1, none with the NaN
    torch.testing.assert_close(model.w.detach(), expected)
