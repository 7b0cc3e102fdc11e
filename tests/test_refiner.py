"""Refiner (paper 001, Eq. 8-12): shapes, cloning, freezing, gradients and the whole-image reference."""
import pytest
import torch
import torch.nn.functional as F

from mmdistill.clip import CLIPTower
from mmdistill.distill.refiner import Refiner
from mmdistill.registry import MODELS

VIT, EVA, WORLD = 'mmdistill-tiny-ViT-P8', 'mmdistill-tiny-EVA-P8', 'mmdistill-world-ViT-P12'
TINY = dict(depth=1, inter_layers=(1, 1), hidden_dim=16, roi_size=3)


def seeded_tower(arch: str, seed: int = 0) -> CLIPTower:
    torch.manual_seed(seed)
    tower = CLIPTower(arch)
    with torch.no_grad():  # non-trivial layer scales / biases
        for p in tower.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return tower


def boxes_with_empty_image() -> list:
    return [torch.tensor([[0., 0., 16., 16.], [4., 6., 30., 22.]]), torch.zeros(0, 4),
            torch.tensor([[8., 0., 40., 32.]])]


@pytest.mark.parametrize('arch', [VIT, EVA])
def test_shapes_and_norms(arch):
    tower = seeded_tower(arch)
    images = torch.randn(3, 3, 32, 40)
    outs = {}
    for position in ('early', 'late'):
        refiner = Refiner(tower, roi_position=position, **TINY)
        out = refiner(images, boxes_with_empty_image())
        assert out.tokens.shape == (3, 9, tower.embed_dim) and out.cls.shape == (3, tower.embed_dim)
        torch.testing.assert_close(out.tokens.norm(dim=-1), torch.ones(3, 9))
        torch.testing.assert_close(out.cls.norm(dim=-1), torch.ones(3))
        dense = refiner.dense(images)
        assert dense.shape == (3, tower.embed_dim, 4, 5)
        torch.testing.assert_close(dense.norm(dim=1), torch.ones(3, 4, 5))
        none = refiner(images, [torch.zeros(0, 4)] * 3)
        assert none.tokens.shape == (0, 9, tower.embed_dim) and none.cls.shape == (0, tower.embed_dim)
        assert refiner(images, boxes_with_empty_image(), roi_size=2).tokens.shape == (3, 4, tower.embed_dim)
        outs[position] = out
    assert not torch.allclose(outs['early'].tokens, outs['late'].tokens)


@pytest.mark.parametrize('arch', [VIT, EVA])
def test_boxes_batched_equal_one_by_one(arch):
    refiner = Refiner(seeded_tower(arch), **TINY).eval()
    images = torch.randn(3, 3, 32, 40)
    rois = torch.cat([torch.cat([torch.full((len(b), 1), float(i)), b], 1)
                      for i, b in enumerate(boxes_with_empty_image())])
    with torch.no_grad():
        feats = refiner.extract(images)
        batched = refiner(feats, rois)
        single = [refiner(feats, r[None]) for r in rois]
    torch.testing.assert_close(batched.tokens, torch.cat([s.tokens for s in single]), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(batched.cls, torch.cat([s.cls for s in single]), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('arch', [VIT, EVA])
def test_clone_frozen_tower_and_gradients(arch):
    tower = seeded_tower(arch)
    refiner = Refiner(tower, **TINY).train()
    for mine, theirs in zip(refiner.blocks, tower.adapter.blocks[-1:]):
        for (k, a), (_, b) in zip(mine.state_dict().items(), theirs.state_dict().items()):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    assert not tower.training and not any(p.requires_grad for p in tower.parameters())
    trainable = [n for n, p in refiner.named_parameters() if p.requires_grad]
    assert trainable and all(n.split('.')[0] in ('blocks', 'fc_inter', 'fc_cls') for n in trainable)
    before = {k: v.clone() for k, v in tower.state_dict().items()}
    blocks_before = {k: v.clone() for k, v in refiner.blocks.state_dict().items()}
    optimizer = torch.optim.AdamW(refiner.parameters(), lr=1e-2)
    out = refiner(torch.randn(3, 3, 32, 40), boxes_with_empty_image())
    (out.tokens.square().sum() + out.cls.square().sum() + out.tokens[:, :, 0].sum()).backward()
    grads = {n: p.grad for n, p in refiner.named_parameters() if p.requires_grad}
    # FC_Inter's last layer starts at zero, so only it gets a gradient at the first step.
    for name in ('blocks.0', 'fc_cls.0', 'fc_cls.2', 'fc_inter.2'):
        assert any(g is not None and g.abs().sum() > 0 for n, g in grads.items() if n.startswith(name)), name
    assert all(p.grad is None for p in tower.parameters())
    optimizer.step()
    for k, v in tower.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0, msg=k)
    assert any(not torch.equal(v, blocks_before[k]) for k, v in refiner.blocks.state_dict().items())


def reference_tokens(tower: CLIPTower, images: torch.Tensor, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The tower's own path with a zero class token put in front of its last ``depth`` blocks."""
    adapter = tower.adapter
    x, grid = adapter.embed(images)
    for i in range(tower.num_blocks - depth):
        x = adapter.block(i, x, grid)
    x = torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:]], dim=1)
    for i in range(tower.num_blocks - depth, tower.num_blocks):
        x = adapter.block(i, x, grid)
    x = F.normalize(tower.project_tokens(x), dim=-1)
    return x[:, 1:], x[:, 0]


@pytest.mark.parametrize('arch,size,depth,inter', [(VIT, 32, 1, (1, 1)), (EVA, 32, 1, (1, 1)), (WORLD, 96, 2, (1, 2))])
@torch.no_grad()
def test_whole_image_reproduces_cloned_tower(arch, size, depth, inter):
    tower = seeded_tower(arch).eval()
    grid = size // tower.stride
    images = torch.randn(2, 3, size, size)
    whole = [torch.tensor([[0., 0., size, size]])] * 2
    expected, expected_cls = reference_tokens(tower, images, depth)
    for position in ('early', 'late'):
        refiner = Refiner(tower, depth=depth, inter_layers=inter, hidden_dim=8, roi_size=grid,
                          roi_position=position).eval()
        for p in (*refiner.fc_cls[-1].parameters(), *refiner.fc_inter[-1].parameters()):
            p.zero_()
        out = refiner(images, whole)
        torch.testing.assert_close(out.tokens, expected, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(out.cls, expected_cls, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(refiner.dense(images).flatten(2).transpose(1, 2), expected, rtol=1e-4, atol=1e-5)


@torch.no_grad()
def test_shared_tower_forward_and_signals():
    tower = seeded_tower(EVA).eval()
    refiner = Refiner(tower, **TINY).eval()
    images, boxes = torch.randn(3, 3, 32, 40), boxes_with_empty_image()
    shared = tower(images, dense=False, layers=refiner.required_layers)
    torch.testing.assert_close(refiner(shared, boxes).tokens, refiner(images, boxes).tokens)
    with pytest.raises(KeyError, match='required_layers'):
        refiner(tower(images, dense=False), boxes)
    signals = refiner.signals('refined.image', lambda size: images, boxes, token_size=2)
    assert signals['refined.image.region_tokens']().shape == (3, 4, tower.embed_dim)
    assert signals['refined.image.dense']().shape == (3, tower.embed_dim, 4, 5)
    assert signals['refined.image.tokens']().shape == (3, 20, tower.embed_dim)


def test_random_exogenous_end_to_end_and_registry():
    tower = seeded_tower(VIT)
    images = torch.randn(2, 3, 32, 32)
    boxes = [torch.tensor([[0., 0., 16., 16.]]), torch.tensor([[8., 8., 32., 24.]])]
    random = Refiner(tower, init='random', **TINY)
    assert not torch.equal(random.blocks[0].mlp.c_fc.weight, tower.adapter.blocks[-1].mlp.c_fc.weight)
    exogenous = Refiner(tower, init='exogenous', **TINY)
    assert exogenous.input_layer == tower.num_blocks - 1 and exogenous.required_layers == (0, 1)
    assert exogenous(images, boxes).tokens.shape == (2, 9, tower.embed_dim)

    e2e = Refiner(seeded_tower(VIT), end_to_end=True, **TINY)
    e2e(images, boxes).tokens.sum().backward()
    assert e2e.tower.adapter.blocks[0].mlp.c_fc.weight.grad.abs().sum() > 0

    built = MODELS.build(dict(type='Refiner', tower=dict(type='CLIPTower', arch=VIT), **TINY))
    assert isinstance(built, Refiner) and built.roi_size == 3
    assert Refiner(tower, depth=1, inter_layers=None, hidden_dim=8).roi_size == 4  # native grid
    for bad in (dict(depth=2), dict(depth=1, inter_layers=(1, 2)), dict(depth=1, init='late')):
        with pytest.raises(ValueError):
            Refiner(tower, **bad)
    with pytest.raises(ValueError, match='outside'):
        random(images, [torch.tensor([[0., 0., 40., 16.]]), torch.zeros(0, 4)])
