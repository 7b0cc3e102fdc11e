"""Dense readouts of the last block (value, plain, SCLIP, ClearCLIP, NACLIP) against step-by-step references."""
import json
import math

import open_clip
import pytest
import torch
import torch.nn.functional as F
from timm.layers import apply_rot_embed_cat

from mmdistill.clip import CLIPTower
from mmdistill.clip.architectures import MODEL_CONFIG_DIR
from mmdistill.clip.readouts import gaussian_prior, readout_values

VIT, EVA, DINO = 'mmdistill-tiny-ViT-P8', 'mmdistill-tiny-EVA-P8', 'timm:mmdistill_dinov2_tiny_p8'
PATHS = ('value', 'plain', 'sclip', 'clearclip', 'naclip')


def seeded_tower(arch: str, dense_path: str, sigma: float = 5.0) -> CLIPTower:
    torch.manual_seed(0)
    tower = CLIPTower(arch, dense_path=dense_path, naclip_sigma=sigma).eval()
    # Random non-trivial layer scales / biases so no term of the reference is zero.
    with torch.no_grad():
        for p in tower.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return tower


def reference_omega(h: int, w: int, prefix: int, sigma: float) -> torch.Tensor:
    """Omega entry by entry: exp(-||p_i - p_j||^2 / (2 sigma^2)) on patch pairs, 0 on prefix rows / columns."""
    cells = [(r, c) for r in range(h) for c in range(w)]
    omega = torch.zeros(prefix + h * w, prefix + h * w)
    for i, (ri, ci) in enumerate(cells):
        for j, (rj, cj) in enumerate(cells):
            omega[prefix + i, prefix + j] = math.exp(-((ri - rj) ** 2 + (ci - cj) ** 2) / (2 * sigma ** 2))
    return omega


def reference_weights(path: str, q: torch.Tensor, k: torch.Tensor, grid: tuple[int, int],
                      sigma: float) -> torch.Tensor:
    """Attention weights (B, N, N) of one head from its q, k (B, N, d)."""
    s = q.shape[-1] ** -0.5
    qq = (s * q @ q.transpose(1, 2)).softmax(-1)
    kk = (s * k @ k.transpose(1, 2)).softmax(-1)
    if path == 'value':
        return torch.eye(q.shape[1]).expand(len(q), -1, -1)
    if path == 'plain':
        return (s * q @ k.transpose(1, 2)).softmax(-1)
    if path == 'sclip':
        return qq + kk
    if path == 'clearclip':
        return qq
    omega = reference_omega(*grid, q.shape[1] - grid[0] * grid[1], sigma)
    return (s * k @ k.transpose(1, 2) + omega).softmax(-1)


def mix_heads(path: str, q, k, v, heads: int, grid, sigma: float) -> torch.Tensor:
    """Per-head loop: (B, N, H * d) q, k, v -> concatenated A_h v_h (B, N, H * d)."""
    d = q.shape[-1] // heads
    outs = []
    for i in range(heads):
        cut = slice(i * d, (i + 1) * d)
        outs.append(reference_weights(path, q[..., cut], k[..., cut], grid, sigma) @ v[..., cut])
    return torch.cat(outs, -1)


def finish(path: str, x: torch.Tensor, branch: torch.Tensor, ffn) -> torch.Tensor:
    """value / plain / sclip keep residual and FFN; clearclip / naclip return the branch alone."""
    if path in ('clearclip', 'naclip'):
        return branch
    x = x + branch
    return x + ffn(x)


def last_block_vit(tower, x, grid, path, sigma):
    blk = tower.visual.transformer.resblocks[-1]
    attn = blk.attn
    q, k, v = (blk.ln_1(x) @ attn.in_proj_weight.T + attn.in_proj_bias).chunk(3, -1)
    o = mix_heads(path, q, k, v, attn.num_heads, grid, sigma)
    branch = o @ attn.out_proj.weight.T + attn.out_proj.bias
    return finish(path, x, branch, lambda t: blk.mlp(blk.ln_2(t)))


def head_vit(tower, tokens):
    return tower.visual.ln_post(tokens) @ tower.visual.proj


def last_block_eva(tower, x, grid, path, sigma, rope):
    """timm EvaAttention written out: separate q / k / v projections, RoPE on patches, inner norm."""
    blk = tower.visual.trunk.blocks[-1]
    attn = blk.attn
    assert attn.qkv is None and blk.gamma_1 is None
    y = blk.norm1(x)
    heads = attn.num_heads
    q, k, v = attn.q_proj(y), attn.k_proj(y), attn.v_proj(y)

    def rotate(t):  # per head: rotate the patch tokens
        t = t.unflatten(-1, (heads, -1)).transpose(1, 2)
        t = torch.cat([t[:, :, :1], apply_rot_embed_cat(t[:, :, 1:], rope)], 2)
        return t.transpose(1, 2).flatten(2)

    o = mix_heads(path, rotate(q), rotate(k), v, heads, grid, sigma)
    branch = attn.proj(attn.norm(o))
    return finish(path, x, branch, lambda t: blk.mlp(blk.norm2(t)))


def head_eva(tower, tokens):
    trunk = tower.visual.trunk
    return tower.visual.head(trunk.head(trunk.norm(tokens)))


def last_block_dino(tower, x, grid, path, sigma):
    blk = tower.visual.blocks[-1]
    attn = blk.attn
    q, k, v = (blk.norm1(x) @ attn.qkv.weight.T + attn.qkv.bias).chunk(3, -1)
    o = mix_heads(path, q, k, v, attn.num_heads, grid, sigma)
    branch = blk.ls1.gamma * (o @ attn.proj.weight.T + attn.proj.bias)
    return finish(path, x, branch, lambda t: blk.ls2.gamma * blk.mlp(blk.norm2(t)))


def head_dino(tower, tokens):
    return tower.visual.norm(tokens)


def reference(tower: CLIPTower, images: torch.Tensor, path: str, sigma: float):
    """(dense (B, D, h, w), dense tokens (B, C, h, w)): the tower's embedding and first blocks, then the
    last block and head written out from the modules' weights."""
    x, grid = tower.adapter.embed(images)
    h, w = grid.size
    if tower.arch == EVA:
        for blk in tower.visual.trunk.blocks[:-1]:
            x = blk(x, rope=grid.rope)
        y, head = last_block_eva(tower, x, (h, w), path, sigma, grid.rope), head_eva
    elif tower.arch == VIT:
        for blk in tower.visual.transformer.resblocks[:-1]:
            x = blk(x)
        y, head = last_block_vit(tower, x, (h, w), path, sigma), head_vit
    else:
        for blk in tower.visual.blocks[:-1]:
            x = blk(x)
        y, head = last_block_dino(tower, x, (h, w), path, sigma), head_dino
    patches = y[:, tower.adapter.num_prefix_tokens:]

    def to_map(t):
        return t.transpose(1, 2).reshape(len(t), -1, h, w)

    return to_map(F.normalize(head(tower, patches), dim=-1)), to_map(patches)


@pytest.mark.parametrize('path', PATHS)
@pytest.mark.parametrize('arch', [VIT, EVA, DINO])
@torch.no_grad()
def test_dense_path_equals_reference(arch, path):
    tower = seeded_tower(arch, path)
    images = torch.randn(2, 3, 32, 48)  # a 4 x 6 grid
    out = tower(images)
    dense, tokens = reference(tower, images, path, sigma=5.0)
    assert out.dense.shape == (2, tower.embed_dim, 4, 6)
    torch.testing.assert_close(out.dense, dense, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out.dense_tokens, tokens, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('arch', [VIT, EVA])
@torch.no_grad()
def test_readouts_differ_from_each_other_and_sigma_matters(arch):
    images = torch.randn(1, 3, 32, 48)
    maps = {path: seeded_tower(arch, path)(images).dense for path in PATHS}
    for i, a in enumerate(PATHS):
        for b in PATHS[i + 1:]:
            assert not torch.allclose(maps[a], maps[b], atol=1e-3), (a, b)
    narrow = seeded_tower(arch, 'naclip', sigma=1.0)
    torch.testing.assert_close(narrow(images).dense, reference(narrow, images, 'naclip', sigma=1.0)[0],
                               rtol=1e-4, atol=1e-5)
    assert not torch.allclose(narrow(images).dense, maps['naclip'], atol=1e-3)


def test_naclip_prior_hand_values():
    e1, e2 = math.exp(-1 / 50), math.exp(-2 / 50)
    expected = torch.tensor([[0, 0, 0, 0, 0],
                             [0, 1, e1, e1, e2],  # cells (0,0), (0,1), (1,0), (1,1), class token first
                             [0, e1, 1, e2, e1],
                             [0, e1, e2, 1, e1],
                             [0, e2, e1, e1, 1]])
    torch.testing.assert_close(gaussian_prior((2, 2), 1, 5.0), expected)
    torch.testing.assert_close(gaussian_prior((3, 4), 3, 2.0), reference_omega(3, 4, 3, 2.0))


def test_readout_weights_rows():
    torch.manual_seed(0)
    q, k = torch.randn(2, 3, 1 + 12, 8), torch.randn(2, 3, 1 + 12, 8)
    ones = torch.ones(2, 3, 13, 1)
    torch.testing.assert_close(readout_values('sclip', q, k, ones, (3, 4)), 2 * ones)
    for readout in ('clearclip', 'naclip'):
        torch.testing.assert_close(readout_values(readout, q, k, ones, (3, 4)), ones)
    # v = identity gives the weights themselves: NACLIP's are softmax(s k k^T + Omega)
    eye = torch.eye(13).expand(2, 3, 13, 13)
    weights = (k @ k.transpose(-1, -2) / math.sqrt(8) + reference_omega(3, 4, 1, 5.0)).softmax(-1)
    torch.testing.assert_close(readout_values('naclip', q, k, eye, (3, 4)), weights)


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(ValueError) as err:
        CLIPTower(VIT, dense_path='maskclip')
    assert all(repr(p) in str(err.value) for p in PATHS) and "'maskclip'" in str(err.value)
    with pytest.raises(ValueError, match='naclip_sigma must be positive'):
        CLIPTower(VIT, dense_path='naclip', naclip_sigma=0.0)
    # open_clip's custom blocks (here: q / k norms) cannot give the readouts
    config = json.loads((MODEL_CONFIG_DIR / f'{VIT}.json').read_text())
    config['vision_cfg']['qk_norm'] = True
    (tmp_path / 'mmdistill-test-qknorm-ViT-P8.json').write_text(json.dumps(config))
    open_clip.add_model_config(tmp_path)
    with pytest.raises(ValueError, match=r"dense_path='sclip' is not available for mmdistill-test-qknorm-ViT-P8"):
        CLIPTower('mmdistill-test-qknorm-ViT-P8', dense_path='sclip')


@pytest.mark.parametrize('arch', [VIT, EVA, DINO])
@torch.no_grad()
def test_attention_branch_with_ordinary_attention_is_the_block(arch):
    """The adapters' q, k, v and output steps are the block's own: with softmax(s q k^T) they give the block."""
    tower = seeded_tower(arch, 'plain')
    adapter = tower.adapter
    x, grid = adapter.embed(torch.randn(2, 3, 32, 48))
    last = tower.num_blocks - 1
    y = x + adapter.attention_with(last, x, grid, F.scaled_dot_product_attention)
    torch.testing.assert_close(y + adapter.ffn_branch(last, y), adapter.block(last, x, grid), rtol=1e-5, atol=1e-6)
