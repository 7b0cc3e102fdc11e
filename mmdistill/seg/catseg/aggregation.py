"""Cat-Seg's cost aggregation blocks (Cho et al., CVPR 2024), batch-first and per image.

Shapes: ``B`` images, ``C`` classes, ``E`` aggregation channels, ``(h, w)`` the cost grid. Every image and
every class is a separate item of the spatial blocks, and every (image, cell) a separate sequence of the
class attention, so an image's output never depends on the other images of its batch; guidance maps are
repeated per class with ``repeat_interleave`` (the ``(B C)`` order of the class maps).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers import DropPath, Mlp, trunc_normal_
from timm.models.swin_transformer import get_relative_position_index, window_partition, window_reverse
from torch import Tensor, nn


class GuidedWindowAttention(nn.Module):
    """Swin window attention whose queries and keys also see a guidance map (values do not).

    Args:
        dim: token channels ``E``.
        guidance_dim: guidance channels ``G`` (0: plain window attention).
        num_heads: attention heads.
        window_size: side of the square window.
    """

    def __init__(self, dim: int, guidance_dim: int, num_heads: int, window_size: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim + guidance_dim, dim)
        self.k = nn.Linear(dim + guidance_dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.register_buffer('relative_position_index', get_relative_position_index(window_size, window_size),
                             persistent=False)
        trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: Tensor, guidance: Tensor, mask: Tensor | None) -> Tensor:
        """Windows ``(N, L, E)`` and their guidance ``(N, L, G)``; ``mask`` ``(nW, L, L)`` (0 / -inf) with ``N``
        a multiple of ``nW`` -> ``(N, L, E)``."""
        n, length, dim = x.shape
        qk_in = torch.cat([x, guidance], dim=-1)
        q, k, v = (t.view(n, length, self.num_heads, -1).transpose(1, 2)
                   for t in (self.q(qk_in), self.k(qk_in), self.v(x)))
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(length, length, -1).permute(2, 0, 1)  # (heads, L, L)
        if mask is not None:  # windows are grouped per map: (N / nW, nW, heads, L, L), the mask broadcast
            bias = bias + mask[:, None]
            q, k, v = (t.unflatten(0, (-1, mask.shape[0])) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        return self.proj(out.reshape(n, self.num_heads, length, -1).transpose(1, 2).reshape(n, length, dim))


class GuidedSwinBlock(nn.Module):
    """A Swin block (pre-norm window attention + MLP) on ``(N, H, W, E)`` maps with appearance guidance.

    The guidance ``(N, H, W, G)`` (already normalised) joins the queries and keys of every window; with
    ``shift`` the windows are cyclically shifted by half a window (Swin's SW-MSA, masked across the seam).
    Maps whose sides are not whole windows are zero-padded bottom / right.
    """

    def __init__(self, dim: int, guidance_dim: int, num_heads: int, window_size: int, shift: bool,
                 mlp_ratio: float = 4.0, drop_path: float = 0.0) -> None:
        super().__init__()
        self.window_size = window_size
        self.shift = window_size // 2 if shift else 0
        self.norm1 = nn.LayerNorm(dim)
        self.attn = GuidedWindowAttention(dim, guidance_dim, num_heads, window_size)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def shift_mask(self, hp: int, wp: int, device: torch.device) -> Tensor | None:
        """``(nW, L, L)``: 0 within a region of the shifted grid, -inf across regions; ``None`` without shift."""
        ws, s = self.window_size, self.shift
        if not s:
            return None
        rows = torch.zeros(hp, dtype=torch.long, device=device)
        cols = torch.zeros(wp, dtype=torch.long, device=device)
        rows[hp - ws:hp - s], rows[hp - s:] = 1, 2
        cols[wp - ws:wp - s], cols[wp - s:] = 1, 2
        regions = (rows[:, None] * 3 + cols[None])[None, :, :, None].float()  # (1, Hp, Wp, 1)
        windows = window_partition(regions, (ws, ws)).flatten(1)  # (nW, L)
        different = windows[:, :, None] != windows[:, None, :]
        return torch.zeros(different.shape, device=device).masked_fill(different, float('-inf'))

    def forward(self, x: Tensor, guidance: Tensor) -> Tensor:
        """``x (N, H, W, E)``, ``guidance (N, H, W, G)`` -> ``(N, H, W, E)``."""
        n, h, w, dim = x.shape
        ws, s = self.window_size, self.shift
        y = torch.cat([self.norm1(x), guidance], dim=-1)
        y = F.pad(y, (0, 0, 0, -w % ws, 0, -h % ws))
        hp, wp = y.shape[1:3]
        if s:
            y = torch.roll(y, shifts=(-s, -s), dims=(1, 2))
        windows = window_partition(y, (ws, ws)).flatten(1, 2)  # (N nW, L, E + G)
        out = self.attn(windows[..., :dim], windows[..., dim:], self.shift_mask(hp, wp, x.device))
        out = window_reverse(out.view(-1, ws, ws, dim), (ws, ws), hp, wp)
        if s:
            out = torch.roll(out, shifts=(s, s), dims=(1, 2))
        x = x + self.drop_path(out[:, :h, :w])
        return x + self.drop_path(self.mlp(self.norm2(x)))


def linear_attention(q: Tensor, k: Tensor, v: Tensor, eps: float = 1e-6) -> Tensor:
    """Linear attention with the ``elu + 1`` feature map (Katharopoulos et al., 2020) over the sequence axis.

    ``q, k, v`` ``(N, L, heads, d)`` -> ``(N, L, heads, d)``; sums over ``L`` only, so permuting the sequence
    permutes the output.
    """
    q, k = F.elu(q) + 1, F.elu(k) + 1
    kv = torch.einsum('nlhd,nlhe->nhde', k, v / v.shape[1])
    z = 1 / (torch.einsum('nlhd,nhd->nlh', q, k.sum(dim=1)) + eps)
    return torch.einsum('nlhd,nhde,nlh->nlhe', q, kv, z) * v.shape[1]


class ClassAggregation(nn.Module):
    """Class aggregation: per cell, linear attention across the class axis with text guidance, no position.

    The map is average-pooled before the attention (by ``pool`` in training, ``test_pool`` in evaluation) and
    its update upsampled back (bilinear).

    Args:
        dim: channels ``E``.
        guidance_dim: text guidance channels ``G_t`` (joins queries and keys).
        num_heads: attention heads.
        pool: pooling window in training (1: none).
        test_pool: pooling window in evaluation.
    """

    def __init__(self, dim: int, guidance_dim: int, num_heads: int, pool: int = 1, test_pool: int = 1) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.pool, self.test_pool = pool, test_pool
        self.norm1 = nn.LayerNorm(dim)
        self.q = nn.Linear(dim + guidance_dim, dim)
        self.k = nn.Linear(dim + guidance_dim, dim)
        self.v = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.ReLU(inplace=True), nn.Linear(4 * dim, dim))

    def forward(self, x: Tensor, text: Tensor) -> Tensor:
        """``x (B, C, E, h, w)``, ``text (B, C, G_t)`` -> ``(B, C, E, h, w)``."""
        b, c, e, h, w = x.shape
        pool = self.pool if self.training else self.test_pool
        y = F.avg_pool2d(x.flatten(0, 1), pool) if pool > 1 else x.flatten(0, 1)
        hp, wp = y.shape[-2:]
        tokens = y.view(b, c, e, hp * wp).permute(0, 3, 1, 2).flatten(0, 1)  # (B hp wp, C, E)
        guide = text[:, None].expand(-1, hp * wp, -1, -1).flatten(0, 1)  # (B hp wp, C, G_t)
        z = self.norm1(tokens)
        qk_in = torch.cat([z, guide], dim=-1)
        q, k, v = (t.unflatten(-1, (self.num_heads, -1)) for t in (self.q(qk_in), self.k(qk_in), self.v(z)))
        update = linear_attention(q, k, v).flatten(2)
        update = update + self.mlp(self.norm2(tokens + update))
        update = update.view(b, hp, wp, c, e).permute(0, 3, 4, 1, 2).flatten(0, 1)  # (B C, E, hp, wp)
        if (hp, wp) != (h, w):
            update = F.interpolate(update, size=(h, w), mode='bilinear', align_corners=True)
        return x + update.view(b, c, e, h, w)


class AggregatorLayer(nn.Module):
    """Spatial aggregation (two guided Swin blocks, the second shifted) then class aggregation."""

    def __init__(self, dim: int, appearance_dim: int, text_dim: int, num_heads: int, window_size: int,
                 pool: int = 1, test_pool: int = 1) -> None:
        super().__init__()
        self.guidance_norm = nn.LayerNorm(appearance_dim) if appearance_dim else nn.Identity()
        self.blocks = nn.ModuleList(
            GuidedSwinBlock(dim, appearance_dim, num_heads, window_size, shift=shift) for shift in (False, True))
        self.class_aggregation = ClassAggregation(dim, text_dim, num_heads, pool, test_pool)

    def forward(self, x: Tensor, appearance: Tensor, text: Tensor) -> Tensor:
        """``x (B, C, E, h, w)``, ``appearance (B, G_a, h, w)``, ``text (B, C, G_t)`` -> ``(B, C, E, h, w)``."""
        b, c, e, h, w = x.shape
        y = x.flatten(0, 1).permute(0, 2, 3, 1)  # (B C, h, w, E)
        guide = self.guidance_norm(appearance.permute(0, 2, 3, 1)).repeat_interleave(c, dim=0)  # (B C, h, w, G_a)
        for block in self.blocks:
            y = block(y, guide)
        return self.class_aggregation(y.permute(0, 3, 1, 2).reshape(b, c, e, h, w), text)


class GuidedUp(nn.Module):
    """Upsampling decoder step: transposed conv x2, concatenation of a guidance map, two conv-GN-ReLU."""

    def __init__(self, in_channels: int, out_channels: int, guidance_channels: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, in_channels - guidance_channels, kernel_size=2, stride=2)
        self.convs = nn.Sequential(*(
            layer for cin in (in_channels, out_channels)
            for layer in (nn.Conv2d(cin, out_channels, 3, padding=1, bias=False),
                          nn.GroupNorm(max(1, out_channels // 16), out_channels), nn.ReLU(inplace=True))))

    def forward(self, x: Tensor, guidance: Tensor) -> Tensor:
        """``x (B C, E, h, w)``, ``guidance (B, G, 2h, 2w)`` (repeated per class) -> ``(B C, E', 2h, 2w)``."""
        repeats = x.shape[0] // guidance.shape[0]
        return self.convs(torch.cat([self.up(x), guidance.repeat_interleave(repeats, dim=0)], dim=1))
