"""mmdistill.clip.text: prompt templates, class-name cleaning, text classifiers and their cache."""
import math
import os

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmdistill.clip.text import (
    VILD_TEMPLATES,
    apply_this_is,
    build_prompts,
    build_text_classifier,
    clean_class_name,
    clean_coco_stuff_name,
    get_templates,
    model_identity,
    register_templates,
    state_dict_fingerprint,
)

CONTEXT = 32
VOCAB = 128


def fake_tokenizer(texts):
    """Characters -> ids (mod VOCAB), zero-padded to CONTEXT: (N, CONTEXT) LongTensor."""
    tokens = torch.zeros(len(texts), CONTEXT, dtype=torch.long)
    for i, text in enumerate(texts):
        ids = [ord(c) % VOCAB for c in text[:CONTEXT]]
        tokens[i, :len(ids)] = torch.tensor(ids)
    return tokens


class FakeTextEncoder(nn.Module):
    """Deterministic (N, CONTEXT) -> (N, 8) text encoder that counts its calls."""

    def __init__(self, dim: int = 8):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.embed = nn.Parameter(torch.randn(VOCAB, dim, generator=gen))
        self.pos = nn.Parameter(torch.randn(CONTEXT, 1, generator=gen))
        self.calls = []

    def encode_text(self, tokens):
        self.calls.append(len(tokens))
        return (self.embed[tokens] * self.pos).sum(dim=1) * 3.0  # not unit norm on purpose


def hand_classifier(model, prompts):
    rows = []
    for texts in prompts:
        feats = torch.stack([F.normalize(model.encode_text(fake_tokenizer([t]))[0], dim=0) for t in texts])
        rows.append(F.normalize(feats.mean(0), dim=0))
    return torch.stack(rows)


# ----------------------------------------------------------------------------- templates / names
def test_vild_templates():
    assert len(VILD_TEMPLATES) == 63 and len(set(VILD_TEMPLATES)) == 63
    assert all('{}' in t for t in VILD_TEMPLATES)
    assert 'There is {article} {} in the scene.' in VILD_TEMPLATES
    assert 'a photo of {article} {}.' in VILD_TEMPLATES
    assert get_templates('photo') == ['a photo of a {}.']
    assert get_templates('scene') == ['A photo of a {} in the scene']
    assert get_templates(['{} here']) == ['{} here']


def test_this_is_rule():
    (prompts, ) = build_prompts(['apple'], 'vild')
    for template, prompt in zip(VILD_TEMPLATES, prompts):
        starts_with_article = template.split()[0] in ('a', 'an', 'the')
        assert prompt.startswith('This is ') == starts_with_article, (template, prompt)
    assert sum(p.startswith('This is ') for p in prompts) == 58  # all but 'There is ...' x2 and 'itap of ...' x3
    assert prompts[0] == 'There is an apple in the scene.'
    assert 'This is a photo of an apple.' in prompts and 'itap of my apple.' in prompts
    assert 'This is an embroidered apple.' in prompts
    # off by default for other sets, on when asked
    assert build_prompts(['cat'], 'photo') == [['a photo of a cat.']]
    assert build_prompts(['cat'], 'photo', this_is_prefix=True) == [['This is a photo of a cat.']]
    assert build_prompts(['cat'], 'vild', this_is_prefix=False)[0][2] == 'a photo of a cat in the scene.'
    # whole words only, case-insensitive
    assert apply_this_is('The cat.') == 'This is The cat.'
    assert apply_this_is('There is a cat.') == 'There is a cat.'
    assert apply_this_is('apple pie.') == 'apple pie.'


def test_name_cleaning():
    assert clean_class_name('traffic_light') == 'traffic light'
    assert clean_class_name(' Hot_Dog/Sausage ') == 'hot dog or sausage'
    assert clean_class_name('Bus_Stop', lower=False) == 'Bus Stop'
    assert clean_class_name('st._bernard.') == 'st. bernard'
    assert clean_coco_stuff_name('wall-other-merged') == 'wall'
    assert clean_coco_stuff_name('sky-other-merged') == 'sky'
    assert clean_coco_stuff_name('door-stuff') == 'door'
    assert clean_coco_stuff_name('tree-merged') == 'tree'
    assert clean_coco_stuff_name('floor-wood') == 'floor wood'
    assert clean_coco_stuff_name('playingfield') == 'playingfield'
    prompts = build_prompts(['wall-other-merged'], 'photo', name_cleaner=clean_coco_stuff_name)
    assert prompts == [['a photo of a wall.']]


def test_errors():
    model = FakeTextEncoder()
    with pytest.raises(ValueError, match='class list is empty'):
        build_text_classifier(model, fake_tokenizer, [])
    with pytest.raises(ValueError, match='class list is empty'):
        build_text_classifier(model, fake_tokenizer, [], background=True)
    with pytest.raises(ValueError, match='a photo of a cat'):
        build_text_classifier(model, fake_tokenizer, ['dog'], templates=['{} x', 'a photo of a cat'])
    with pytest.raises(KeyError, match='unknown template set'):
        build_text_classifier(model, fake_tokenizer, ['dog'], templates='no-such-set')
    register_templates('test_two', ['a {}.', 'the {}!'], force=True)
    with pytest.raises(KeyError):
        register_templates('test_two', ['{}'])
    assert get_templates('test_two') == ['a {}.', 'the {}!']


# ----------------------------------------------------------------------------- embeddings
def test_average_matches_hand_computation():
    model = FakeTextEncoder()
    names = ['cat', 'traffic_light', 'elephant']
    emb = build_text_classifier(model, fake_tokenizer, names, templates='vild', batch_size=7)
    n_prompts = len(names) * 63
    assert model.calls[:math.ceil(n_prompts / 7)] == [7] * (n_prompts // 7)  # chunks, not a loop per class
    assert len(model.calls) == math.ceil(n_prompts / 7) and sum(model.calls) == n_prompts
    assert emb.shape == (3, 8) and emb.dtype == torch.float32 and emb.device.type == 'cpu'
    expected = hand_classifier(model, build_prompts(names, 'vild'))
    torch.testing.assert_close(emb, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(3))


def test_background_row():
    model = FakeTextEncoder()
    emb = build_text_classifier(model, fake_tokenizer, ['cat', 'dog'], templates='photo', background=True)
    assert emb.shape == (3, 8)
    background = build_text_classifier(model, fake_tokenizer, ['background'], templates='photo')
    torch.testing.assert_close(emb[-1], background[0])
    custom = build_text_classifier(model, fake_tokenizer, ['cat'], templates='photo', background='sky')
    torch.testing.assert_close(
        custom[-1], build_text_classifier(model, fake_tokenizer, ['sky'], templates='photo')[0])


def test_model_mode_restored_and_device():
    model = FakeTextEncoder().train()
    emb = build_text_classifier(model, fake_tokenizer, ['cat'], templates='photo', device='cpu')
    assert model.training and emb.device == torch.device('cpu')


# ----------------------------------------------------------------------------- cache
def test_a_cache_miss_leaves_the_callers_random_draws_as_a_hit_does(tmp_path):
    """Building the text tower on a miss initialises it at random: the caller's generator must not see it, or
    a model's other weights would depend on the cache (1- and 2-process runs started differently)."""
    def factory():
        nn.Linear(64, 64)  # random initialisation, as a real tower before its checkpoint loads
        return FakeTextEncoder()

    kwargs = dict(cache_dir=str(tmp_path), cache_key='fake-arch|ckpt')
    draws = []
    for _ in range(2):  # a miss, then a hit
        torch.manual_seed(0)
        build_text_classifier(factory, fake_tokenizer, ['cat', 'dog'], **kwargs)
        draws.append(torch.rand(4))
    assert len(os.listdir(tmp_path)) == 1
    torch.manual_seed(0)
    assert torch.equal(draws[0], draws[1]) and torch.equal(draws[0], torch.rand(4))


def test_cache_hit_and_keys(tmp_path):
    model = FakeTextEncoder()
    kwargs = dict(cache_dir=str(tmp_path), cache_key='fake-arch|ckpt')
    first = build_text_classifier(model, fake_tokenizer, ['cat', 'dog'], **kwargs)
    assert sum(model.calls) == 2 * 63
    files = set(os.listdir(tmp_path))
    assert len(files) == 1 and next(iter(files)).endswith('.pt')

    model.calls.clear()
    second = build_text_classifier(model, fake_tokenizer, ['cat', 'dog'], **kwargs)
    assert model.calls == []  # loaded from disk
    torch.testing.assert_close(first, second, rtol=0, atol=0)

    variants = [
        dict(class_names=['cat', 'bird']),
        dict(class_names=['cat', 'dog'], templates='photo'),
        dict(class_names=['cat', 'dog'], background=True),
        dict(class_names=['cat', 'dog'], this_is_prefix=False),
        dict(class_names=['cat', 'dog'], cache_key='other-weights'),
    ]
    for i, variant in enumerate(variants):
        model.calls.clear()
        build_text_classifier(model, fake_tokenizer, **{**kwargs, **variant})
        assert model.calls, variant  # a miss: encoded again
        assert len(os.listdir(tmp_path)) == len(files) + i + 1  # a new file, no temporary left
    # a lazy model factory is not called on a hit
    built = []
    lazy = build_text_classifier(lambda: built.append(1) or model, fake_tokenizer, ['cat', 'dog'], **kwargs)
    assert built == [] and torch.equal(lazy, first)
    # no cache_key: never cached
    model.calls.clear()
    build_text_classifier(model, fake_tokenizer, ['cat', 'dog'], cache_dir=str(tmp_path))
    assert model.calls


def test_identity_helpers(tmp_path):
    ckpt = tmp_path / 'w.pt'
    ckpt.write_bytes(b'1234')
    ident = model_identity('ViT-B-16', str(ckpt))
    assert ident.startswith('ViT-B-16|') and str(ckpt) in ident and '|4|' in ident
    a, b = FakeTextEncoder(), FakeTextEncoder()
    assert state_dict_fingerprint(a) == state_dict_fingerprint(b)
    with torch.no_grad():
        b.pos[0] += 1
    assert state_dict_fingerprint(a) != state_dict_fingerprint(b)


def test_tiny_open_clip_model():
    import open_clip
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg
    torch.manual_seed(0)
    model = CLIP(
        embed_dim=16,
        vision_cfg=CLIPVisionCfg(layers=1, width=32, head_width=16, patch_size=16, image_size=32),
        text_cfg=CLIPTextCfg(context_length=77, width=32, heads=2, layers=1))
    tokenizer = open_clip.tokenizer.SimpleTokenizer()
    names = ['cat', 'dog', 'traffic_light']
    emb = build_text_classifier(model, tokenizer, names, templates='vild', background=True, batch_size=50)
    assert emb.shape == (4, 16)
    prompts = build_prompts(names + ['background'], 'vild')
    with torch.no_grad():
        feats = F.normalize(model.encode_text(tokenizer(prompts[2])), dim=-1)
    torch.testing.assert_close(emb[2], F.normalize(feats.mean(0), dim=0), rtol=1e-4, atol=1e-5)
