"""GroupedOptimWrapperConstructor (mmengine's paramwise rules in few groups) and BF16OptimWrapper."""
import copy

import pytest
import torch
from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

import mmdistill  # noqa: F401
from mmdistill.distill.terms import ImageTextContrastiveLoss
from mmdistill.engine import BF16OptimWrapper, GroupedOptimWrapperConstructor, bf16, merge_param_groups
from mmdistill.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS

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


class Attend(nn.Module):
    """Records the dtype and the flash-kernel switch seen inside its forward."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)
        self.seen: dict = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.proj(x)
        self.seen = dict(dtype=q.dtype, flash=torch.backends.cuda.flash_sdp_enabled())
        return torch.nn.functional.scaled_dot_product_attention(q, q, q)


def test_bf16_wrapper_autocasts_on_cpu_and_keeps_fp32_state(monkeypatch):
    monkeypatch.setattr(bf16, 'native_bf16', lambda device: True)  # whatever this machine's CPU has
    torch.manual_seed(0)
    model = Attend()
    wrapper = OPTIM_WRAPPERS.build(dict(type='BF16OptimWrapper', cpu_bf16=True,
                                        optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
    assert isinstance(wrapper, BF16OptimWrapper)
    x = torch.randn(2, 5, 8)
    before = model.proj.weight.detach().clone()
    with wrapper.optim_context(model):
        out = model(x)
    assert model.seen == dict(dtype=torch.bfloat16, flash=False)  # autocast on, math attention on CPU
    assert torch.backends.cuda.flash_sdp_enabled()  # restored on exit
    wrapper.update_params(out.float().square().mean())
    assert model.proj.weight.dtype == torch.float32 and model.proj.weight.grad is None
    assert not torch.equal(model.proj.weight, before)
    reference = Attend()
    reference.load_state_dict(model.state_dict())
    with wrapper.optim_context(reference):
        low = reference(x)
    torch.testing.assert_close(low.float(), reference(x), atol=0.05, rtol=0.05)  # bf16 ~ fp32


@pytest.mark.parametrize('native, cpu_bf16, reason', [(False, True, 'no native bfloat16'),
                                                       (True, False, 'cpu_bf16=False')])
def test_bf16_wrapper_trains_in_fp32_on_cpus_by_default_and_where_bf16_is_emulated(monkeypatch, native, cpu_bf16,
                                                                                   reason):
    monkeypatch.setattr(bf16, 'native_bf16', lambda device: native or device != 'cpu')
    messages = []
    monkeypatch.setattr(bf16, 'print_log', lambda msg, **kwargs: messages.append(msg))
    model = Attend()
    wrapper = OPTIM_WRAPPERS.build(dict(type='BF16OptimWrapper', cpu_bf16=cpu_bf16,
                                        optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
    assert not wrapper.bf16_enabled('cpu') and wrapper.bf16_enabled('cuda')
    x = torch.randn(2, 5, 8)
    for _ in range(2):
        with wrapper.optim_context(model):
            out = model(x)
        assert model.seen == dict(dtype=torch.float32, flash=False)  # no autocast, still math attention
        wrapper.update_params(out.square().mean())
    assert len(messages) == 1 and 'float32' in messages[0] and reason in messages[0]  # said once, not per step


def test_native_bf16_reads_the_cpu_flags(monkeypatch):
    monkeypatch.setattr(bf16.platform, 'machine', lambda: 'x86_64')
    for avx512_bf16, amx, expected in ((False, False, False), (True, False, True), (False, True, True)):
        monkeypatch.setattr(torch.cpu, '_is_avx512_bf16_supported', lambda v=avx512_bf16: v)
        monkeypatch.setattr(torch.cpu, '_is_amx_tile_supported', lambda v=amx: v)
        assert bf16.native_bf16('cpu') is expected
    assert bf16.native_bf16('npu') is True


def test_contrastive_loss_is_fp32_under_autocast():
    torch.manual_seed(0)
    image = torch.nn.functional.normalize(torch.randn(64, 32), dim=-1).bfloat16()
    text = torch.nn.functional.normalize(image.float() + 0.3 * torch.randn(64, 32), dim=-1).bfloat16()
    scale = torch.tensor(100.0)
    loss = ImageTextContrastiveLoss()
    exact = loss(image.float(), text.float(), scale)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        mixed = loss(image, text, scale)
        assert (image.float() @ text.float().T).dtype == torch.bfloat16  # autocast is on here
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, exact, atol=1e-6, rtol=1e-6)  # logits were not rounded to bf16
