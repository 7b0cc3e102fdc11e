"""The Refiner of paper 001 (Sec. 3.3, App. C): refined dense CLIP features from a frozen tower.

Notation of the paper: the frozen tower ``f_I = f_I^B o f_I^A`` with ``f_I^B`` its
last ``K`` blocks. The Refiner ``f_R`` holds its own copy of ``f_I^B`` and reads
the frozen ``f_I^A`` tokens of the *whole* image:

* ``Z_Inter = FC_Inter[Concat(Z_l1, Z_l2)]`` on the whole image (Eq. 11);
* early (default, Eq. 8 / 11): ``Z^_i = f_R(RoIAlign(f_I^A(X) + Z_Inter, b_i))``:
  every box becomes an ``L x L`` token grid and all boxes of the batch run
  through the blocks as one batch;
* late (Eq. 12, Table 7): ``Z^_i = RoIAlign(f_R(f_I^A(X) + Z_Inter), b_i)``;
* region class token ``z^_i[CLS] = FC_CLS[RoIPool(f_I^A(X), b_i)]`` (Eq. 10),
  prepended to the box's tokens.

The block outputs go through the tower's final norm + projection and are
L2-normalised, like the tower's dense map (the target of Eq. 9 / 13).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from ..clip.adapters import TokenGrid, make_adapter, rope_for_grid
from ..clip.builder import build_clip_model
from ..clip.pooling import BoxList, boxes_to_rois, check_rois, roi_embeddings
from ..clip.tower import CLIPTower, TowerOutput
from ..registry import MODELS

INITS = ('clone', 'random', 'exogenous')
ROI_POSITIONS = ('early', 'late')


@dataclass
class RefinerOutput:
    """Refined, L2-normalised region tokens ``(K, L*L, D)`` (row-major ``L x L``) and class tokens ``(K, D)``."""

    tokens: torch.Tensor
    cls: torch.Tensor


def mlp(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """The two-layer MLP of App. C (``FC_Inter``, ``FC_CLS``)."""
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, out_dim))


@MODELS.register_module()
class Refiner(BaseModule):
    """Refines a frozen CLIP tower's dense features (paper 001, Eq. 8-12, App. C).

    Args:
        tower: the frozen ``CLIPTower`` (instance or config). It is a submodule,
            so it may be shared with a frozen teacher.
        depth: ``K``, the number of last blocks the Refiner holds: 4 for ViT-B,
            6 for ViT-L (Sec. 4.1; Table 12 ablates 2-5).
        inter_layers: ``(l1, l2)`` of ``FC_Inter`` (Eq. 11), **1-indexed** block
            outputs as the paper counts layers: ``(4, 7)`` for ViT-B, ``(9, 14)``
            for ViT-L (App. C). 1-indexed, both lie strictly inside ``f_I^A``
            (8 / 18 blocks); 0-indexed, ``l2 = 7`` would be ``f_I^A(X)`` itself
            for ViT-B but not for ViT-L. ``None`` drops ``FC_Inter`` (Table 7).
        hidden_dim: hidden width of ``FC_Inter`` and ``FC_CLS`` (4096, App. C).
        roi_size: ``L``, the side of each box's token grid. The paper does not
            give it (``Z^_i`` has the shape of the crop's own dense map); ``None``
            takes the tower's native grid (14 for ViT-B/16 at 224 px).
        roi_position: ``'early'`` (Eq. 8 / 11) or ``'late'`` (Eq. 12).
        init: ``'clone'``: the tower's last ``K`` blocks (endogenous, Sec. 3.3);
            ``'random'``: same place, freshly initialised blocks of the tower's
            architecture (open_clip / timm initialisers), Table 6(b) "Random";
            ``'exogenous'``: ``K`` freshly initialised blocks on top of the
            *whole* frozen tower (input: its last block's tokens), Table 6(b)
            "Exogenous".
        end_to_end: ``False`` freezes the tower (``trainable='none'``, eval mode,
            features under ``no_grad``). ``True`` leaves the tower's own
            ``trainable`` setting and gradients through its features, for
            training the Refiner jointly with the tower it reads (Table 6(b)
            "E2E" trains the Refiner and the student together; with a separate
            frozen teacher tower, E2E is a schedule and keeps ``False``).
    """

    def __init__(self, tower: Union[CLIPTower, dict], depth: int = 4,
                 inter_layers: Optional[Sequence[int]] = (4, 7), hidden_dim: int = 4096,
                 roi_size: Optional[int] = None, roi_position: str = 'early', init: str = 'clone',
                 end_to_end: bool = False, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if init not in INITS:
            raise ValueError(f'init must be one of {INITS}, got {init!r}')
        if roi_position not in ROI_POSITIONS:
            raise ValueError(f'roi_position must be one of {ROI_POSITIONS}, got {roi_position!r}')
        self.tower: CLIPTower = tower if isinstance(tower, nn.Module) else MODELS.build(tower)
        n = self.tower.num_blocks
        # 0-indexed tower block whose output tokens are f_I^A(X).
        self.input_layer = n - 1 if init == 'exogenous' else n - depth - 1
        if not 1 <= depth <= (n if init == 'exogenous' else n - 1):
            raise ValueError(f'depth {depth} does not fit a tower of {n} blocks with init={init!r}')
        if inter_layers is not None and (len(inter_layers) != 2
                                         or not all(1 <= layer <= self.input_layer + 1 for layer in inter_layers)):
            raise ValueError(f'inter_layers must be two 1-indexed blocks in [1, {self.input_layer + 1}] '
                             f'(the frozen part f_I^A), got {inter_layers}')
        self.inter_layers = tuple(layer - 1 for layer in inter_layers) if inter_layers is not None else ()
        self.roi_size = roi_size or self.tower.adapter.native_grid[0]
        self.roi_position = roi_position
        self.init = init
        self.end_to_end = end_to_end

        source = self.tower.adapter.blocks if init == 'clone' else \
            make_adapter(build_clip_model(self.tower.arch).visual).blocks
        device = next(self.tower.parameters()).device
        self.blocks = nn.ModuleList(copy.deepcopy(b) for b in source[n - depth:])
        self.blocks.requires_grad_(True)
        width = self.tower.width
        self.fc_inter = mlp(2 * width, hidden_dim, width) if inter_layers is not None else None
        self.fc_cls = mlp(width, hidden_dim, width)
        if self.fc_inter is not None:
            # Zero last layer: at initialisation Eq. 11 is Eq. 8, the cloned CLIP path (the paper is silent).
            nn.init.zeros_(self.fc_inter[-1].weight)
            nn.init.zeros_(self.fc_inter[-1].bias)
        self.to(device)
        if not end_to_end:
            self.tower.set_trainable('none')
            self.tower.eval()

    @property
    def required_layers(self) -> tuple[int, ...]:
        """0-indexed tower blocks whose tokens the Refiner reads (``TowerOutput.layers`` keys)."""
        return tuple(sorted({self.input_layer, *self.inter_layers}))

    def train(self, mode: bool = True) -> Refiner:
        super().train(mode)
        if not self.end_to_end:
            self.tower.eval()
        return self

    # ------------------------------------------------------------------ inputs
    def extract(self, images: torch.Tensor) -> TowerOutput:
        """Run the tower up to ``f_I^A`` only; ``layers`` holds :attr:`required_layers` as ``(B, C, h, w)``."""
        with torch.set_grad_enabled(self.end_to_end and torch.is_grad_enabled()):
            return self.tower(images, cls=False, dense=False, layers=self.required_layers,
                              stop_after=self.input_layer)

    def _features(self, inputs: Union[torch.Tensor, TowerOutput]) -> TowerOutput:
        if isinstance(inputs, torch.Tensor):
            return self.extract(inputs)
        missing = [i for i in self.required_layers if i not in inputs.layers]
        if missing:
            raise KeyError(f'TowerOutput lacks layers {missing}; run the tower with layers=refiner.required_layers')
        return inputs

    def _inputs(self, feats: TowerOutput) -> torch.Tensor:
        """``f_I^A(X) + Z_Inter`` (Eq. 11), ``(B, C, h, w)``."""
        x = feats.layers[self.input_layer]
        if self.fc_inter is None:
            return x
        cat = torch.cat([feats.layers[i] for i in self.inter_layers], dim=1)
        return x + self.fc_inter(cat.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    def _region_cls(self, feats: TowerOutput, rois: torch.Tensor) -> torch.Tensor:
        """Eq. 10 ``(K, C)``. "RoIPool" is read as the average over the box (RoIAlign 1x1, the pooling
        of Eq. 1 and of the Boxes evaluation), not max pooling, which CLIP's outlier channels dominate."""
        x = feats.layers[self.input_layer]
        return self.fc_cls(roi_embeddings(x, rois, self.tower.stride, feats.image_size, validate=False))

    def _whole_rois(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 5)`` rois covering every cell of the ``(B, C, h, w)`` map."""
        b, _, h, w = x.shape
        s = self.tower.stride
        return torch.tensor([[i, 0, 0, w * s, h * s] for i in range(b)], device=x.device, dtype=x.dtype)

    # ------------------------------------------------------------------ blocks
    def _grid(self, size: tuple[int, int]) -> TokenGrid:
        """Token grid of ``size``, with the tower's RoPE for it (EVA) or none (absolute positions)."""
        rope = getattr(getattr(self.tower.adapter, 'trunk', None), 'rope', None)
        return TokenGrid(size, rope_for_grid(rope, size) if rope is not None else None)

    def _run(self, cls: torch.Tensor, tokens: torch.Tensor, size: tuple[int, int]
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Blocks on ``[cls; tokens]`` ``(N, C), (N, h*w, C)`` -> normalised ``(N, D), (N, h*w, D)``."""
        grid = self._grid(size)
        x = torch.cat([cls[:, None], tokens], dim=1)
        for blk in self.blocks if len(x) else ():  # timm's EVA attention rejects an empty batch
            x = blk(x) if grid.rope is None else blk(x, rope=grid.rope)
        x = F.normalize(self.tower.project_tokens(x), dim=-1)
        return x[:, 0], x[:, 1:]

    def _refine_images(self, feats: TowerOutput) -> tuple[torch.Tensor, torch.Tensor]:
        """Blocks on whole images: class tokens ``(B, D)`` and refined maps ``(B, D, h, w)``."""
        x = self._inputs(feats)
        b, _, h, w = x.shape
        cls, tokens = self._run(self._region_cls(feats, self._whole_rois(x)), x.flatten(2).transpose(1, 2), (h, w))
        return cls, tokens.transpose(1, 2).reshape(b, -1, h, w)

    # ----------------------------------------------------------------- outputs
    def forward(self, inputs: Union[torch.Tensor, TowerOutput], boxes: BoxList,
                roi_size: Optional[int] = None) -> RefinerOutput:
        """Refined tokens of every box.

        Args:
            inputs: normalised images ``(B, 3, H, W)``, or the frozen tower's
                output on them holding :attr:`required_layers` (shared forward).
            boxes: per image ``(N_i, 4)`` boxes (may be empty) or ``(K, 5)`` rois,
                ``x1, y1, x2, y2`` in input pixels.
            roi_size: ``L`` for this call (e.g. the student's SCD grid);
                default :attr:`roi_size`.
        Returns:
            tokens ``(K, L*L, D)`` and class tokens ``(K, D)``, L2-normalised.
        """
        feats = self._features(inputs)
        size = roi_size or self.roi_size
        x = feats.layers[self.input_layer]
        rois = boxes_to_rois(boxes, x.device, x.dtype)
        check_rois(rois, feats.image_size)

        def pool(x: torch.Tensor) -> torch.Tensor:  # (B, C, h, w) -> (K, L*L, C)
            out = roi_embeddings(x, rois, self.tower.stride, feats.image_size, output_size=size, validate=False)
            return out.reshape(len(rois), size * size, x.shape[1])

        if self.roi_position == 'late':  # Eq. 12
            cls, dense = self._refine_images(feats)
            return RefinerOutput(F.normalize(pool(dense), dim=-1), cls[rois[:, 0].long()])
        cls, tokens = self._run(self._region_cls(feats, rois), pool(self._inputs(feats)), (size, size))
        return RefinerOutput(tokens, cls)

    def dense(self, inputs: Union[torch.Tensor, TowerOutput]) -> torch.Tensor:
        """Refined map of whole images ``(B, D, h, w)``, unit-norm cells (box = whole image, ``L = (h, w)``)."""
        return self._refine_images(self._features(inputs))[1]

    def signals(self, prefix: str, images: Callable[[tuple[int, int]], torch.Tensor], boxes: BoxList,
                token_size: int) -> dict[str, Callable[[], torch.Tensor]]:
        """Lazy producers of the distiller's refined readouts ``{prefix}.region_tokens`` ``(K, L*L, D)``,
        ``{prefix}.dense`` ``(B, D, h, w)`` and ``{prefix}.tokens`` ``(B, h*w, D)`` (Sec. 3.4, R-SCD) of a
        view whose images ``images(native_size)`` renders (``prefix`` = ``model.view``)."""
        cache: dict[str, Union[TowerOutput, torch.Tensor]] = {}

        def feats() -> TowerOutput:
            if 'feats' not in cache:
                cache['feats'] = self.extract(images(self.tower.native_size))
            return cache['feats']

        def dense() -> torch.Tensor:
            if 'dense' not in cache:
                cache['dense'] = self.dense(feats())
            return cache['dense']

        return {f'{prefix}.region_tokens': lambda: self(feats(), boxes, roi_size=token_size).tokens,
                f'{prefix}.dense': dense,
                f'{prefix}.tokens': lambda: dense().flatten(2).transpose(1, 2)}
