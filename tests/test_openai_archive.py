"""OpenAI's released CLIP files (a TorchScript archive whose state dict also carries ``input_resolution``,
``context_length`` and ``vocab_size``) load into open_clip architectures through the project's builder."""
import glob
import os.path as osp
import re

import open_clip
import pytest
import torch
from mmengine.config import Config

from mmdistill.clip import CLIPTower, build_clip_model
from mmdistill.clip.builder import (
    OPENAI_METADATA_KEYS,
    CheckpointMismatchError,
    load_strict,
    read_checkpoint,
    remap_state_dict,
)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
ARCH = 'mmdistill-tiny-ViT-P8'  # a CLIP (OpenAI layout): text transformer at the top level
OPENAI_FILES = ('ViT-B-16.pt', 'ViT-B-32.pt', 'ViT-L-14.pt', 'ViT-L-14-336px.pt')


def openai_style_model(seed: int = 0) -> torch.nn.Module:
    """A tiny open_clip CLIP carrying OpenAI's three metadata scalars as buffers, as their archives do."""
    torch.manual_seed(seed)
    model = build_clip_model(ARCH).eval()
    cfg = open_clip.get_model_config(ARCH)
    for name, value in zip(OPENAI_METADATA_KEYS, (cfg['vision_cfg']['image_size'], cfg['text_cfg']['context_length'],
                                                  cfg['text_cfg']['vocab_size'])):
        if name in vars(model):  # open_clip keeps two of them as plain attributes
            delattr(model, name)
        model.register_buffer(name, torch.tensor(value))
    return model


def save_archive(model: torch.nn.Module, path: str) -> None:
    """``torch.jit.trace`` + ``torch.jit.save``: a TorchScript archive like OpenAI's ``ViT-B-16.pt``."""
    images, tokens = torch.randn(1, 3, 32, 32), torch.randint(0, 400, (1, 16))
    with torch.no_grad():
        traced = torch.jit.trace(model, (images, tokens), check_trace=False, strict=False)
    torch.jit.save(traced, path)


def assert_same_weights(loaded: torch.nn.Module, model: torch.nn.Module) -> None:
    expected = {k: v for k, v in model.state_dict().items() if k not in OPENAI_METADATA_KEYS}
    assert set(loaded.state_dict()) == set(expected)
    for key, value in loaded.state_dict().items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=0, msg=key)


@pytest.mark.parametrize('form', ['archive', 'state_dict'])
def test_openai_file_loads_and_its_metadata_is_dropped(tmp_path, form):
    model = openai_style_model()
    path = str(tmp_path / 'ViT-B-16.pt')
    if form == 'archive':
        save_archive(model, path)
        with pytest.raises(RuntimeError):  # not a plain pickle: the builder has to read the archive itself
            torch.load(path, map_location='cpu', weights_only=True)
    else:
        torch.save(model.state_dict(), path)
    state = read_checkpoint(path, ARCH)
    assert {k: int(state[k]) for k in OPENAI_METADATA_KEYS} == dict(input_resolution=32, context_length=16,
                                                                      vocab_size=49408)
    loaded = build_clip_model(ARCH, path).eval()
    assert_same_weights(loaded, model)
    tokens = torch.randint(0, 400, (2, 16))
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode_text(tokens), model.encode_text(tokens))
        images = torch.randn(2, 3, 32, 32)
        tower = CLIPTower(ARCH, checkpoint=path).eval()
        torch.testing.assert_close(tower.encode_image(images), model.encode_image(images))


def test_unexpected_keys_other_than_openais_metadata_still_fail(tmp_path):
    state = openai_style_model().state_dict()
    state['visual.extra'] = torch.zeros(1)
    torch.save(state, tmp_path / 'clip.pt')
    with pytest.raises(CheckpointMismatchError, match=r'unexpected keys: visual\.extra\s'):
        build_clip_model(ARCH, str(tmp_path / 'clip.pt'))


def openai_weight_architectures() -> set:
    """The open_clip architectures the shipped configs load OpenAI's released files into."""
    archs = set()
    paths = glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    for path in paths:
        text = open(path).read()
        if not any(name in text for name in OPENAI_FILES) or '_base_/' in path:
            continue

        def walk(node):
            if isinstance(node, dict):
                checkpoint = node.get('checkpoint')
                if isinstance(checkpoint, str) and osp.basename(checkpoint) in OPENAI_FILES and 'arch' in node:
                    archs.add(node['arch'])
                for value in node.values():
                    walk(value)
            elif isinstance(node, (list, tuple)):
                for value in node:
                    walk(value)
        walk(Config.fromfile(path).to_dict())
    return archs


def test_every_openai_weight_config_names_an_architecture_checked_here():
    archs = openai_weight_architectures()
    assert archs == {'ViT-B-16-quickgelu'}  # add a new one to the parametrisation below


@pytest.mark.parametrize('arch', ['ViT-B-16-quickgelu'])
def test_openai_state_dict_fits_the_real_architecture(arch):
    """OpenAI's keys are open_clip's ``CLIP`` keys plus the metadata scalars: the real-size architecture, built
    on the meta device (no memory, no time), takes them with the metadata dropped, and not without."""
    model = open_clip.create_model(arch, device='meta')
    name = {'ViT-B-16-quickgelu': 'ViT-B-16.pt'}[arch]
    state = dict(model.state_dict(), input_resolution=torch.tensor(224), context_length=torch.tensor(77),
                 vocab_size=torch.tensor(49408))
    assert set(OPENAI_METADATA_KEYS) <= set(state) and not any(k in model.state_dict() for k in OPENAI_METADATA_KEYS)
    load_strict(model, remap_state_dict(state, model), name, arch)
    with pytest.raises(CheckpointMismatchError, match=re.escape('unexpected keys: input_resolution')):
        load_strict(model, state, name, arch)
