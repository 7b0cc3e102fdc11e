"""Tower families beyond OpenAI / EVA02: SigLIP's MAP-head readout, real architectures at full size on the
meta device, and open_clip pretrained tags / hub ids as a tower's checkpoint."""
import functools
from pathlib import Path

import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mmdistill.clip import CLIPTower, build_clip_model, build_tokenizer, builder
from mmdistill.clip import tower as tower_module
from mmdistill.clip.adapters import OpenAIViTAdapter, TimmAttentionPoolAdapter
from mmdistill.clip.readouts import attention_pool_values
from mmdistill.clip.text import model_identity
from mmdistill.clip.tower import DENSE_PATHS
from mmdistill.utils import forbid_downloads

SIGLIP = 'mmdistill-tiny-SigLIP-P8'


def seeded_siglip(seed: int = 0, **kwargs) -> CLIPTower:
    torch.manual_seed(seed)
    tower = CLIPTower(SIGLIP, trainable='none', **kwargs).eval()
    with torch.no_grad():  # random non-trivial biases, norms and latent so that no term is zero
        for p in tower.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return tower


def masked_pool_reference(pool: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """timm's own ``AttentionPoolLatent.forward`` with a mask that lets the latent query see token i only."""
    b, n, _ = tokens.shape
    out = []
    for i in range(n):
        mask = torch.full((1, 1, 1, n), float('-inf'))
        mask[..., i] = 0
        out.append(pool(tokens, attn_mask=mask))
    return torch.stack(out, dim=1)  # (B, N, D)


@torch.no_grad()
def test_siglip_dense_equals_step_by_step_reference():
    """Blocks 0..N-2 by timm, value-only last block written out, final norm, then the MAP head per token."""
    tower = seeded_siglip()
    trunk = tower.visual.trunk
    images = torch.randn(2, 3, 32, 32)
    n = len(trunk.blocks)
    x, = trunk.forward_intermediates(images, indices=[n - 2], output_fmt='NLC', intermediates_only=True)
    last = trunk.blocks[-1]
    width = x.shape[-1]
    w_v, b_v = last.attn.qkv.weight[2 * width:], last.attn.qkv.bias[2 * width:]
    x = x + last.ls1(last.attn.proj(last.norm1(x) @ w_v.T + b_v))
    x = x + last.ls2(last.mlp(last.norm2(x)))
    tokens = masked_pool_reference(trunk.attn_pool, trunk.norm(x))
    expected = F.normalize(tokens, dim=-1).transpose(1, 2).reshape(2, -1, 4, 4)
    out = tower(images, cls=True)
    torch.testing.assert_close(out.dense, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.cls, tower.visual(images), atol=1e-6, rtol=1e-6)  # open_clip's encode_image


@torch.no_grad()
def test_attention_pool_values_written_out_and_pooled_when_tokens_agree():
    pool = seeded_siglip(1).visual.trunk.attn_pool
    x = torch.randn(3, 5, 48)
    w_v = pool.kv.weight.chunk(2)[1]
    b_v = pool.kv.bias.chunk(2)[1]
    o = (x @ w_v.T + b_v) @ pool.proj.weight.T + pool.proj.bias
    expected = o + pool.mlp.fc2(F.gelu(pool.mlp.fc1(F.layer_norm(o, (48,), pool.norm.weight, pool.norm.bias, 1e-6))))
    torch.testing.assert_close(attention_pool_values(pool, x), expected, atol=1e-5, rtol=1e-5)
    # whatever the attention weights, an image of one repeated token pools to that token's readout
    same = x[:, :1].expand(-1, 7, -1)
    torch.testing.assert_close(pool(same), attention_pool_values(pool, x[:, 0]), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('dense_path', DENSE_PATHS)
@torch.no_grad()
def test_siglip_every_readout_any_size(dense_path):
    tower = seeded_siglip(dense_path=dense_path)
    assert isinstance(tower.adapter, TimmAttentionPoolAdapter) and tower.adapter.num_prefix_tokens == 0
    out = tower(torch.randn(2, 3, 56, 40), cls=True, layers=(0, -1))
    assert out.dense.shape == (2, 48, 7, 5) and out.cls.shape == (2, 48)
    assert out.layers[0].shape == out.layers[1].shape == (2, 48, 7, 5)
    torch.testing.assert_close(out.dense.norm(dim=1), torch.ones(2, 7, 5))


def test_siglip_region_mask_and_training():
    tower = CLIPTower(SIGLIP, trainable='blocks')
    images = torch.randn(2, 3, 32, 32)
    dense = tower(images).dense
    regions = tower.region_embeddings(dense, [torch.tensor([[0., 0., 16., 16.]]), torch.tensor([[8., 8., 32., 24.]])],
                                      image_size=(32, 32))
    assert regions.shape == (2, 48)
    regions.sum().backward()
    assert tower.visual.trunk.blocks[-1].attn.qkv.weight.grad is not None
    assert tower.visual.trunk.attn_pool.kv.weight.grad is None  # the head is frozen, as CLIP's projection


def meta_tower(monkeypatch, arch: str) -> CLIPTower:
    """A full-size tower of ``arch`` on the meta device: built in a fraction of a second, shapes only."""
    monkeypatch.setattr(tower_module, 'build_clip_model', functools.partial(build_clip_model, device='meta'))
    with torch.device('meta'):
        return CLIPTower(arch, trainable='none')


@pytest.mark.parametrize('arch,adapter,dim,stride,native', [
    ('ViT-B-16-SigLIP', TimmAttentionPoolAdapter, 768, 16, 224),
    ('ViT-B-16-SigLIP2', TimmAttentionPoolAdapter, 768, 16, 224),
    ('ViT-SO400M-14-SigLIP2', TimmAttentionPoolAdapter, 1152, 14, 224),
    ('ViT-B-16-quickgelu', OpenAIViTAdapter, 512, 16, 224),  # MetaCLIP / DFN2B / OpenAI ViT-B/16
    ('ViT-H-14-378-quickgelu', OpenAIViTAdapter, 1024, 14, 378),  # DFN5B ViT-H/14 at 378
    ('ViT-H-14-worldwide-quickgelu', OpenAIViTAdapter, 1024, 14, 224),  # MetaCLIP 2
])
def test_real_architectures_build_with_their_adapter(monkeypatch, arch, adapter, dim, stride, native):
    tower = meta_tower(monkeypatch, arch)
    assert isinstance(tower.adapter, adapter)
    assert (tower.embed_dim, tower.stride, tower.native_size) == (dim, stride, (native, native))
    out = tower(torch.empty(1, 3, 448, 448, device='meta'), cls=True)
    assert out.dense.shape == (1, dim, 448 // stride, 448 // stride) and out.cls.shape == (1, dim)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """Downloads forbidden, an empty Hugging Face cache and an empty folder of fetched weights."""
    import huggingface_hub.constants as hf_constants
    monkeypatch.setattr(hf_constants, 'HF_HUB_CACHE', str(tmp_path / 'hf_cache'))
    monkeypatch.setenv(builder.PRETRAINED_DIR_ENV, str(tmp_path / 'pretrained'))
    with forbid_downloads():
        yield tmp_path / 'pretrained'


@pytest.mark.parametrize('arch,name,repo,folder', [
    ('ViT-B-16-SigLIP', 'webli', 'timm/ViT-B-16-SigLIP', 'ViT-B-16-SigLIP/webli'),
    ('ViT-B-16-SigLIP2', 'webli', 'timm/ViT-B-16-SigLIP2', 'ViT-B-16-SigLIP2/webli'),
    ('ViT-B-16-quickgelu', 'metaclip_400m', 'timm/vit_base_patch16_clip_224.metaclip_400m',
     'ViT-B-16-quickgelu/metaclip_400m'),
    ('ViT-B-16-quickgelu', 'dfn2b', 'apple/DFN2B-CLIP-ViT-B-16', 'ViT-B-16-quickgelu/dfn2b'),
    ('ViT-B-16-SigLIP2', 'hf-hub:timm/ViT-B-16-SigLIP2', 'timm/ViT-B-16-SigLIP2', 'hf-hub/timm/ViT-B-16-SigLIP2'),
])
def test_pretrained_name_offline_is_a_clear_error(offline, arch, name, repo, folder):
    with pytest.raises(FileNotFoundError) as err:
        CLIPTower(arch, checkpoint=name)
    message = str(err.value)
    for part in (repr(name), arch, 'MMDISTILL_OFFLINE', repo, 'open_clip_pytorch_model.bin', str(offline / folder)):
        assert part in message, (part, message)
    with pytest.raises(FileNotFoundError, match=repo):  # the text side (cache key of the text embeddings) too
        model_identity(arch, name)


def test_pretrained_name_loads_a_fetched_file_offline(offline, monkeypatch):
    """A tag (registered for the tiny tower here) and a hub id resolve to the file put in their folder."""
    torch.manual_seed(3)
    source = build_clip_model(SIGLIP)
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, SIGLIP,
                        {'tiny_tag': dict(url='', hf_hub='example/tiny-siglip/')})
    from safetensors.torch import save_file
    tag_dir, hub_dir = offline / SIGLIP / 'tiny_tag', offline / 'hf-hub' / 'example' / 'tiny-siglip'
    tag_dir.mkdir(parents=True)
    hub_dir.mkdir(parents=True)
    torch.save(source.state_dict(), tag_dir / 'open_clip_pytorch_model.bin')
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, hub_dir / 'open_clip_model.safetensors')
    images = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        expected = source.visual(images)
        for name in ('tiny_tag', 'hf-hub:example/tiny-siglip'):
            tower = CLIPTower(SIGLIP, checkpoint=name, trainable='none').eval()
            torch.testing.assert_close(tower.encode_image(images), expected)
    assert model_identity(SIGLIP, 'tiny_tag').split('|')[1] == str(tag_dir / 'open_clip_pytorch_model.bin')


def test_unknown_tag_lists_the_tags(offline):
    with pytest.raises(FileNotFoundError, match=r"not a pretrained tag of ViT-B-16-SigLIP.*'webli'"):
        CLIPTower('ViT-B-16-SigLIP', checkpoint='webly')
    with pytest.raises(ValueError, match='hf-hub:<org>/<repo>'):
        CLIPTower('ViT-B-16-SigLIP', checkpoint='hf-hub:no-org')


def test_quick_gelu_mismatch_warns(offline):
    with pytest.warns(UserWarning, match="'ViT-B-16-quickgelu' instead"), pytest.raises(FileNotFoundError):
        builder.resolve_checkpoint('ViT-B-16', 'dfn2b')


def test_hf_tokenizer_failure_names_the_repository(monkeypatch):
    def fail(name):
        raise OSError('no tokenizer files')
    monkeypatch.setattr(open_clip, 'get_tokenizer', fail)
    with pytest.raises(RuntimeError, match=r"'timm/ViT-B-16-SigLIP2'.*huggingface-cli download timm/ViT-B-16-SigLIP2"):
        build_tokenizer('ViT-B-16-SigLIP2')
    with pytest.raises(OSError, match='no tokenizer files'):  # CLIP's bundled tokenizer: the error as it is
        build_tokenizer('ViT-B-16')


TOWER_CONFIGS = sorted(Path(__file__).parent.parent.glob('configs/zero_shot_seg/towers/*.py'))


@pytest.mark.parametrize('path', TOWER_CONFIGS, ids=lambda p: p.name)
def test_tower_family_configs_name_published_weights(monkeypatch, path):
    """Each family config names an open_clip tag of its architecture, text and image alike, with the
    family's pixel normalisation; the tower builds at full size (meta device)."""
    model = Config.fromfile(str(path)).model
    arch, name = model.tower.arch, model.tower.checkpoint
    assert (model.vocabulary.text.arch, model.vocabulary.text.checkpoint) == (arch, name)
    assert builder.pretrained_source(arch, name) is not None, f'{name!r} is not an open_clip tag of {arch}'
    mean = open_clip.get_pretrained_cfg(arch, name)['mean']
    assert model.data_preprocessor.mean == pytest.approx([255 * m for m in mean])
    assert meta_tower(monkeypatch, arch).embed_dim > 0
