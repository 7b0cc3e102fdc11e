"""GroupedOptimWrapperConstructor: the paramwise rules of mmengine's constructor, in few groups."""
import copy

import torch
from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

import mmdistill  # noqa: F401
from mmdistill.engine import GroupedOptimWrapperConstructor, merge_param_groups
from mmdistill.registry import OPTIM_WRAPPER_CONSTRUCTORS

CFG = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.1))
PARAMWISE = dict(norm_decay_mult=0.0, bias_decay_mult=0.0, custom_keys={'head': dict(lr_mult=0.1)})


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.GELU(), nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 3)))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = _model()
        self.head = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _settings(optimizer: torch.optim.Optimizer) -> dict:
    """Per parameter (by identity): its group's settings."""
    return {id(p): {k: v for k, v in g.items() if k != 'params'} for g in optimizer.param_groups for p in g['params']}


def test_merge_param_groups_keeps_order_and_settings():
    a, b, c = (torch.zeros(1, requires_grad=True) for _ in range(3))
    groups = [dict(params=[a], lr=1.0, weight_decay=0.1), dict(params=[b], lr=1.0, weight_decay=0.0),
              dict(params=[c], lr=1.0, weight_decay=0.1)]
    merged = merge_param_groups(groups)
    assert [g['weight_decay'] for g in merged] == [0.1, 0.0]
    assert merged[0]['params'] == [a, c] and merged[1]['params'] == [b]


def test_grouped_constructor_matches_the_default_one_in_few_groups():
    model_a, model_b = Net(), Net()
    model_b.load_state_dict(model_a.state_dict())
    default = DefaultOptimWrapperConstructor(copy.deepcopy(CFG), PARAMWISE)(model_a)
    grouped = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type='GroupedOptimWrapperConstructor', optim_wrapper_cfg=copy.deepcopy(CFG),
             paramwise_cfg=PARAMWISE))(model_b)
    assert OPTIM_WRAPPER_CONSTRUCTORS.get('GroupedOptimWrapperConstructor') is GroupedOptimWrapperConstructor
    assert len(default.optimizer.param_groups) == 10  # one per tensor
    assert len(grouped.optimizer.param_groups) == 3  # decayed, not decayed, head (lr x 0.1)
    by_name_a = {n: _settings(default.optimizer)[id(p)] for n, p in model_a.named_parameters()}
    by_name_b = {n: _settings(grouped.optimizer)[id(p)] for n, p in model_b.named_parameters()}
    assert by_name_a == by_name_b
    initial = copy.deepcopy(model_a.state_dict())
    x = torch.randn(5, 6)
    for _ in range(3):
        for model, wrapper in ((model_a, default), (model_b, grouped)):
            wrapper.update_params(model(x).square().mean())
    for (name, pa), pb in zip(model_a.named_parameters(), model_b.parameters()):
        torch.testing.assert_close(pa, pb, msg=name)
        assert not torch.equal(pa, initial[name]), f'{name} did not move'

