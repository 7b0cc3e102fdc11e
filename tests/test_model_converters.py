"""Model converters: export of a distilled tower to open_clip, weight-space ensemble, errors."""
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import open_clip
import pytest
import torch
from mmengine.runner import save_checkpoint

from mmdistill.clip import CheckpointMismatchError, CLIPTower, build_clip_model, build_tokenizer
from mmdistill.clip.ensemble import ensemble_checkpoints, ensemble_state_dicts
from mmdistill.clip.export import export_open_clip

VIT, EVA = 'mmdistill-tiny-ViT-P8', 'mmdistill-tiny-EVA-P8'
TOOLS = Path(__file__).parents[1] / 'tools' / 'model_converters'
CAPTIONS = ['a red square', 'a blue circle on grass']


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f'tool_{name}', TOOLS / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(path: str) -> dict:
    return torch.load(path, map_location='cpu', weights_only=True)


@pytest.fixture(scope='module', params=[VIT, EVA])
def world(request, tmp_path_factory):
    """An "original" CLIP (open_clip file) and a distiller checkpoint whose student blocks moved."""
    arch = request.param
    root = tmp_path_factory.mktemp(arch)
    torch.manual_seed(0)
    clip = build_clip_model(arch).eval()
    with torch.no_grad():  # no parameter left at a trivial init (e.g. EVA layer scales, zero biases)
        for p in clip.parameters():
            p.add_(0.02 * torch.randn_like(p))
    original = str(root / 'original.pt')
    torch.save(clip.state_dict(), original)
    student = CLIPTower(arch, checkpoint=original).eval()
    with torch.no_grad():
        for p in student.adapter.blocks.parameters():
            p.add_(0.05 * torch.randn_like(p))
    state = {f'student.{k}': v for k, v in student.state_dict().items()}
    state.update({f'teacher.{k}': v for k, v in clip.visual.state_dict().items()})
    distilled = str(root / 'iter_10.pth')
    save_checkpoint({'state_dict': state, 'meta': {'iter': 10}}, distilled)
    return SimpleNamespace(arch=arch, root=root, clip=clip, original=original, student=student,
                           distilled=distilled, images=torch.randn(2, 3, 32, 32))


@torch.no_grad()
def test_export_round_trip(world, tmp_path):
    out = load_tool('export_open_clip').main([world.distilled, '--arch', world.arch, '--original', world.original,
                                              '--out', str(tmp_path / 'export.pt')])
    expected = world.student.encode_image(world.images)
    text = build_tokenizer(world.arch)(CAPTIONS)

    plain = open_clip.create_model(world.arch, pretrained=out).eval()  # open_clip's own strict loader
    torch.testing.assert_close(plain.encode_image(world.images), world.student.visual(world.images))
    torch.testing.assert_close(plain.encode_text(text), world.clip.encode_text(text))
    assert torch.equal(plain.logit_scale, world.clip.logit_scale)

    tower = CLIPTower(world.arch, checkpoint=out).eval()
    torch.testing.assert_close(tower.encode_image(world.images), expected)
    assert not torch.allclose(expected, CLIPTower(world.arch, checkpoint=world.original).encode_image(world.images))

    # The export (an open_clip file, no prefix) is a valid ensemble student too.
    mixed = load(ensemble_checkpoints(out, world.original, world.arch, str(tmp_path / 'e.pt'), 1.0, student_prefix=''))
    assert all(torch.equal(mixed[k], v) for k, v in world.student.clip_state_dict().items())


def test_export_needs_original_for_a_tower_alone(world, tmp_path):
    with pytest.raises(ValueError, match='original'):
        export_open_clip(world.distilled, world.arch, str(tmp_path / 'x.pt'))
    # A whole model under the prefix (CLIPPretrainer's `clip.`) needs no original.
    whole = str(tmp_path / 'pretrainer.pth')
    save_checkpoint({'state_dict': {f'clip.{k}': v for k, v in world.clip.state_dict().items()}}, whole)
    out = export_open_clip(whole, world.arch, str(tmp_path / 'whole.pt'), prefix='clip.')
    exported, own = load(out), world.clip.state_dict()
    assert exported.keys() == own.keys() and all(torch.equal(exported[k], v) for k, v in own.items())


def test_ensemble(world, tmp_path):
    outs = {alpha: ensemble_checkpoints(world.distilled, world.original, world.arch,
                                        str(tmp_path / f'ensemble_{alpha}.pt'), alpha) for alpha in (0.0, 1.0)}
    outs[0.7] = load_tool('ensemble').main([world.distilled, world.original, '--arch', world.arch, '--alpha', '0.7',
                                            '--student-prefix', 'student.', '--out', str(tmp_path / 'e07.pt')])
    mixed = {alpha: load(path) for alpha, path in outs.items()}
    teacher, student = world.clip.state_dict(), world.student.clip_state_dict()
    assert all(m.keys() == teacher.keys() for m in mixed.values())
    for key, t in teacher.items():
        assert torch.equal(mixed[0.0][key], t), key
        assert torch.equal(mixed[1.0][key], student.get(key, t)), key
    frozen = world.student.frozen_parameter_names()  # visual.* names
    outside = [k for k in teacher if not k.startswith('visual.')]  # text tower, logit_scale
    assert frozen and outside
    for key in frozen + outside:
        assert torch.equal(mixed[0.7][key], teacher[key]), key
    key = next(k for k in student if 'blocks.0.' in k and k.endswith('weight') and student[k].ndim == 2)
    assert not torch.equal(student[key], teacher[key])
    torch.testing.assert_close(mixed[0.7][key], 0.7 * student[key] + 0.3 * teacher[key])
    with torch.no_grad():  # loadable by plain open_clip
        assert open_clip.create_model(world.arch, pretrained=outs[0.7]).encode_image(world.images).shape == (2, 32)


@pytest.mark.parametrize('world', [VIT], indirect=True)
def test_errors(world, tmp_path):
    out = str(tmp_path / 'out.pt')
    for alpha in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r'alpha must be in \[0, 1\]'):
            ensemble_checkpoints(world.distilled, world.original, world.arch, out, alpha)
    with pytest.raises(KeyError, match=r"prefix 'model\.'.*'student\.', 'teacher\.'"):
        export_open_clip(world.distilled, world.arch, out, original=world.original, prefix='model.')

    state = torch.load(world.distilled, weights_only=False)['state_dict']
    del state['student.visual.ln_post.weight']
    state['student.visual.proj'] = torch.zeros(3, 3)
    state['student.visual.extra.weight'] = torch.zeros(1)
    broken = str(tmp_path / 'broken.pth')
    save_checkpoint({'state_dict': state}, broken)
    for convert in (lambda: ensemble_checkpoints(broken, world.original, world.arch, out, 0.7),
                    lambda: export_open_clip(broken, world.arch, out, original=world.original)):
        with pytest.raises(CheckpointMismatchError) as err:
            convert()
        message = str(err.value)
        assert 'broken.pth' in message and 'missing keys: visual.ln_post.weight' in message
        assert 'unexpected keys: visual.extra.weight' in message and 'visual.proj: (3, 3) vs expected' in message
    teacher = world.clip.state_dict()
    with pytest.raises(CheckpointMismatchError, match='missing keys: logit_scale'):
        ensemble_state_dicts({k: v for k, v in teacher.items() if k != 'logit_scale'}, teacher, 0.5)
    with pytest.raises(FileNotFoundError):
        export_open_clip(str(tmp_path / 'nowhere.pth'), world.arch, out, original=world.original)
