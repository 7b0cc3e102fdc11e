"""Latent embedding generation (paper 003 Sec. 3.3, Tables 5-6): a class embedding for each latent class."""
from __future__ import annotations

from typing import Optional

import torch
from mmengine.model import BaseModule
from torch import nn

QUERIES = ('prototypes', 'cls')
CALIBRATORS = ('transformer', 'mlp', 'none')


class LatentEmbeddingGenerator(BaseModule):
    """``A'_u`` from the latent classes' visual prototypes and the teacher's CLS tokens.

    ``calibrator='transformer'`` (the paper): a transformer decoder layer whose queries are the latent
    prototypes ``F_u`` (Eq. 3 over the latent masks) and whose keys / values are the image's global CLS
    token and the local CLS tokens of its classes (``keys`` selects them, Table 5).
    Table 6's other rows: ``'mlp'`` maps the query alone, ``'none'`` returns it; ``query='cls'``
    starts from the latent classes' local CLS tokens instead of the prototypes.

    Args:
        dim: embedding dimension ``D``.
        query: ``'prototypes'`` or ``'cls'``.
        calibrator: ``'transformer'``, ``'mlp'`` or ``'none'``.
        keys: which CLS tokens the decoder attends to: a subset of ``('global', 'local')``.
        num_heads / num_layers / ffn_ratio: of the decoder.
    """

    def __init__(self, dim: int, query: str = 'prototypes', calibrator: str = 'transformer',
                 keys: tuple[str, ...] = ('global', 'local'), num_heads: int = 8, num_layers: int = 1,
                 ffn_ratio: int = 4, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if query not in QUERIES:
            raise ValueError(f'query must be one of {QUERIES}, got {query!r}')
        if calibrator not in CALIBRATORS:
            raise ValueError(f'calibrator must be one of {CALIBRATORS}, got {calibrator!r}')
        if calibrator == 'transformer' and (not keys or set(keys) - {'global', 'local'}):
            raise ValueError(f"keys must be a non-empty subset of ('global', 'local'), got {keys!r}")
        self.query, self.calibrator, self.keys = query, calibrator, tuple(keys)
        if calibrator == 'transformer':
            layer = nn.TransformerDecoderLayer(dim, num_heads, ffn_ratio * dim, dropout=0.0, batch_first=True,
                                               norm_first=True)
            self.decoder = nn.TransformerDecoder(layer, num_layers)
        elif calibrator == 'mlp':
            self.mlp = nn.Sequential(nn.Linear(dim, ffn_ratio * dim), nn.GELU(), nn.Linear(ffn_ratio * dim, dim))

    def forward(self, prototypes: torch.Tensor, latent_cls: torch.Tensor, global_cls: torch.Tensor,
                local_cls: torch.Tensor, local_valid: torch.Tensor,
                query_valid: Optional[torch.Tensor] = None) -> torch.Tensor:
        """
        Args:
            prototypes: ``(B, U, D)`` latent prototypes ``F_u`` (rows of absent latent classes are ignored later).
            latent_cls: ``(B, U, D)`` local CLS tokens of the latent classes.
            global_cls: ``(B, D)`` global CLS tokens.
            local_cls: ``(B, O, D)`` local CLS tokens of each image's classes (seen and latent).
            local_valid: ``(B, O)`` bool.
            query_valid: ``(B, U)`` bool, the image's latent classes (``U`` is the batch's largest count). The
                queries attend to each other: without it, the padding rows of an image would too, and its
                embeddings would depend on the other images of its batch (and on how a batch is split over
                processes).

        Returns:
            ``(B, U, D)`` latent embeddings ``A'_u``.
        """
        query = prototypes if self.query == 'prototypes' else latent_cls
        if self.calibrator == 'none':
            return query
        if self.calibrator == 'mlp':
            return self.mlp(query)
        memory, valid = [], []
        if 'global' in self.keys:
            memory.append(global_cls[:, None].to(query.dtype))
            valid.append(torch.ones_like(local_valid[:, :1]))
        if 'local' in self.keys:
            memory.append(local_cls.to(query.dtype))
            valid.append(local_valid)
        memory, valid = torch.cat(memory, 1), torch.cat(valid, 1)
        # An image without any key (local keys only, no class) attends to a zero token instead of nothing.
        empty = ~valid.any(1)
        valid = valid.clone()
        valid[empty, 0] = True
        padding = None
        if query_valid is not None:
            query_valid = query_valid.clone()
            query_valid[:, 0] |= ~query_valid.any(1)  # a row to attend to in an image without latent classes
            padding = ~query_valid
        return self.decoder(query, memory, tgt_key_padding_mask=padding, memory_key_padding_mask=~valid)
