"""Learning effects on the synthetic world (slow: shares the quickstart's cached world and tiny CLIP).

Run with `bash tools/run_tests.sh -m slow`. The first run builds what the quickstart builds
(about 10 min on 2 cores); later runs reuse it.
"""
import pytest
import torch

import mmdistill  # noqa: F401
from mmdistill.apis.quickstart import QuickstartPaths, distilled, ensure_world, evaluate_tower, pretrained_tiny_clip
from mmdistill.clip.builder import read_checkpoint

pytestmark = pytest.mark.slow
FROZEN_KEYS = ('visual.conv1.weight', 'visual.class_embedding', 'visual.positional_embedding', 'visual.proj',
               'visual.ln_post.weight', 'visual.ln_pre.weight')


@pytest.fixture(scope='module')
def paths():
    paths = QuickstartPaths()
    ensure_world(paths, seed=0, force=False)
    pretrained_tiny_clip(paths, seed=0, force=False)
    return paths


def test_tiny_clip_recognises_single_object_crops(paths):
    metrics = evaluate_tower(paths, 'tiny_clip', paths.tiny_clip, force=False)['metrics']
    print('tiny CLIP:', {k: round(v, 1) for k, v in metrics.items()})
    # chance is 1/24; the target is 60 %, the shipped recipe measured 63.2 % (docs/benchmarks.md);
    # the bound leaves room for the seed-to-seed spread (about 1.5 points) and bfloat16 vs float32
    assert metrics['crops/thing_top1'] >= 58.0
    # the problem the distillation solves: dense readouts far below the crop baseline
    assert metrics['boxes/thing_top1'] < metrics['crops/thing_top1'] - 15


def test_clipself_lifts_region_accuracy_and_keeps_frozen_parts(paths):
    base = evaluate_tower(paths, 'tiny_clip', paths.tiny_clip, force=False)['metrics']
    student = distilled('configs/clipself/clipself_patches_synthetic.py')(paths, 0, False)
    after = evaluate_tower(paths, 'clipself_patches_synthetic_seed0', student, force=False)['metrics']
    print('crop accuracy before / after CLIPSelf:', round(base['crops/thing_top1'], 1),
          round(after['crops/thing_top1'], 1))
    assert after['boxes/thing_top1'] >= base['boxes/thing_top1'] + 10.0
    assert after['masks/thing_top1'] >= base['masks/thing_top1'] + 10.0
    original, trained = read_checkpoint(paths.tiny_clip), read_checkpoint(student)
    for key in FROZEN_KEYS:
        assert torch.equal(original[key], trained[key]), key
    assert not torch.equal(original['visual.transformer.resblocks.0.mlp.c_fc.weight'],
                           trained['visual.transformer.resblocks.0.mlp.c_fc.weight'])
    # the text tower is the original's
    assert torch.equal(original['token_embedding.weight'], trained['token_embedding.weight'])
