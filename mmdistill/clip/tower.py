"""CLIPTower: one interface over open_clip image towers.

A tower gives, for normalised images ``(B, 3, H, W)`` of any size (at least one patch):

* ``cls``: the image embedding ``(B, D)`` (class token, final norm, projection);
* ``dense``: the CLIP-space map ``(B, D, h, w)``, L2-normalised per cell, from the
  value-only last block (MaskCLIP): all blocks but the last run normally, the last
  one replaces query-key attention by the value and output projections (or, with
  ``dense_path``, the plain last block or a training-free readout: ``readouts.py``);
* ``layers``: raw tokens ``(B, C, h, w)`` after chosen blocks (0-indexed);
* region embeddings (RoIAlign 1x1, aligned, on the normalised map) and mask
  embeddings (coverage-weighted mean), both re-normalised.

Student and teacher towers are instances of this class.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.checkpoint import checkpoint

from ..registry import MODELS
from .adapters import POS_EMBED_RESIZES, make_adapter
from .builder import TIMM_PREFIX, build_clip_model, build_timm_vit
from .pooling import BoxList, mask_embeddings, roi_embeddings
from .readouts import READOUTS

TRAINABLE_MODES = ('none', 'blocks', 'all')
DENSE_PATHS = ('value', 'plain') + READOUTS


def allowed_sdpa_backends() -> list[SDPBackend]:
    """The ``scaled_dot_product_attention`` kernels allowed now (an ``sdpa_kernel`` context narrows them)."""
    flags = {SDPBackend.FLASH_ATTENTION: torch.backends.cuda.flash_sdp_enabled,
             SDPBackend.EFFICIENT_ATTENTION: torch.backends.cuda.mem_efficient_sdp_enabled,
             SDPBackend.CUDNN_ATTENTION: torch.backends.cuda.cudnn_sdp_enabled,
             SDPBackend.MATH: torch.backends.cuda.math_sdp_enabled}
    return [backend for backend, enabled in flags.items() if enabled()]


@dataclass
class TowerOutput:
    """What one tower forward returns; fields not asked for stay ``None`` / empty."""

    cls: Optional[torch.Tensor] = None  # (B, D)
    dense: Optional[torch.Tensor] = None  # (B, D, h, w), L2-normalised
    layers: dict[int, torch.Tensor] = field(default_factory=dict)  # block index -> (B, C, h, w)
    dense_tokens: Optional[torch.Tensor] = None  # (B, C, h, w): the dense path's last block, before norm + head
    image_size: tuple[int, int] = (0, 0)


@MODELS.register_module()
class CLIPTower(BaseModule):
    """An open_clip image tower built from an architecture name and a local checkpoint.

    Args:
        arch: open_clip architecture name (``'EVA02-B-16'``, ``'ViT-B-16'``, or a
            shipped one such as ``'mmdistill-world-ViT-P12'``), or ``'timm:<name>'`` for a
            vision-only timm ViT such as DINOv2 (``'timm:vit_base_patch14_dinov2'``).
        checkpoint: local checkpoint of the whole CLIP model (open_clip, OpenAI or
            EVA-CLIP layout); ``None`` keeps a random initialisation.
        trainable: ``'blocks'`` (CLIPSelf: transformer blocks train; patch and
            position embeddings, class token, final norm and projection frozen),
            ``'none'`` or ``'all'``; ``train_last_blocks`` restricts ``'blocks'``
            to the last K blocks.
        dense_path: how the last block gives ``dense``: ``'value'`` (MaskCLIP's value-only last
            block, for CLIP towers), ``'plain'`` (the last block as it is, the natural choice for
            DINOv2), or a training-free readout for the original CLIP: ``'sclip'``,
            ``'clearclip'`` or ``'naclip'`` (see ``readouts.py``).
        naclip_sigma: standard deviation, in cells, of NACLIP's Gaussian neighbourhood prior.
        pos_embed_resize: how the absolute position table is resized to a non-native grid: ``'timm'``
            (timm's ``resample_abs_pos_embed``: antialiased bicubic), ``'bicubic'`` (``F.interpolate`` to the
            grid, bicubic, ``align_corners=False``, no antialias: MaskCLIP) or ``'bicubic_offset'`` (the same
            kernel with the scale factor ``(grid + 0.1) / native``: SCLIP / ClearCLIP / NACLIP); see
            :func:`~mmdistill.clip.adapters.resize_pos_embed`. RoPE (EVA02) is recomputed either way.
        compiled_blocks: ``torch.compile`` the transformer blocks (see :meth:`compile_blocks`).
        grad_checkpointing: activation checkpointing per transformer block when gradients are
            recorded (``torch.utils.checkpoint``, non-reentrant): each block's activations are
            recomputed in the backward pass instead of kept, for large towers at large inputs.
            Same outputs and gradients; no effect under ``no_grad`` (teachers).
    """

    def __init__(self, arch: str, checkpoint: Optional[str] = None, trainable: str = 'blocks',
                 train_last_blocks: Optional[int] = None, dense_path: str = 'value', naclip_sigma: float = 5.0,
                 pos_embed_resize: str = 'timm', compiled_blocks: bool = False, grad_checkpointing: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if dense_path not in DENSE_PATHS:
            raise ValueError(f'dense_path must be one of {DENSE_PATHS}, got {dense_path!r}')
        if not naclip_sigma > 0:
            raise ValueError(f'naclip_sigma must be positive, got {naclip_sigma}')
        if pos_embed_resize not in POS_EMBED_RESIZES:
            raise ValueError(f'pos_embed_resize must be one of {POS_EMBED_RESIZES}, got {pos_embed_resize!r}')
        self.arch = arch
        self.checkpoint = checkpoint
        self.dense_path = dense_path
        self.naclip_sigma = naclip_sigma
        self.grad_checkpointing = grad_checkpointing
        self.visual = (build_timm_vit(arch, checkpoint) if arch.startswith(TIMM_PREFIX)
                       else build_clip_model(arch, checkpoint).visual)
        self.adapter = make_adapter(self.visual)
        self.adapter.pos_embed_resize = pos_embed_resize
        blocker = self.adapter.readout_blocker if dense_path in READOUTS else None
        if blocker:
            raise ValueError(f'dense_path={dense_path!r} is not available for {arch}: {blocker}')
        self.set_trainable(trainable, train_last_blocks)
        if compiled_blocks:
            self.compile_blocks()

    def compile_blocks(self, **options) -> None:
        """``torch.compile`` every transformer block in place (``options``: ``torch.compile``'s); parameter
        names and checkpoints are unchanged. The value-only and readout forms of the last block call the
        block's parts and stay eager."""
        for block in self.adapter.blocks:
            block.compile(**options)

    # ----------------------------------------------------------------- geometry
    @property
    def stride(self) -> int:
        """Input pixels per cell of the dense map (the patch size)."""
        return self.adapter.patch_size[0]

    @property
    def native_size(self) -> tuple[int, int]:
        """Input size the positional embedding was trained for."""
        g, p = self.adapter.native_grid, self.adapter.patch_size
        return g[0] * p[0], g[1] * p[1]

    @property
    def num_blocks(self) -> int:
        return len(self.adapter.blocks)

    @property
    def embed_dim(self) -> int:
        return self.adapter.embed_dim

    @property
    def width(self) -> int:
        return self.adapter.width

    # ------------------------------------------------------------------ forward
    def forward(self, images: torch.Tensor, cls: bool = False, dense: bool = True,
                layers: Sequence[int] = (), stop_after: Optional[int] = None) -> TowerOutput:
        """Run the trunk once and return the requested outputs (see :class:`TowerOutput`).

        ``stop_after=i`` runs blocks ``0..i`` only (e.g. the Refiner's frozen early part);
        then only ``layers`` up to ``i`` can be asked for.
        """
        h, w = images.shape[-2:]
        ph, pw = self.adapter.patch_size
        if h < ph or w < pw:
            raise ValueError(f'input {h}x{w} is smaller than one {ph}x{pw} patch of {self.arch}')
        last = self.num_blocks - 1
        bad = [i for i in layers if not -self.num_blocks <= i <= last]
        if bad:
            raise ValueError(f'layers {bad} out of range for {self.arch} with {self.num_blocks} blocks')
        want = {i % self.num_blocks for i in layers}
        p = self.adapter.num_prefix_tokens
        out = TowerOutput(image_size=(h, w))
        x, grid = self.adapter.embed(images)
        if stop_after is not None:
            if cls or dense or max(want, default=-1) > stop_after:
                raise ValueError(f'stop_after={stop_after} gives only layers <= {stop_after}, no cls / dense')
            last = stop_after + 1
        for i in range(last):
            x = self._run(self.adapter.block, i, x, grid)
            if i in want:
                out.layers[i] = self._to_map(x[:, p:], grid.size)
        if stop_after is not None:
            return out
        y = None
        if cls or last in want or (dense and self.dense_path == 'plain'):
            y = self._run(self.adapter.block, last, x, grid)
            if last in want:
                out.layers[last] = self._to_map(y[:, p:], grid.size)
            if cls:
                out.cls = self.adapter.pool(y)
        if dense:
            if self.dense_path == 'value':
                y = self._run(self.adapter.value_block, last, x, grid)
            elif self.dense_path in READOUTS:
                y = self.adapter.readout_block(last, x, grid, self.dense_path, self.naclip_sigma)
            out.dense_tokens = self._to_map(y[:, p:], grid.size)
            out.dense = F.normalize(self._to_map(self.adapter.head(y[:, p:]), grid.size), dim=1)
        return out

    def _run(self, block: Callable[..., torch.Tensor], *args) -> torch.Tensor:
        """``block(*args)``, under activation checkpointing when it is on and gradients are recorded."""
        if self.grad_checkpointing and torch.is_grad_enabled():
            # the backward's recomputation runs outside any `sdpa_kernel` context of the forward (BF16OptimWrapper
            # picks the math kernel on CPUs): another kernel would save other tensors, which checkpoint rejects
            backends = allowed_sdpa_backends()
            return checkpoint(block, *args, use_reentrant=False,
                              context_fn=lambda: (contextlib.nullcontext(), sdpa_kernel(backends)))
        return block(*args)

    @staticmethod
    def _to_map(tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """``(B, h * w, C)`` -> ``(B, C, h, w)``."""
        return tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], *grid)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Image embeddings ``(B, D)``, not normalised (as open_clip's ``encode_image``)."""
        return self(images, cls=True, dense=False).cls

    def dense_features(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised CLIP-space map ``(B, D, h, w)``."""
        return self(images).dense

    def project_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Final norm + projection of raw ``(..., C)`` tokens into CLIP space ``(..., D)``."""
        return self.adapter.head(tokens)

    # --------------------------------------------------------- regions / masks
    def region_embeddings(self, dense: torch.Tensor, boxes: BoxList, image_size: tuple[int, int],
                          validate: bool = True) -> torch.Tensor:
        """RoIAlign 1x1 of ``dense`` over boxes (input pixels) -> ``(K, D)``, normalised."""
        return F.normalize(roi_embeddings(dense, boxes, self.stride, image_size, validate=validate), dim=-1)

    def mask_embeddings(self, dense: torch.Tensor, masks: Sequence[torch.Tensor]) -> torch.Tensor:
        """Mean of ``dense`` over per-image ``(N_i, H, W)`` masks -> ``(sum N_i, D)``, normalised."""
        return F.normalize(mask_embeddings(dense, masks, self.stride), dim=-1)

    def init_weights(self) -> None:
        """Nothing to do: the weights come from ``checkpoint`` at construction.

        (mmengine's default would call ``init_weights`` of children such as a timm ViT, which
        re-initialises it, when a runner initialises the model holding this tower.)
        """

    # ----------------------------------------------------------------- freezing
    def set_trainable(self, mode: str = 'blocks', last_blocks: Optional[int] = None) -> None:
        """Set ``requires_grad`` as the papers do (see class docstring)."""
        if mode not in TRAINABLE_MODES:
            raise ValueError(f'trainable must be one of {TRAINABLE_MODES}, got {mode!r}')
        for p in self.parameters():
            p.requires_grad_(mode == 'all')
        if mode == 'blocks':
            blocks = self.adapter.blocks
            chosen = blocks if last_blocks is None else blocks[len(blocks) - last_blocks:]
            for p in chosen.parameters():
                p.requires_grad_(True)

    def frozen_parameter_names(self) -> list[str]:
        return [n for n, p in self.named_parameters() if not p.requires_grad]

    def clip_state_dict(self) -> dict[str, torch.Tensor]:
        """The tower's weights under open_clip's key names (``visual.*``)."""
        return {f'visual.{k}': v for k, v in self.visual.state_dict().items()}
