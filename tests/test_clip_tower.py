"""CLIPTower: dense path, positions, RoI / mask pooling, checkpoints and errors."""
import pytest
import torch
import torch.nn.functional as F

from mmdistill.clip import CheckpointMismatchError, CLIPTower, build_clip_model
from mmdistill.clip.adapters import resize_pos_embed

VIT, EVA = 'mmdistill-tiny-ViT-P8', 'mmdistill-tiny-EVA-P8'


def seeded_tower(arch: str, seed: int = 0) -> CLIPTower:
    torch.manual_seed(seed)
    tower = CLIPTower(arch).eval()
    # Random non-trivial layer scales / biases so no term of the reference is zero.
    with torch.no_grad():
        for p in tower.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return tower


def reference_dense_vit(tower: CLIPTower, images: torch.Tensor) -> torch.Tensor:
    """Step by step: embed, all blocks but the last, value-only last block, ln_post, proj."""
    v = tower.visual
    x = v.conv1(images)
    b, c, h, w = x.shape
    x = torch.cat([v.class_embedding.expand(b, 1, c), x.flatten(2).transpose(1, 2)], 1)
    x = v.ln_pre(x + v.positional_embedding)
    for blk in v.transformer.resblocks[:-1]:
        x = blk(x)
    last = v.transformer.resblocks[-1]
    w_q, w_k, w_v = last.attn.in_proj_weight.chunk(3)
    b_q, b_k, b_v = last.attn.in_proj_bias.chunk(3)
    y = last.ln_1(x) @ w_v.T + b_v
    y = y @ last.attn.out_proj.weight.T + last.attn.out_proj.bias
    x = x + y
    x = x + last.mlp(last.ln_2(x))
    tokens = v.ln_post(x[:, 1:]) @ v.proj
    return F.normalize(tokens, dim=-1).transpose(1, 2).reshape(b, -1, h, w)


def reference_dense_eva(tower: CLIPTower, images: torch.Tensor) -> torch.Tensor:
    """timm's own forward up to the last block, then the value-only block written out."""
    trunk = tower.visual.trunk
    n = len(trunk.blocks)
    (x, prefix), = trunk.forward_intermediates(images, indices=[n - 2], return_prefix_tokens=True,
                                               output_fmt='NLC', intermediates_only=True)
    x = torch.cat([prefix, x], 1)
    last = trunk.blocks[-1]
    y = last.attn.proj(last.attn.norm(last.attn.v_proj(last.norm1(x))))
    x = x + (last.gamma_1 * y if last.gamma_1 is not None else y)
    x = x + last.mlp(last.norm2(x))
    tokens = tower.visual.head(trunk.head(trunk.norm(x[:, 1:])))
    h, w = images.shape[-2] // 8, images.shape[-1] // 8
    return F.normalize(tokens, dim=-1).transpose(1, 2).reshape(len(images), -1, h, w)


@pytest.mark.parametrize('arch,reference', [(VIT, reference_dense_vit), (EVA, reference_dense_eva)])
@torch.no_grad()
def test_dense_path_equals_reference(arch, reference):
    tower = seeded_tower(arch)
    images = torch.randn(2, 3, 32, 32)
    out = tower(images, cls=True)
    expected = reference(tower, images)
    assert out.dense.shape == (2, tower.embed_dim, 4, 4)
    torch.testing.assert_close(out.dense, expected, rtol=1e-4, atol=1e-5)
    assert torch.allclose(out.dense.norm(dim=1), torch.ones(2, 4, 4), atol=1e-5)
    # The class-token embedding is open_clip's own encode_image.
    model = build_clip_model(arch).eval()
    model.visual.load_state_dict(tower.visual.state_dict())
    torch.testing.assert_close(out.cls, model.encode_image(images), rtol=1e-4, atol=1e-5)
    # The value path differs from the plain last block (it is not a no-op).
    plain = F.normalize(tower.project_tokens(tower(images, dense=False, layers=[-1]).layers[1].flatten(2)
                                             .transpose(1, 2)), dim=-1)
    assert not torch.allclose(plain, out.dense.flatten(2).transpose(1, 2), atol=1e-3)


def test_position_resize_identity_at_native_size():
    pos = torch.randn(1, 1 + 4 * 4, 8)
    assert resize_pos_embed(pos, (4, 4), (4, 4)) is pos
    resized = resize_pos_embed(pos, (5, 7), (4, 4))
    assert resized.shape == (1, 1 + 35, 8)
    torch.testing.assert_close(resized[:, :1], pos[:, :1])
    manual = F.interpolate(pos[:, 1:].reshape(1, 4, 4, 8).permute(0, 3, 1, 2), size=(5, 7), mode='bicubic',
                           antialias=True)
    torch.testing.assert_close(resized[:, 1:], manual.permute(0, 2, 3, 1).reshape(1, 35, 8))


def test_peers_position_resizes_are_plain_bicubic_without_antialias():
    pos = torch.randn(1, 1 + 4 * 4, 8)
    table = pos[:, 1:].reshape(1, 4, 4, 8).permute(0, 3, 1, 2)
    timm = resize_pos_embed(pos, (6, 9), (4, 4))
    size = F.interpolate(table, size=(6, 9), mode='bicubic', align_corners=False)
    offset = F.interpolate(table, scale_factor=(6.1 / 4, 9.1 / 4), mode='bicubic', align_corners=False)
    for mode, manual in (('bicubic', size), ('bicubic_offset', offset)):
        resized = resize_pos_embed(pos, (6, 9), (4, 4), mode=mode)
        assert resize_pos_embed(pos, (4, 4), (4, 4), mode=mode) is pos
        torch.testing.assert_close(resized[:, :1], pos[:, :1])
        torch.testing.assert_close(resized[:, 1:], manual.permute(0, 2, 3, 1).reshape(1, 54, 8))
        assert (resized - timm).abs().max() > 1e-3
    assert (size - offset).abs().max() > 1e-3
    with pytest.raises(ValueError, match='pos_embed_resize must be one of'):
        resize_pos_embed(pos, (6, 9), (4, 4), mode='bilinear')


@torch.no_grad()
@pytest.mark.parametrize('arch', [VIT, EVA])
def test_tower_position_resize_option(arch):
    towers = {}
    for mode in ('timm', 'bicubic', 'bicubic_offset'):
        torch.manual_seed(0)
        towers[mode] = CLIPTower(arch, pos_embed_resize=mode).eval()
    native, other = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 40, 56)
    for mode in ('bicubic', 'bicubic_offset'):
        torch.testing.assert_close(towers[mode](native).dense, towers['timm'](native).dense)
        assert (towers[mode](other).dense - towers['timm'](other).dense).abs().max() > 1e-4
    with pytest.raises(ValueError, match='pos_embed_resize must be one of'):
        CLIPTower(VIT, pos_embed_resize='nearest')


@torch.no_grad()
def test_any_input_size_eva_matches_timm_resize():
    tower = seeded_tower(EVA)
    images = torch.randn(1, 3, 40, 56)
    ours = tower.encode_image(images)
    reference = seeded_tower(EVA)
    reference.visual.trunk.set_input_size(img_size=(40, 56))  # timm resizes positions and RoPE in place
    theirs = reference.visual.head(reference.visual.trunk(images))
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
    assert tower(images).dense.shape[-2:] == (5, 7)


@pytest.mark.parametrize('arch', [VIT, EVA])
@torch.no_grad()
def test_region_of_one_cell_box_is_that_cell(arch):
    tower = seeded_tower(arch)
    dense = tower(torch.randn(2, 3, 32, 48)).dense  # (2, D, 4, 6)
    boxes = [torch.tensor([[16., 8., 24., 16.]]), torch.tensor([[0., 0., 8., 8.], [40., 24., 48., 32.]])]
    regions = tower.region_embeddings(dense, boxes, (32, 48))
    expected = torch.stack([dense[0, :, 1, 2], dense[1, :, 0, 0], dense[1, :, 3, 5]])
    torch.testing.assert_close(regions, expected, rtol=1e-5, atol=1e-6)
    # A 2x2-cell box is the normalised mean of its four cells.
    two = tower.region_embeddings(dense, [torch.tensor([[8., 8., 24., 24.]]), torch.zeros(0, 4)], (32, 48))
    torch.testing.assert_close(two[0], F.normalize(dense[0, :, 1:3, 1:3].mean((1, 2)), dim=0))


@torch.no_grad()
def test_mask_pooling_equals_manual_mean():
    tower = seeded_tower(VIT)
    dense = tower(torch.randn(2, 3, 32, 32)).dense  # (2, D, 4, 4)
    m0 = torch.zeros(2, 32, 32, dtype=torch.bool)
    m0[0, :16, :8] = True  # cells (0,0), (1,0)
    m0[1, 24:, 24:] = True  # cell (3,3)
    m1 = torch.zeros(1, 32, 32, dtype=torch.bool)
    m1[0, 8:16, 8:12] = True  # half of cell (1,1)
    m1[0, 16:24, 16:24] = True  # all of cell (2,2): weights 0.5 and 1
    pooled = tower.mask_embeddings(dense, [m0, m1])
    expected = torch.stack([
        dense[0, :, :2, 0].mean(1),
        dense[0, :, 3, 3],
        (0.5 * dense[1, :, 1, 1] + dense[1, :, 2, 2]) / 1.5,
    ])
    torch.testing.assert_close(pooled, F.normalize(expected, dim=-1), rtol=1e-5, atol=1e-6)


def to_eva_clip_layout(state_dict: dict) -> dict:
    """Inverse of the EVA-CLIP -> timm renaming, to write an original-layout checkpoint."""
    out = {}
    for k, v in state_dict.items():
        if k.startswith('visual.trunk.'):
            k = 'visual.' + k[len('visual.trunk.'):]
            for new, old in (('mlp.norm', 'mlp.ffn_ln'), ('attn.norm', 'attn.inner_attn_ln'),
                             ('mlp.fc1_g', 'mlp.w1'), ('mlp.fc1_x', 'mlp.w2'), ('mlp.fc2', 'mlp.w3'),
                             ('q_proj.bias', 'q_bias'), ('v_proj.bias', 'v_bias')):
                k = k.replace(new, old)
        out[k] = v
    return out


@pytest.mark.parametrize('arch,layout', [(VIT, 'open_clip'), (EVA, 'open_clip'), (EVA, 'eva_clip')])
@torch.no_grad()
def test_checkpoint_round_trip(tmp_path, arch, layout):
    torch.manual_seed(1)
    model = build_clip_model(arch)
    state = model.state_dict()
    if layout == 'eva_clip':
        state = to_eva_clip_layout(state)
        assert 'visual.blocks.0.mlp.w1.weight' in state
    path = tmp_path / 'clip.pt'
    torch.save({'state_dict': {f'module.{k}': v for k, v in state.items()}}, path)
    tower = CLIPTower(arch, checkpoint=str(path)).eval()
    images = torch.randn(2, 3, 32, 32)
    model.eval()
    torch.testing.assert_close(tower.encode_image(images), model.encode_image(images))
    reloaded = build_clip_model(arch, checkpoint=str(path)).eval()
    tokens = torch.randint(0, 400, (2, 16))
    torch.testing.assert_close(reloaded.encode_text(tokens), model.encode_text(tokens))


def test_missing_checkpoint_says_what_to_download(tmp_path):
    path = str(tmp_path / 'EVA02_CLIP_B_psz16_s8B.pt')
    with pytest.raises(FileNotFoundError) as err:
        CLIPTower('EVA02-B-16', checkpoint=path)
    message = str(err.value)
    assert path in message and 'download' in message and 'huggingface.co/QuanSun/EVA-CLIP' in message


def test_mismatched_checkpoint_lists_keys(tmp_path):
    state = build_clip_model(VIT).state_dict()
    state.pop('visual.proj')
    state['visual.extra.weight'] = torch.zeros(1)
    path = tmp_path / 'bad.pt'
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError) as err:
        CLIPTower(VIT, checkpoint=str(path))
    message = str(err.value)
    assert 'missing keys: visual.proj' in message and 'unexpected keys: visual.extra.weight' in message
    wrong = build_clip_model(EVA).state_dict()  # right format, wrong architecture
    torch.save(wrong, path)
    with pytest.raises(CheckpointMismatchError, match='does not fit architecture mmdistill-tiny-ViT-P8'):
        CLIPTower(VIT, checkpoint=str(path))


def test_unknown_architecture():
    with pytest.raises(ValueError, match="Unknown open_clip architecture 'ViT-Q-99'"):
        CLIPTower('ViT-Q-99')


@torch.no_grad()
def test_bad_boxes_and_small_images_raise():
    tower = seeded_tower(VIT)
    dense = tower(torch.randn(1, 3, 32, 32)).dense
    with pytest.raises(ValueError, match=r'box 1 \(image 0\).*zero or negative area'):
        tower.region_embeddings(dense, [torch.tensor([[0., 0., 8., 8.], [4., 4., 4., 9.]])], (32, 32))
    with pytest.raises(ValueError, match='outside the 32x32 input'):
        tower.region_embeddings(dense, [torch.tensor([[0., 0., 40., 8.]])], (32, 32))
    with pytest.raises(ValueError, match='smaller than one 8x8 patch'):
        tower(torch.randn(1, 3, 6, 32))
    with pytest.raises(ValueError, match='mask 0 is empty'):
        tower.mask_embeddings(dense, [torch.zeros(1, 32, 32, dtype=torch.bool)])


def test_trainable_parts_follow_clipself():
    tower = CLIPTower(VIT)
    frozen = set(tower.frozen_parameter_names())
    assert {'visual.conv1.weight', 'visual.class_embedding', 'visual.positional_embedding', 'visual.proj',
            'visual.ln_pre.weight', 'visual.ln_post.weight'} <= frozen
    assert not any(n.startswith('visual.transformer.') for n in frozen)
    tower.set_trainable('blocks', last_blocks=1)
    trainable = {n for n, p in tower.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith('visual.transformer.resblocks.1.') for n in trainable)
    eva = CLIPTower(EVA)
    eva_frozen = set(eva.frozen_parameter_names())
    assert {'visual.trunk.pos_embed', 'visual.trunk.cls_token', 'visual.trunk.head.weight'} <= eva_frozen
    assert not any('.blocks.' in n for n in eva_frozen)


def test_crop_and_resize_cuts_the_box():
    from mmdistill.clip.pooling import crop_and_resize
    images = torch.arange(2 * 3 * 16 * 24, dtype=torch.float32).reshape(2, 3, 16, 24)
    # An exact 8x8 box at scale 1 to 8x8 output: a copy of the pixels.
    crops = crop_and_resize(images, [torch.tensor([[4., 2., 12., 10.]]), torch.tensor([[16., 8., 24., 16.]])],
                            (8, 8))
    torch.testing.assert_close(crops[0], images[0, :, 2:10, 4:12])
    torch.testing.assert_close(crops[1], images[1, :, 8:16, 16:24])
    # Shrinking 2x averages 2x2 blocks.
    half = crop_and_resize(images, [torch.tensor([[0., 0., 8., 8.]]), torch.zeros(0, 4)], (4, 4))
    torch.testing.assert_close(half[0], F.avg_pool2d(images[0:1, :, :8, :8], 2)[0])
    # A wide box is letterboxed: its content centred, rows above and below it zero.
    wide = crop_and_resize(images, [torch.tensor([[0., 4., 16., 8.]]), torch.zeros(0, 4)], (16, 16))
    assert torch.all(wide[0, :, :6] == 0) and torch.all(wide[0, :, 10:] == 0)
    torch.testing.assert_close(wide[0, :, 6:10], images[0, :, 4:8, :16])
    # letterbox=False keeps the square's own pixels: rows -2..13 of the image (row -2 is outside: zero;
    # RoIAlign reads row -1, within a pixel of the border, as row 0).
    square = crop_and_resize(images, [torch.tensor([[0., 4., 16., 8.]]), torch.zeros(0, 4)], (16, 16),
                             letterbox=False)
    assert torch.all(square[0, :, 0] == 0) and not torch.all(square[0, :, 1] == 0)
    torch.testing.assert_close(square[0, :, 2:], images[0, :, :14, :16])
    # square=False stretches the box: a 16x4 box to 4x4 averages 4x1 pixel blocks.
    stretched = crop_and_resize(images, [torch.tensor([[0., 4., 16., 8.]]), torch.zeros(0, 4)], (4, 4),
                                square=False)
    torch.testing.assert_close(stretched[0], F.avg_pool2d(images[0:1, :, 4:8, :16], (1, 4))[0])


DINO = 'timm:mmdistill_dinov2_tiny_p8'


@torch.no_grad()
def test_timm_dinov2_tower_matches_timm(tmp_path):
    import timm
    tower = seeded_tower(DINO)
    model = timm.create_model('mmdistill_dinov2_tiny_p8', num_classes=0, dynamic_img_size=True).eval()
    model.load_state_dict(tower.visual.state_dict())
    for size in ((32, 32), (40, 56)):  # native, then resized positions
        images = torch.randn(2, 3, *size)
        tokens = model.forward_features(images)  # (B, 1 + 2 registers + h*w, C), final norm applied
        plain = CLIPTower(DINO, dense_path='plain').eval()
        plain.visual.load_state_dict(tower.visual.state_dict())
        out = plain(images, cls=True)
        h, w = size[0] // 8, size[1] // 8
        expected = F.normalize(tokens[:, 3:], dim=-1).transpose(1, 2).reshape(2, -1, h, w)
        torch.testing.assert_close(out.dense, expected, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(out.cls, tokens[:, 0], rtol=1e-4, atol=1e-5)
    # the value path: written out by hand on timm's own tokens before the last block
    images = torch.randn(1, 3, 32, 32)
    x = model.norm_pre(model._pos_embed(model.patch_embed(images)))
    x = model.blocks[0](x)
    last = model.blocks[1]
    v = F.linear(last.norm1(x), *[t[96:] for t in (last.attn.qkv.weight, last.attn.qkv.bias)])
    x = x + last.ls1(last.attn.proj(v))
    x = x + last.ls2(last.mlp(last.norm2(x)))
    expected = F.normalize(model.norm(x)[:, 3:], dim=-1).transpose(1, 2).reshape(1, -1, 4, 4)
    torch.testing.assert_close(tower(images).dense, expected, rtol=1e-4, atol=1e-5)
    # round trip through a timm-layout checkpoint file
    torch.save(tower.visual.state_dict(), tmp_path / 'dino.pth')
    reloaded = CLIPTower(DINO, checkpoint=str(tmp_path / 'dino.pth')).eval()
    torch.testing.assert_close(reloaded(images).dense, tower(images).dense)
    with pytest.raises(FileNotFoundError, match='DINOv2 release'):
        CLIPTower('timm:vit_small_patch14_dinov2', checkpoint=str(tmp_path / 'missing.pth'))


@pytest.mark.parametrize('arch', [VIT, EVA])
def test_grad_checkpointing_gives_the_same_loss_and_gradients(arch):
    plain = seeded_tower(arch).train()
    ckpt = CLIPTower(arch, grad_checkpointing=True).train()
    ckpt.load_state_dict(plain.state_dict())
    plain.set_trainable('all'), ckpt.set_trainable('all')
    images = torch.randn(2, 3, 40, 32)
    calls = []
    ckpt.adapter.blocks[0].register_forward_pre_hook(lambda *_: calls.append(1))
    losses, grads = [], []
    for tower in (plain, ckpt):
        out = tower(images, cls=True, dense=True, layers=(1,))
        loss = out.dense.square().mean() + out.cls.pow(3).mean() + out.layers[1].abs().mean()
        loss.backward()
        losses.append(loss.detach())
        grads.append({n: p.grad for n, p in tower.named_parameters() if p.requires_grad})
    torch.testing.assert_close(losses[1], losses[0])
    assert grads[1].keys() == grads[0].keys() and all(g is not None for g in grads[0].values())
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, rtol=1e-5, atol=1e-6, msg=name)
    assert len(calls) == 2  # block 0 ran again in the backward pass: its activations were not kept
    with torch.no_grad():  # teachers: no recomputation, same outputs
        calls.clear()
        torch.testing.assert_close(ckpt(images).dense, plain(images).dense)
        assert len(calls) == 1
