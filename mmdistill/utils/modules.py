"""Small facts about ``nn.Module`` objects."""
import torch
from torch import nn


def module_device(module: nn.Module) -> torch.device:
    """Device of the module's first parameter (else first buffer; CPU if it has neither)."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device('cpu')
