"""Learning effects of ATAS and SILC on the synthetic world (slow: shares the quickstart's cached world,
tiny CLIP and towers; each 200-step run takes 1-3 min on 2 quiet cores).

Run with `bash tools/run_tests.sh -m slow`. Measured with seed 0 (docs/benchmarks.md, "ATAS and SILC"):
tiny CLIP thing boxes / crops 4.6 / 61.4 %; ATAS 27.2 / 62.0 %; SILC fine-tuning 4.1 / 61.3 %.
SILC's dense gain shows only from scratch, after its 800 x 128 steps (thing boxes 11.7 / 22.3 % for seeds
0 / 1 against 4.6 / 5.3 % for the tiny CLIP's; about 40 min per run): beyond this suite's budget, measured
in docs/benchmarks.md instead. No shorter run gives a lift a test could assert without luck: 200 steps from
scratch (thing boxes 3.0 / 6.9 %), 800 steps at batch 32 (7.6 against the tiny CLIP's 6.5 %), 1 000
fine-tuning steps (4.3 %); and the world's stuff accuracy of a from-scratch tower is bimodal with the seed.
"""
import pytest

import mmdistill  # noqa: F401
from mmdistill.apis.quickstart import (
    QuickstartPaths,
    Row,
    ensure_world,
    evaluate,
    load_main_job,
    pretrained_tiny_clip,
    tower_checkpoint,
)

pytestmark = pytest.mark.slow
BOXES, CROPS = 'dense_zs/boxes/thing_top1', 'dense_zs/crops/thing_top1'
MARGIN_ATAS = 10.0  # about half the measured gain in thing-box top-1 (22.6 points)
CROP_LOSS = 3.0  # at most this many points of the base tower's crop accuracy may be lost (CLIPSelf loses 18)


def metrics(config: str = '') -> dict:
    """Dense zero-shot metrics of the tiny CLIP, or of the tower ``config`` distils from it (seed 0)."""
    paths = QuickstartPaths()
    ensure_world(paths, seed=0, force=False)
    pretrained_tiny_clip(paths, seed=0, force=False)
    section = [s for s in load_main_job()[1] if s.name == 'dense_zero_shot'][0]
    tower = tower_checkpoint(dict(config=config), paths, 0, False) if config else paths.tiny_clip
    return evaluate(section, Row(config or 'tiny CLIP', config or 'tiny_clip'), tower, None, paths, False)['metrics']


def test_a_short_atas_run_lifts_boxes_and_keeps_crop_accuracy():
    base, atas = metrics(), metrics('configs/atas/atas_synthetic.py')
    print(f'thing boxes {base[BOXES]:.1f} -> {atas[BOXES]:.1f}, crops {base[CROPS]:.1f} -> {atas[CROPS]:.1f}')
    assert atas[BOXES] >= base[BOXES] + MARGIN_ATAS
    assert atas[CROPS] >= base[CROPS] - CROP_LOSS


def test_a_short_silc_fine_tuning_keeps_crop_accuracy():
    """SILC's dense gain does not show in 200 fine-tuning steps on the world (measured: boxes 4.6 -> 4.1 %);
    what holds is that image-level accuracy is kept."""
    base, silc = metrics(), metrics('configs/silc/silc_finetune_synthetic.py')
    print(f'thing boxes {base[BOXES]:.1f} -> {silc[BOXES]:.1f}, crops {base[CROPS]:.1f} -> {silc[CROPS]:.1f}')
    assert silc[CROPS] >= base[CROPS] - CROP_LOSS
    assert silc[BOXES] >= base[BOXES] - 2.0
