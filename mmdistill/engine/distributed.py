"""Distributed training without an accelerator: ``tools/dist_train.sh`` on CPUs (gloo).

mmengine's ``pytorch`` launcher calls ``torch.cuda.set_device`` and wraps the model in a
``DistributedDataParallel`` with ``device_ids``; torch's ``SyncBatchNorm`` refuses CPU tensors.
:func:`setup_cpu_distributed` opens the gloo process group itself (mmengine then skips its own
initialisation) and wraps the model in :class:`CPUDistributedDataParallel`, which turns every
``SyncBatchNorm`` into :class:`CPUSyncBatchNorm`: batch statistics summed over all processes with
a differentiable all-reduce, so a 2-process run normalises like a 1-process run of the global batch.
"""
from __future__ import annotations

import gc
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel
from torch import nn
from torch.distributed.nn.functional import all_reduce as differentiable_all_reduce

from ..registry import MODEL_WRAPPERS


class CPUSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch normalisation whose training statistics are those of all processes' batches together.

    Works on any device and backend (gloo included). Outside training, or in one process, it is
    plain batch normalisation.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f'expected at least 2D input (got {input.dim()}D input)')

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(input)
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)
        dims = [0] + list(range(2, input.dim()))
        x = input.float()
        count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
        stats = differentiable_all_reduce(torch.cat([x.sum(dims), (x * x).sum(dims), count]))
        channels = x.shape[1]
        total = stats[-1]
        mean = stats[:channels] / total
        var = (stats[channels:2 * channels] / total - mean * mean).clamp(min=0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = (1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum)
                unbiased = var * total / (total - 1).clamp(min=1)
                self.running_mean.mul_(1 - momentum).add_(mean.to(self.running_mean.dtype), alpha=momentum)
                self.running_var.mul_(1 - momentum).add_(unbiased.to(self.running_var.dtype), alpha=momentum)
        shape = [1, channels] + [1] * (input.dim() - 2)
        out = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out.to(input.dtype)

    @classmethod
    def from_batch_norm(cls, bn: nn.modules.batchnorm._BatchNorm) -> CPUSyncBatchNorm:
        """A copy of ``bn`` (parameters and running statistics shared, not cloned)."""
        new = cls(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
        if bn.affine:
            new.weight, new.bias = bn.weight, bn.bias
        if bn.track_running_stats:
            new.running_mean, new.running_var = bn.running_mean, bn.running_var
            new.num_batches_tracked = bn.num_batches_tracked
        new.train(bn.training)
        return new


def convert_sync_batchnorm_for_cpu(module: nn.Module) -> nn.Module:
    """Replace every ``torch.nn.SyncBatchNorm`` in ``module`` by :class:`CPUSyncBatchNorm`."""
    if isinstance(module, nn.SyncBatchNorm):
        return CPUSyncBatchNorm.from_batch_norm(module)
    for name, child in module.named_children():
        new = convert_sync_batchnorm_for_cpu(child)
        if new is not child:
            setattr(module, name, new)
    return module


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's DDP wrapper for modules on the CPU: no ``device_ids``, CPU-capable SyncBN."""

    def __init__(self, module: nn.Module, device_ids: Optional[list] = None, **kwargs) -> None:
        super().__init__(module=convert_sync_batchnorm_for_cpu(module), device_ids=None, **kwargs)


def accelerator_available() -> bool:
    """Whether a device mmengine's launchers set up (CUDA / NPU / MLU / MUSA) is present."""
    from mmengine.device import is_cuda_available, is_mlu_available, is_musa_available, is_npu_available
    return is_cuda_available() or is_npu_available() or is_mlu_available() or is_musa_available()


def setup_cpu_distributed(cfg: Config) -> bool:
    """For ``--launcher pytorch`` without an accelerator: gloo process group, CPU DDP wrapper.

    Returns:
        bool: Whether the run was set up for CPU processes.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or accelerator_available():
        return False
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        broadcast_buffers=False, find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper_type = wrapper.get('type', 'MMDistributedDataParallel')
    if wrapper_type not in ('MMDistributedDataParallel', 'CPUDistributedDataParallel'):
        raise RuntimeError(f'model_wrapper_cfg.type={wrapper_type!r} needs an accelerator; on CPUs, '
                           'distributed training supports MMDistributedDataParallel only')
    wrapper['type'] = 'mmdistill.CPUDistributedDataParallel'
    cfg.model_wrapper_cfg = wrapper
    print_log(f'no accelerator: {dist.get_world_size()} CPU processes (gloo); SyncBN syncs over gloo',
              logger='current')
    return True


def close_distributed() -> None:
    """Leave the process group together once nothing holds it (the runner and its DDP wrapper released).

    A barrier, then the group is destroyed, which joins gloo's threads. A group still alive at interpreter exit
    is torn down by static destructors while a peer may already have left: the process can then die in
    ``std::terminate`` ("terminate called without an active exception") after a finished run.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    gc.collect()  # the runner's reference cycles hold the model wrapper, which holds the group
    dist.barrier()
    dist.destroy_process_group()
