"""The CLS token bank of C2S global distillation (paper 003 Sec. 3.2): more negatives for Eq. 2."""
from __future__ import annotations

import torch
from mmengine.dist import all_gather, get_dist_info
from torch import nn


class CLSTokenBank(nn.Module):
    """A first-in first-out queue of the teacher's global CLS tokens, kept in the checkpoint.

    Every step :meth:`push` gathers the CLS tokens of all processes, writes them over the oldest
    entries and returns where this process's tokens went, so each sample's positive is found in
    :attr:`tokens`. The paper enqueues before the parameter update, so the current tokens are
    always in the bank.

    Args:
        size: number of tokens kept (24 in the paper); at least the global batch size.
        dim: token dimension ``D``.
    """

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        if size < 1:
            raise ValueError(f'the CLS bank size must be positive, got {size}')
        self.size = size
        self.register_buffer('bank', torch.zeros(size, dim))
        self.register_buffer('pointer', torch.zeros((), dtype=torch.long))
        self.register_buffer('filled', torch.zeros((), dtype=torch.long))

    @property
    def tokens(self) -> torch.Tensor:
        """``(filled, D)``: the tokens in the bank (slots are filled from 0 on)."""
        return self.bank[:int(self.filled)]

    @torch.no_grad()
    def push(self, tokens: torch.Tensor) -> torch.Tensor:
        """Enqueue ``tokens`` ``(B, D)`` of every process; return the slots ``(B,)`` of this process's ones.

        Raises:
            ValueError: the gathered batch is larger than the bank (positives would be overwritten).
        """
        rank, world_size = get_dist_info()
        gathered = torch.cat(all_gather(tokens.detach().contiguous())) if world_size > 1 else tokens.detach()
        n = gathered.shape[0]
        if n > self.size:
            raise ValueError(f'the CLS bank holds {self.size} tokens but a step brings {n} (batch size x '
                             f'{world_size} processes): set a bank size of at least {n}')
        slots = (self.pointer + torch.arange(n, device=self.bank.device)) % self.size
        self.bank[slots] = gathered.to(self.bank.dtype)
        self.pointer.copy_((self.pointer + n) % self.size)
        self.filled.copy_(torch.clamp(self.filled + n, max=self.size))
        per_rank = tokens.shape[0]
        return slots[rank * per_rank:(rank + 1) * per_rank]
