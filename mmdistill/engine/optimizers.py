"""An optimiser-wrapper constructor whose parameter groups are few, so the update runs batched.

mmengine's ``DefaultOptimWrapperConstructor`` with a ``paramwise_cfg`` makes one parameter
group per tensor. Optimisers batch their update (``foreach`` / ``fused`` kernels) only within
a group, so a ViT-B with ~200 tensors pays ~200 small updates per step: 40 ms of a 146 ms
CLIPSelf step on an H100 (docs/benchmarks.md). Merging the groups that share every
setting gives the same update with one batched call per distinct setting.
"""
from __future__ import annotations

from typing import List, Optional, Union

from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

from ..registry import OPTIM_WRAPPER_CONSTRUCTORS


def merge_param_groups(groups: List[dict]) -> List[dict]:
    """Groups with equal settings (everything but ``params``) merged, in order of first appearance."""
    merged: dict[str, dict] = {}
    for group in groups:
        settings = {k: v for k, v in group.items() if k != 'params'}
        key = repr(sorted(settings.items()))
        if key not in merged:
            merged[key] = dict(settings, params=[])
        merged[key]['params'].extend(group['params'])
    return list(merged.values())


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class GroupedOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` (same ``paramwise_cfg`` rules), groups merged by setting.

    Use: ``optim_wrapper = dict(constructor='GroupedOptimWrapperConstructor', paramwise_cfg=..., ...)``.
    """

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   is_dcn_module: Optional[Union[int, float]] = None) -> None:
        super().add_params(params, module, prefix, is_dcn_module)
        if not prefix:  # the outermost call: every tensor has its group now
            params[:] = merge_param_groups(params)
