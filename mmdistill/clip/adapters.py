"""Family adapters: the few architecture-specific steps of a ViT image tower.

Every tower is run the same way by :class:`~mmdistill.clip.tower.CLIPTower`:
``embed`` (patches + resized positions + prefix tokens), ``block`` for each
transformer block, ``value_block`` (the MaskCLIP value-only path) or
``readout_block`` (SCLIP / ClearCLIP / NACLIP, ``readouts.py``) for the last
one, ``head`` (final norm + projection, per token) and ``pool`` (the image
embedding). An adapter implements these for one family, so a new family (e.g.
timm DINOv2) is one more adapter; for the readouts it supplies
``attention_with`` (its attention branch around a given head-mixing step) and
``ffn_branch``.

Tokens are ``(B, P + h * w, C)`` with ``P`` prefix tokens: one class token for
CLIP / EVA02, class + register tokens for DINOv2, none for SigLIP (MAP head).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from timm.layers import apply_rot_embed_cat, resample_abs_pos_embed
from torch import nn

from .readouts import KEEPS_RESIDUAL, attention_pool_values, readout_values

# (q, k, v) per head, each (B, H, N, d) -> mixed values (B, H, N, d)
Mixer = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class TokenGrid:
    """Per-forward context: the patch grid and (EVA) rotary embeddings."""

    size: tuple[int, int]
    rope: Optional[torch.Tensor] = None


# How absolute position tables are resized to a grid other than the native one:
#   'timm': timm's resample_abs_pos_embed (bicubic with antialias, i.e. the PIL-like kernel, a = -0.5);
#   'bicubic': F.interpolate(size=grid, mode='bicubic', align_corners=False), no antialias (a = -0.75),
#       as MaskCLIP's (mmseg's ViT) resize;
#   'bicubic_offset': the same kernel with DINO's scale factor (grid + 0.1) / native instead of the size,
#       as SCLIP, ClearCLIP and NACLIP resize (their interpolate_pos_encoding).
POS_EMBED_RESIZES = ('timm', 'bicubic', 'bicubic_offset')


def resize_pos_embed(pos_embed: torch.Tensor, grid: tuple[int, int], native: tuple[int, int],
                     num_prefix_tokens: int = 1, mode: str = 'timm') -> torch.Tensor:
    """Bicubic resize of ``(1, P + H0 * W0, C)`` positions (P prefix tokens) to ``grid`` by ``mode``
    (:data:`POS_EMBED_RESIZES`); identity at the native grid. Prefix positions are kept."""
    if mode not in POS_EMBED_RESIZES:
        raise ValueError(f'pos_embed_resize must be one of {POS_EMBED_RESIZES}, got {mode!r}')
    if mode == 'timm':
        return resample_abs_pos_embed(pos_embed, new_size=list(grid), old_size=list(native),
                                      num_prefix_tokens=num_prefix_tokens, interpolation='bicubic')
    if tuple(grid) == tuple(native):
        return pos_embed
    prefix, table = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    table = table.float().unflatten(1, tuple(native)).permute(0, 3, 1, 2)  # (1, C, H0, W0)
    if mode == 'bicubic':
        table = F.interpolate(table, size=tuple(grid), mode='bicubic', align_corners=False)
    else:
        scale = tuple((g + 0.1) / n for g, n in zip(grid, native))
        table = F.interpolate(table, scale_factor=scale, mode='bicubic', align_corners=False)
    table = table.flatten(2).transpose(1, 2).to(pos_embed.dtype)
    return torch.cat([prefix, table], dim=1)


def rope_for_grid(rope: nn.Module, grid: tuple[int, int]) -> torch.Tensor:
    """timm RoPE (sin, cos concatenated) recomputed for ``grid``, relative to its ``ref_feat_shape``."""
    if rope.feat_shape is None or tuple(rope.feat_shape) == tuple(grid):
        return rope.get_embed(shape=list(grid))
    # A RoPE built for a fixed grid caches its table: build one for this grid from its bands.
    return rope._build_embed_cat(list(grid), rope.bands)


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """``(B, N, H * d)`` -> ``(B, H, N, d)``."""
    return x.unflatten(-1, (heads, -1)).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(B, H, N, d)`` -> ``(B, N, H * d)``."""
    return x.transpose(1, 2).flatten(2)


class TowerAdapter:
    """Interface of a family adapter; holds a reference to the tower, registers no parameters."""

    patch_size: tuple[int, int]
    num_prefix_tokens: int = 1  # class token (+ register tokens), before the patch tokens
    pos_embed_resize: str = 'timm'  # how positions are resized to other grids (POS_EMBED_RESIZES), set by the tower

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

    @property
    def readout_blocker(self) -> Optional[str]:
        """Why the last block cannot run the attention readouts, or ``None`` when it can."""
        raise NotImplementedError

    def attention_with(self, index: int, x: torch.Tensor, grid: TokenGrid, mix: Mixer) -> torch.Tensor:
        """Attention branch of block ``index`` on ``(B, N, C)`` tokens, as the block adds it to its
        residual (output projection and layer scale included), with the attention step replaced by
        ``mix(q, k, v)`` on the block's own per-head ``q, k, v``."""
        raise NotImplementedError

    def ffn_branch(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """FFN branch of block ``index`` (norm, MLP, layer scale): ``(B, N, C)`` -> ``(B, N, C)``."""
        raise NotImplementedError

    def readout_block(self, index: int, x: torch.Tensor, grid: TokenGrid, readout: str,
                      sigma: float = 5.0) -> torch.Tensor:
        """Block ``index`` with a training-free readout's attention (``readouts.py``): ``(B, N, C)`` -> ``(B, N, C)``.

        ``'sclip'``: ``x + attn(x)``, then ``+ ffn``; ``'clearclip'`` / ``'naclip'``: ``attn(x)`` alone.
        """
        branch = self.attention_with(index, x, grid, partial(readout_values, readout, grid=grid.size, sigma=sigma))
        if not KEEPS_RESIDUAL[readout]:
            return branch
        x = x + branch
        return x + self.ffn_branch(index, x)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """Final norm + projection of ``(..., C)`` tokens into CLIP space ``(..., D)``."""
        raise NotImplementedError

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Image embedding ``(B, D)`` from the last block's tokens ``(B, N, C)``: the class token's head."""
        return self.head(x[:, 0])

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
        pos = resize_pos_embed(v.positional_embedding[None], grid, self.native_grid, mode=self.pos_embed_resize)
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

    @property
    def readout_blocker(self) -> Optional[str]:
        from open_clip.transformer import ResidualAttentionBlock
        last = self.blocks[-1]
        if type(last) is not ResidualAttentionBlock:
            return f'its last block is a {type(last).__name__}, not a ResidualAttentionBlock'
        return None

    def attention_with(self, index: int, x: torch.Tensor, grid: TokenGrid, mix: Mixer) -> torch.Tensor:
        blk = self.blocks[index]
        attn = blk.attn
        q, k, v = (split_heads(t, attn.num_heads)
                   for t in F.linear(blk.ln_1(x), attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1))
        return blk.ls_1(attn.out_proj(merge_heads(mix(q, k, v))))

    def ffn_branch(self, index: int, x: torch.Tensor) -> torch.Tensor:
        blk = self.blocks[index]
        return blk.ls_2(blk.mlp(blk.ln_2(x)))

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
            x = x + resize_pos_embed(t.pos_embed, grid, self.native_grid, mode=self.pos_embed_resize).to(x.dtype)
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

    @property
    def readout_blocker(self) -> Optional[str]:
        from timm.models.eva import EvaAttention, EvaBlock
        last = self.blocks[-1]
        if type(last) is not EvaBlock or type(last.attn) is not EvaAttention:
            return f'its last block is a {type(last).__name__} with {type(last.attn).__name__}, not an EvaBlock'
        return None

    def attention_with(self, index: int, x: torch.Tensor, grid: TokenGrid, mix: Mixer) -> torch.Tensor:
        """timm's ``EvaAttention.forward`` step by step (q / k norms, RoPE on the patches, inner norm,
        gate), except the attention step."""
        blk = self.blocks[index]
        attn = blk.attn
        y = blk.norm1(x)
        if attn.qkv is not None:
            bias = torch.cat((attn.q_bias, attn.k_bias, attn.v_bias)) if attn.q_bias is not None else None
            qkv = F.linear(y, attn.qkv.weight, bias).chunk(3, dim=-1)
        else:
            qkv = attn.q_proj(y), attn.k_proj(y), attn.v_proj(y)
        q, k, v = (split_heads(t, attn.num_heads) for t in qkv)
        q, k = attn.q_norm(q), attn.k_norm(k)
        if grid.rope is not None:
            q, k = (self._rotate(t, grid.rope, getattr(attn, 'rotate_half', False)).type_as(v) for t in (q, k))
        o = attn.norm(merge_heads(mix(q, k, v)))
        gate = getattr(attn, 'gate', None)
        if gate is not None:
            o = o * gate(y).sigmoid()
        o = attn.proj(o)
        return blk.gamma_1 * o if blk.gamma_1 is not None else o

    def _rotate(self, t: torch.Tensor, rope: torch.Tensor, half: bool) -> torch.Tensor:
        """RoPE on the patch tokens of ``(B, H, N, d)`` ``t``, prefix tokens unchanged."""
        p = self.num_prefix_tokens
        return torch.cat([t[:, :, :p], apply_rot_embed_cat(t[:, :, p:], rope, half=half)], dim=2)

    def ffn_branch(self, index: int, x: torch.Tensor) -> torch.Tensor:
        blk = self.blocks[index]
        m = blk.mlp(blk.norm2(x))
        return blk.gamma_2 * m if blk.gamma_2 is not None else m

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
        # class token, then register tokens (DINOv2); none for SigLIP
        prefix = [t.expand(x.shape[0], -1, -1).to(x.dtype) for t in (m.cls_token, m.reg_token) if t is not None]
        if m.no_embed_class:  # positions for patches only (DINOv2 with registers)
            pos = resize_pos_embed(m.pos_embed, grid, self.native_grid, num_prefix_tokens=0, mode=self.pos_embed_resize)
            x = torch.cat([*prefix, x + pos.to(x.dtype)], dim=1)
        else:
            pos = resize_pos_embed(m.pos_embed, grid, self.native_grid, num_prefix_tokens=self.num_prefix_tokens,
                                   mode=self.pos_embed_resize)
            x = torch.cat([*prefix, x], dim=1) + pos.to(x.dtype)
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

    @property
    def readout_blocker(self) -> Optional[str]:
        from timm.layers import Attention
        from timm.models.vision_transformer import Block
        last = self.blocks[-1]
        if type(last) is not Block or type(last.attn) is not Attention:
            return f'its last block is a {type(last).__name__} with {type(last.attn).__name__}, not a timm Block'
        return None

    def attention_with(self, index: int, x: torch.Tensor, grid: TokenGrid, mix: Mixer) -> torch.Tensor:
        """timm's ``Attention.forward`` step by step (q / k norms, output norm, gate), except the attention step."""
        blk = self.blocks[index]
        attn = blk.attn
        y = blk.norm1(x)
        q, k, v = (split_heads(t, attn.num_heads) for t in attn.qkv(y).chunk(3, dim=-1))
        o = attn.norm(merge_heads(mix(attn.q_norm(q), attn.k_norm(k), v)))
        gate = getattr(attn, 'gate', None)
        if gate is not None:
            o = o * gate(y).sigmoid()
        return blk.ls1(attn.proj(o))

    def ffn_branch(self, index: int, x: torch.Tensor) -> torch.Tensor:
        blk = self.blocks[index]
        return blk.ls2(blk.mlp(blk.norm2(x)))

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.fc_norm(self.model.norm(x))


class TimmAttentionPoolAdapter(TimmViTAdapter):
    """open_clip ``TimmModel`` whose trunk is a timm ``VisionTransformer`` pooling with a MAP head
    (``AttentionPoolLatent``): SigLIP and SigLIP 2.

    No class token: ``pool`` is the trunk's own head (final norm, attention pool over the patch
    tokens), and ``head`` reads each token out through the pool's value path
    (:func:`~mmdistill.clip.readouts.attention_pool_values`), so ``dense`` lives where ``cls`` does.
    """

    def __init__(self, visual: nn.Module) -> None:
        from timm.layers import AttentionPoolLatent
        trunk = visual.trunk
        pool = trunk.attn_pool
        if not isinstance(pool, AttentionPoolLatent) or pool.pos_embed is not None or pool.pool not in ('token', 'avg'):
            raise ValueError('Only MAP heads (timm AttentionPoolLatent) without positional embedding that '
                             f'pool to one vector are supported (got {type(pool).__name__})')
        self.visual = visual
        self.model = trunk
        self.patch_size = tuple(trunk.patch_embed.patch_size)
        self.num_prefix_tokens = trunk.num_prefix_tokens

    @property
    def embed_dim(self) -> int:
        return self.head(torch.zeros(1, self.width, device=self.model.pos_embed.device)).shape[-1]

    def head(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        return self.visual.head(m.head(m.fc_norm(attention_pool_values(m.attn_pool, m.norm(x)))))

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return self.visual.head(self.model.forward_head(self.model.norm(x)))


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
        if isinstance(trunk, TimmViT) and trunk.attn_pool is not None:
            return TimmAttentionPoolAdapter(visual)
        raise TypeError(f'Unsupported timm trunk {type(trunk).__name__}; supported: timm Eva (EVA02-CLIP), '
                        'timm VisionTransformer with a MAP head (SigLIP)')
    from open_clip.transformer import VisionTransformer
    if isinstance(visual, VisionTransformer):
        return OpenAIViTAdapter(visual)
    raise TypeError(f'Unsupported image tower {type(visual).__name__}; supported: open_clip VisionTransformer, '
                    'TimmModel(Eva), TimmModel(VisionTransformer with a MAP head), timm VisionTransformer (DINOv2)')
