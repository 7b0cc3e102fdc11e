"""Family adapters: the few architecture-specific steps of a ViT image tower.

Every tower is run the same way by :class:`~mmdistill.clip.tower.CLIPTower`:
``embed`` (patches + resized positions + prefix tokens), ``block`` for each
transformer block, ``value_block`` (the MaskCLIP value-only path) for the last
one and ``head`` (final norm + projection, per token). An adapter implements
these for one family, so a new family (e.g. timm DINOv2) is one more adapter.

Tokens are ``(B, 1 + h * w, C)`` with one prefix (class) token.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from timm.layers import resample_abs_pos_embed
from torch import nn


@dataclass
class TokenGrid:
    """Per-forward context: the patch grid and (EVA) rotary embeddings."""

    size: tuple[int, int]
    rope: Optional[torch.Tensor] = None


def resize_pos_embed(pos_embed: torch.Tensor, grid: tuple[int, int], native: tuple[int, int],
                     num_prefix_tokens: int = 1) -> torch.Tensor:
    """Bicubic resize of ``(1, P + H0 * W0, C)`` positions (P prefix tokens) to ``grid``; identity at native."""
    return resample_abs_pos_embed(pos_embed, new_size=list(grid), old_size=list(native),
                                  num_prefix_tokens=num_prefix_tokens, interpolation='bicubic')


def rope_for_grid(rope: nn.Module, grid: tuple[int, int]) -> torch.Tensor:
    """timm RoPE (sin, cos concatenated) recomputed for ``grid``, relative to its ``ref_feat_shape``."""
    if rope.feat_shape is None or tuple(rope.feat_shape) == tuple(grid):
        return rope.get_embed(shape=list(grid))
    # A RoPE built for a fixed grid caches its table: build one for this grid from its bands.
    return rope._build_embed_cat(list(grid), rope.bands)


class TowerAdapter:
    """Interface of a family adapter; holds a reference to the tower, registers no parameters."""

    patch_size: tuple[int, int]
    num_prefix_tokens: int = 1  # class token (+ register tokens), before the patch tokens

    @property
    def native_grid(self) -> tuple[int, int]:
        """Patch grid the positional embedding was trained for."""
        raise NotImplementedError

    @property
    def blocks(self) -> nn.ModuleList:
        raise NotImplementedError

    def embed(self, images: torch.Tensor) -> tuple[torch.Tensor, TokenGrid]:
        raise NotImplementedError

    def block(self, index: int, x: torch.Tensor, grid: TokenGrid) -> torch.Tensor:
        raise NotImplementedError

    def value_block(self, index: int, x: torch.Tensor, grid: TokenGrid) -> torch.Tensor:
        raise NotImplementedError

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """Final norm + projection of ``(..., C)`` tokens into CLIP space ``(..., D)``."""
        raise NotImplementedError

    @property
    def width(self) -> int:
        raise NotImplementedError

    @property
    def embed_dim(self) -> int:
        raise NotImplementedError


class OpenAIViTAdapter(TowerAdapter):
    """open_clip ``VisionTransformer`` (OpenAI, DFN, MetaCLIP, LAION weights)."""

    def __init__(self, visual: nn.Module) -> None:
        if visual.attn_pool is not None or visual.pool_type != 'tok' or visual.final_ln_after_pool:
            raise ValueError('Only class-token ViTs without attentional pooling are supported '
                             f'(got pool_type={visual.pool_type!r}, attn_pool={visual.attn_pool is not None})')
        self.visual = visual
        self.patch_size = tuple(visual.patch_size)

    @property
    def native_grid(self) -> tuple[int, int]:
        return tuple(self.visual.grid_size)

    @property
    def blocks(self) -> nn.ModuleList:
        return self.visual.transformer.resblocks

    @property
    def width(self) -> int:
        return self.visual.conv1.out_channels

    @property
    def embed_dim(self) -> int:
        return self.visual.proj.shape[1]

    def embed(self, images: torch.Tensor) -> tuple[torch.Tensor, TokenGrid]:
        v = self.visual
        x = v.conv1(images)  # (B, C, h, w)
        grid = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2)
        cls = v.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        pos = resize_pos_embed(v.positional_embedding[None], grid, self.native_grid)
        x = torch.cat([cls, x], dim=1) + pos.to(x.dtype)
        return v.ln_pre(x), TokenGrid(grid)

    def block(self, index: int, x: torch.Tensor, grid: TokenGrid) -> torch.Tensor:
        return self.blocks[index](x)

    def value_block(self, index: int, x: torch.Tensor, grid: TokenGrid) -> torch.Tensor:
        blk = self.blocks[index]
        attn = blk.attn
        width = x.shape[-1]
        w_v = attn.in_proj_weight[2 * width:]
        b_v = attn.in_proj_bias[2 * width:] if attn.in_proj_bias is not None else None
        v = F.linear(blk.ln_1(x), w_v, b_v)
        x = x + blk.ls_1(attn.out_proj(v))
        return x + blk.ls_2(blk.mlp(blk.ln_2(x)))

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return self.visual.ln_post(x) @ self.visual.proj


class TimmEvaAdapter(TowerAdapter):
    """open_clip ``TimmModel`` whose trunk is a timm ``Eva`` (EVA02-CLIP)."""

    def __init__(self, visual: nn.Module) -> None:
        trunk = visual.trunk
        if trunk.num_prefix_tokens != 1 or trunk.global_pool != 'token' or trunk.attn_pool is not None:
            raise ValueError('Only EVA towers with one class token and token pooling are supported')
        self.visual = visual
        self.trunk = trunk
        self.patch_size = tuple(trunk.patch_embed.patch_size)

    @property
    def native_grid(self) -> tuple[int, int]:
        return tuple(self.trunk.patch_embed.grid_size)

    @property
    def blocks(self) -> nn.ModuleList:
        return self.trunk.blocks

    @property
    def width(self) -> int:
        return self.trunk.embed_dim

    @property
    def embed_dim(self) -> int:
        return self.head(torch.zeros(1, self.width, device=self.trunk.cls_token.device)).shape[-1]

    def embed(self, images: torch.Tensor) -> tuple[torch.Tensor, TokenGrid]:
        t = self.trunk
        x = t.patch_embed.proj(images)  # (B, C, h, w)
        grid = (x.shape[2], x.shape[3])
        x = t.patch_embed.norm(x.flatten(2).transpose(1, 2))
        x = torch.cat([t.cls_token.expand(x.shape[0], -1, -1).to(x.dtype), x], dim=1)
        if t.pos_embed is not None:
            x = x + resize_pos_embed(t.pos_embed, grid, self.native_grid).to(x.dtype)
        rope = rope_for_grid(t.rope, grid) if t.rope is not None else None
        return t.norm_pre(x), TokenGrid(grid, rope)

    def block(self, index: int, x: torch.Tensor, grid: TokenGrid) -> torch.Tensor:
        return self.blocks[index](x, rope=grid.rope)

    def value_block(self, index: int, x: torch.Tensor, grid: TokenGrid) -> torch.Tensor:
        blk = self.blocks[index]
        attn = blk.attn
        y = blk.norm1(x)
        if attn.qkv is not None:
            width = attn.qkv.weight.shape[0] // 3
            v = F.linear(y, attn.qkv.weight[2 * width:], attn.v_bias)
        else:
            v = attn.v_proj(y)
        v = attn.proj(attn.norm(v))
        x = x + (blk.gamma_1 * v if blk.gamma_1 is not None else v)
        m = blk.mlp(blk.norm2(x))
        return x + (blk.gamma_2 * m if blk.gamma_2 is not None else m)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        t = self.trunk
        return self.visual.head(t.head(t.fc_norm(t.norm(x))))


class TimmViTAdapter(TowerAdapter):
    """timm ``VisionTransformer`` without a CLIP projection, e.g. DINOv2 (with or without registers).

    The "CLIP space" is the final norm's output (there is no text tower); the class token
    is the first prefix token, register tokens follow it.
    """

    def __init__(self, model: nn.Module) -> None:
        if model.cls_token is None:
            raise ValueError('timm ViTs without a class token are not supported')
        self.model = model
        self.patch_size = tuple(model.patch_embed.patch_size)
        self.num_prefix_tokens = model.num_prefix_tokens

    @property
    def native_grid(self) -> tuple[int, int]:
        return tuple(self.model.patch_embed.grid_size)

    @property
    def blocks(self) -> nn.ModuleList:
        return self.model.blocks

    @property
    def width(self) -> int:
        return self.model.embed_dim

    @property
    def embed_dim(self) -> int:
        return self.model.embed_dim

    def embed(self, images: torch.Tensor) -> tuple[torch.Tensor, TokenGrid]:
        m = self.model
        x = m.patch_embed.proj(images)
        grid = (x.shape[2], x.shape[3])
        x = m.patch_embed.norm(x.flatten(2).transpose(1, 2))
        prefix = [m.cls_token.expand(x.shape[0], -1, -1)]
        if m.reg_token is not None:
            prefix.append(m.reg_token.expand(x.shape[0], -1, -1))
        prefix = torch.cat(prefix, dim=1).to(x.dtype)
        if m.no_embed_class:  # positions for patches only (DINOv2 with registers)
            pos = resize_pos_embed(m.pos_embed, grid, self.native_grid, num_prefix_tokens=0)
            x = torch.cat([prefix, x + pos.to(x.dtype)], dim=1)
        else:
            pos = resize_pos_embed(m.pos_embed, grid, self.native_grid, num_prefix_tokens=self.num_prefix_tokens)
            x = torch.cat([prefix, x], dim=1) + pos.to(x.dtype)
        return m.norm_pre(x), TokenGrid(grid)

    def block(self, index: int, x: torch.Tensor, grid: TokenGrid) -> torch.Tensor:
        return self.blocks[index](x)

    def value_block(self, index: int, x: torch.Tensor, grid: TokenGrid) -> torch.Tensor:
        blk = self.blocks[index]
        attn = blk.attn
        width = attn.qkv.weight.shape[0] // 3
        bias = attn.qkv.bias[2 * width:] if attn.qkv.bias is not None else None
        v = attn.proj(attn.norm(F.linear(blk.norm1(x), attn.qkv.weight[2 * width:], bias)))
        x = x + blk.ls1(v)
        return x + blk.ls2(blk.mlp(blk.norm2(x)))

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.fc_norm(self.model.norm(x))


def make_adapter(visual: nn.Module) -> TowerAdapter:
    """Pick the adapter for an open_clip image tower or a timm ViT."""
    from timm.models.vision_transformer import VisionTransformer as TimmViT
    if isinstance(visual, TimmViT):
        return TimmViTAdapter(visual)
    trunk = getattr(visual, 'trunk', None)
    if trunk is not None:
        from timm.models.eva import Eva
        if isinstance(trunk, Eva):
            return TimmEvaAdapter(visual)
        raise TypeError(f'Unsupported timm trunk {type(trunk).__name__}; supported: timm Eva (EVA02-CLIP)')
    from open_clip.transformer import VisionTransformer
    if isinstance(visual, VisionTransformer):
        return OpenAIViTAdapter(visual)
    raise TypeError(f'Unsupported image tower {type(visual).__name__}; supported: open_clip VisionTransformer, '
                    'TimmModel(Eva), timm VisionTransformer (DINOv2)')
