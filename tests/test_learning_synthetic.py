"""Learning effects on the synthetic world (slow: shares the quickstart's cached world, tiny CLIP and towers).

Run with `bash tools/run_tests.sh -m slow`. The first run builds what the quickstart builds
(about 20 min on 2 cores); later runs reuse it.
"""
import pytest
import torch
from train_helpers import main_job_metrics

import mmdistill  # noqa: F401
from mmdistill.apis.quickstart import load_main_job
from mmdistill.apis.runs import QuickstartPaths, tower_checkpoint
from mmdistill.clip.builder import read_checkpoint

pytestmark = pytest.mark.slow
# measured 12.1 points at 400 iterations (4.2 -> 16.3 novel AP50, 2 seeds, spread about 1; docs/benchmarks.md)
# and 11.7 at the main job's 250 (3.0 -> 14.7, seed 0, AMD EPYC): about half of it
MARGIN_NOVEL_AP50 = 0.06
FROZEN_KEYS = ('visual.conv1.weight', 'visual.class_embedding', 'visual.positional_embedding', 'visual.proj',
               'visual.ln_post.weight', 'visual.ln_pre.weight')


@pytest.fixture(scope='module')
def job():
    """The main job's run folder and towers (main_job_metrics builds what is missing)."""
    return QuickstartPaths(), load_main_job()[0]


def test_tiny_clip_recognises_single_object_crops(job):
    metrics = main_job_metrics('dense_zero_shot', 'tiny_clip')
    print('tiny CLIP:', {k: round(v, 1) for k, v in metrics.items()})
    # chance is 1/24; the target is 60 %, the shipped recipe measured 63.2 % (docs/benchmarks.md);
    # the bound leaves room for the seed-to-seed spread (about 1.5 points) and bfloat16 vs float32
    assert metrics['dense_zs/crops/thing_top1'] >= 58.0
    # the problem the distillation solves: dense readouts far below the crop baseline
    assert metrics['dense_zs/boxes/thing_top1'] < metrics['dense_zs/crops/thing_top1'] - 15


def test_clipself_lifts_region_accuracy_and_keeps_frozen_parts(job):
    paths, towers = job
    base = main_job_metrics('dense_zero_shot', 'tiny_clip')
    after = main_job_metrics('dense_zero_shot', 'clipself')
    print('crop accuracy before / after CLIPSelf:', round(base['dense_zs/crops/thing_top1'], 1),
          round(after['dense_zs/crops/thing_top1'], 1))
    assert after['dense_zs/boxes/thing_top1'] >= base['dense_zs/boxes/thing_top1'] + 10.0
    assert after['dense_zs/masks/thing_top1'] >= base['dense_zs/masks/thing_top1'] + 10.0
    student = tower_checkpoint(towers['clipself'], paths, 0, False)
    original, trained = read_checkpoint(paths.tiny_clip), read_checkpoint(student)
    for key in FROZEN_KEYS:
        assert torch.equal(original[key], trained[key]), key
    assert not torch.equal(original['visual.transformer.resblocks.0.mlp.c_fc.weight'],
                           trained['visual.transformer.resblocks.0.mlp.c_fc.weight'])
    # the text tower is the original's
    assert torch.equal(original['token_embedding.weight'], trained['token_embedding.weight'])


def test_fvit_on_a_clipself_tower_detects_novel_things_better(job):
    base = main_job_metrics('detection', 'tiny_clip')
    student = main_job_metrics('detection', 'clipself')
    print('F-ViT AP50 novel / base, tiny CLIP:', base['coco/novel_ap50'], base['coco/base_ap50'],
          'CLIPSelf:', student['coco/novel_ap50'], student['coco/base_ap50'])
    assert base['coco/base_ap50'] >= 0.10  # it learns the base things on either tower (measured 14-18 %)
    assert student['coco/novel_ap50'] >= base['coco/novel_ap50'] + MARGIN_NOVEL_AP50
